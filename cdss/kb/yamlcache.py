"""A cache of what reading a rule file gives (its data and the line of every place in it), as JSON.

Reading the YAML of the shipped rule base was most of a cold `cdss evaluate` (~0.2 s of CPU for ~0.3 s of
loading). The data of a YAML file that `read_yaml` accepted is plain (strings, numbers, booleans, null,
lists and mappings), so it is kept as JSON, beside the line numbers that errors and traces cite, in the
folder the loader already keeps its validation markers in (CDSS_CACHE, `off` for none).

Why it is safe:
- An entry is named by the sha256 of the file's bytes, and by what decides how bytes become data: the cdss
  version, the source of the YAML reader (cdss/kb/yamlfile.py, yamlparse.py) and of this module, and
  PyYAML's (its package's `__init__.py`, which names its version, read without importing PyYAML: a warm
  load never imports it).
  An edited file, another cdss or another reader never finds a stale entry. The entry repeats the file's
  hash inside, so a renamed or swapped entry is not used either.
- Nothing in it is executed: it is read as JSON (`_json_loads`) and checked to have the expected shape; an
  entry that does not read or does not fit is ignored (the file is read from YAML and the entry written again).
- Only a folder that is the user's own and that no one else may write to is used (as ssh does with its
  keys), and only entries the user owns: someone else cannot slip data in that a rule file never held.
- Everything after reading (the parser, the field and code checks, references) runs on the cached data as
  on freshly read data; only data that JSON gives back exactly (mappings with text keys) is cached.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import tempfile
from importlib.util import find_spec
from pathlib import Path

FORMAT = 1


def _json_loads(raw: bytes):
    """An entry's JSON: orjson's reading (json.loads was ~3 % of a cold `cdss evaluate`), else json's for
    what orjson refuses and json reads (a whole number beyond 64 bits). The same data either way."""
    import orjson  # the output's encoder: loaded by every command that loads rules

    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


class Lines:
    """The line of a place in a rule file and of the places under it: what `line_at` needs of the YAML
    node tree, without the tree. Kept as the cache holds it, and walked only when a line is asked for
    (building a tree of objects from it was ~5 % of a cold `cdss evaluate`, for lines that only an error
    cites): `tree` is `line` for a scalar, `[line, {key: tree}]` for a mapping (its keys as written) and
    `[line, [tree, ...]]` for a sequence."""

    __slots__ = ("tree",)

    def __init__(self, tree):
        self.tree = tree


def _shell(tree) -> bool:
    """Whether `tree` is a line tree's node: an int, or [int, dict or list]."""
    kind = type(tree)
    return kind is int or (kind is list and len(tree) == 2 and type(tree[0]) is int
                           and type(tree[1]) in (dict, list))


def _line(tree) -> int:
    """The line of a line tree's node (see `_shell`)."""
    return tree if type(tree) is int else tree[0]


def lines_of(node) -> Lines:
    """The Lines of a node tree that `read_yaml` accepted (no aliases, scalar keys)."""
    import yaml  # a node tree exists: PyYAML is loaded already

    def shell(item):
        line = item.start_mark.line + 1
        if isinstance(item, yaml.MappingNode):
            return [line, {}]
        if isinstance(item, yaml.SequenceNode):
            return [line, []]
        return line

    top = shell(node)
    stack = [(node, top)]
    while stack:  # no recursion: a deep file cannot exhaust the stack
        item, made = stack.pop()
        if isinstance(item, yaml.MappingNode):
            for key, value in item.value:
                child = made[1][key.value] = shell(value)
                stack.append((value, child))
        elif isinstance(item, yaml.SequenceNode):
            for value in item.value:
                child = shell(value)
                made[1].append(child)
                stack.append((value, child))
    return Lines(top)


def line_in_tree(lines: Lines, parts: list) -> int | None:
    """The line of the deepest place along `parts` that the tree holds: the walk `line_at` makes over a YAML
    node tree, with the same answers (tests/test_yaml_cache.py). A node of another shape (a damaged entry
    in the user's own cache) ends the walk there: a line, never an exception."""
    tree = lines.tree
    if not _shell(tree):
        return None
    line = _line(tree)
    for part in parts:
        if type(tree) is int:
            break
        children = tree[1]
        if type(children) is dict:
            nxt = children.get(part) if isinstance(part, str) else None
        elif isinstance(part, int) and part < len(children):
            nxt = children[part]
        else:
            nxt = None
        if nxt is None or not _shell(nxt):
            break
        tree = nxt
        line = _line(tree)
    return line


def _plain(data) -> bool:
    """Whether JSON gives `data` back exactly: mappings with text keys, and plain values."""
    stack = [data]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            if not all(type(key) is str for key in item):
                return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind not in (str, int, float, bool, type(None)):
            return False
    return True


