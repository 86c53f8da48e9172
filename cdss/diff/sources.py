"""Where the two rule-base versions of `cdss diff` come from: a folder, or a git revision of the rules folder.

`--base HEAD~1` means "the rules folder as it was in HEAD~1": the folder's path inside its git
repository is taken from the working-tree rules folder (the `--rules` folder when it is one, else the
default), and its files at that revision are written to a private temporary folder, which is removed
when the diff ends. Nothing from the revision is run: the files are read by the same strict loader as
any rule folder. A revision is given to git as data (never as an option), and git runs without a shell.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from attrs import frozen

from cdss.errors import CdssError

GIT_TIMEOUT = 60


class SourceError(CdssError):
    """A --base or --rules that is neither a rule folder nor a git revision of one."""


@frozen
class RuleSource:
    """A rule-base version: the folder to load, how to name it, and a temporary folder to remove (if any)."""

    folder: Path
    label: str
    revision: str | None = None  # the commit id, for a git revision
    temporary: bool = False

    def cleanup(self) -> None:
        if self.temporary:
            shutil.rmtree(self.folder, ignore_errors=True)

    def to_dict(self) -> dict:
        return {"source": self.label, "revision": self.revision}


def _git(repo: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=GIT_TIMEOUT,
                              check=False)
    except FileNotFoundError:
        raise SourceError("git is not installed, so a revision cannot be read") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"git {args[0]} took longer than {GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        raise SourceError(done.stderr.decode("utf-8", "replace").strip().splitlines()[-1] if done.stderr
                          else f"git {args[0]} failed")
    return done.stdout


def _repository(folder: Path) -> tuple[Path, str]:
    """The git work tree that holds `folder`, and the folder's path inside it (posix, '' for the root)."""
    probe = folder if folder.is_dir() else folder.parent
    try:
        root = Path(_git(probe, "rev-parse", "--show-toplevel").decode().strip())
    except SourceError:
        raise SourceError(f"{folder} is not inside a git repository, so a revision of it cannot be read") from None
    relative = folder.resolve().relative_to(root.resolve()).as_posix()
    return root, "" if relative == "." else relative


def resolve(spec: str, rules_folder: Path, option: str) -> RuleSource:
    """A folder (if `spec` is one) or the rules folder at git revision `spec`."""
    path = Path(spec)
    if path.is_dir():
        return RuleSource(path, str(path))
    if not spec or spec.startswith("-") or any(ch in spec for ch in "\0\n\r"):
        raise SourceError(f"{option} {spec!r}: neither a rule folder nor a git revision")
    root, relative = _repository(rules_folder)
    try:
        commit = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec}^{{commit}}").decode().strip()
    except SourceError:
        raise SourceError(f"{option} {spec}: neither a rule folder nor a git revision of {root}") from None
    listing = _git(root, "ls-tree", "-z", "--full-tree", commit, "--", f"{relative}/" if relative else ".")
    names = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        kind = meta.split()[1]
        base = name.decode("utf-8", "replace").rsplit("/", 1)[-1]
        if kind == b"blob" and base.endswith((".yaml", ".yml")):
            names.append((name.decode("utf-8", "surrogateescape"), base))
    if not names:
        raise SourceError(f"{option} {spec}: the revision has no rule files under {relative or '.'}/ "
                          f"in {root}")
    folder = Path(tempfile.mkdtemp(prefix="cdss-diff-"))
    try:
        for name, base in names:
            (folder / base).write_bytes(_git(root, "cat-file", "blob", f"{commit}:{name}"))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    short = commit[:12]
    return RuleSource(folder, f"{relative or '.'}@{spec} ({short})", commit, temporary=True)