@functools.cache
def _reader_digest() -> str:
    """What decides how bytes become data: cdss's version, the YAML reader's and this module's source,
    PyYAML's (its `__init__.py` names its version) and this cache's format. OSError when a source cannot
    be read (then there is no cache)."""
    from cdss import __version__
    from cdss.kb import yamlfile

    pyyaml = find_spec("yaml")
    if pyyaml is None or not pyyaml.origin:
        raise OSError("PyYAML's source cannot be found")
    digest = hashlib.sha256(f"{FORMAT}\0{__version__}\0".encode())
    for module in (yamlfile.__file__, str(Path(yamlfile.__file__).with_name("yamlparse.py")), __file__,
                   pyyaml.origin):
        digest.update(Path(module).read_bytes() + b"\0")
    return digest.hexdigest()


def _private(path: Path, directory: bool) -> bool:
    """The user's own, and writable by no one else (a folder or a regular file, not a symlink)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    kind_ok = stat.S_ISDIR(info.st_mode) if directory else stat.S_ISREG(info.st_mode)
    owner_ok = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return kind_ok and owner_ok and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class Cache:
    """The entries of one cache folder (None-safe: every failure means "not cached")."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _entry(self, file_sha: str) -> Path:
        return self.folder / f"yaml-{file_sha[:40]}-{_reader_digest()[:24]}.json"

    def get(self, raw: bytes):
        """(data, Lines) of a file's bytes, or None when there is no usable entry."""
        file_sha = hashlib.sha256(raw).hexdigest()
        try:
            path = self._entry(file_sha)  # OSError: the reader's source cannot be read (no cache, then)
            if not _private(self.folder, True) or not _private(path, False):
                return None
            entry = _json_loads(path.read_bytes())
            if (type(entry) is not dict or entry.get("format") != FORMAT or entry.get("sha256") != file_sha
                    or entry.get("reader") != _reader_digest() or "data" not in entry):
                return None
            if not _shell(entry["lines"]):
                return None
            return entry["data"], Lines(entry["lines"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None

    def put(self, raw: bytes, data, node) -> None:
        """Keep a file's data and lines; quietly nothing when the data is not plain or the folder cannot
        be written (the next load reads the YAML again)."""
        if not _plain(data):
            return
        file_sha = hashlib.sha256(raw).hexdigest()
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not _private(self.folder, True):
                return
            body = json.dumps({"format": FORMAT, "sha256": file_sha, "reader": _reader_digest(), "data": data,
                               "lines": lines_of(node).tree}, ensure_ascii=False, allow_nan=False)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".yaml-", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(body)
                os.replace(temporary, self._entry(file_sha))  # whole or not at all, for a reader at the same time
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except (OSError, ValueError, RecursionError):
            return

    # -- data read by another reader (the contract vocabulary, read with PyYAML's safe loader) ----------

    def get_data(self, raw: bytes, reader: Path):
        """The data `reader` (the source file of the code that reads these bytes) made of a file's bytes, or
        None when there is no usable entry. Named and checked as the entries above, the reader's source
        included, so that a changed file or reader never finds a stale entry."""
        file_sha = hashlib.sha256(raw).hexdigest()
        try:
            key = _data_reader(reader)
            path = self.folder / f"data-{file_sha[:40]}-{key[:24]}.json"
            if not _private(self.folder, True) or not _private(path, False):
                return None
            entry = _json_loads(path.read_bytes())
            if (type(entry) is not dict or entry.get("format") != FORMAT or entry.get("sha256") != file_sha
                    or entry.get("reader") != key or "data" not in entry):
                return None
            return entry["data"]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None

    def put_data(self, raw: bytes, reader: Path, data) -> None:
        """Keep what `reader` made of a file's bytes; quietly nothing when it is not plain data or the folder
        cannot be written."""
        if not _plain(data):
            return
        file_sha = hashlib.sha256(raw).hexdigest()
        try:
            key = _data_reader(reader)
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not _private(self.folder, True):
                return
            body = json.dumps({"format": FORMAT, "sha256": file_sha, "reader": key, "data": data},
                              ensure_ascii=False, allow_nan=False)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".data-", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(body)
                os.replace(temporary, self.folder / f"data-{file_sha[:40]}-{key[:24]}.json")
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except (OSError, ValueError, RecursionError):
            return


@functools.cache
def _data_reader(reader: Path) -> str:
    """The name of another reader's entries: this cache's own (cdss, PyYAML, format) and the reader's source."""
    return hashlib.sha256(_reader_digest().encode() + b"\0" + Path(reader).read_bytes()).hexdigest()


def default_folder() -> Path | None:
    """Where cdss keeps what spares work on the next run: CDSS_CACHE, else the user's cache folder; None for
    CDSS_CACHE=off."""
    where = os.environ.get("CDSS_CACHE", "")
    if where == "off":
        return None
    return Path(where) if where else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cdss"
