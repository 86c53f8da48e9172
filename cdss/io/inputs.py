"""Where cases come from: case files, folders of them, JSONL files, pipes and standard input.

The one module that finds and streams cases, for `batch`, `validate`, `audit coverage` and the audit's
reading of `expected` blocks. Inputs stream one item per case in a fixed order (paths as given; folders
recursively, sorted by path components, symlinked folders not followed), so that output order, `--resume`
and memory use never depend on how many cases there are. A JSONL line over the size limit is refused from
its length alone, without being parsed or held whole.

Nothing is skipped in silence: a file or folder that cannot be read, a broken symlink or a fifo found in a
folder becomes an item with a `problem`, which its consumer reports as that input's error. A fifo, a
device or standard input named on the command line is read once, as a stream (it cannot be counted).
"""

from __future__ import annotations

import itertools
import operator
import os
import stat
import sys
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import attrs
from attrs import frozen

from cdss.io.cases import MAX_CASE_BYTES

SUFFIXES = (".json", ".jsonl")
READ_BLOCK = 1 << 20
# A stream (a pipe, a device) with no line end within this many bytes is no JSONL: the rest of it is
# skipped with one error, so that /dev/zero cannot keep a run busy for ever. A regular file ends.
MAX_STREAM_GARBAGE = 64 * MAX_CASE_BYTES
STDIN = "-"
STDIN_NAME = "<stdin>"


@frozen
class Item:
    """One input case, still as bytes: `source` is the file, `line` its line for JSONL (else None)."""

    source: str
    line: int | None
    raw: bytes | None  # None when the input cannot be used as read (see `problem`)
    size: int = 0
    problem: str | None = None  # why not: over the size limit, unreadable, not a regular file
    folder: str = ""  # the folder it was found in, relative to the path given (reports group by it)

    def __reduce__(self):
        # Pickled as its fields in order (each item crosses a pipe to a worker): attrs' state methods run in
        # Python (1.1 -> 0.4 us an item to pickle, 1.1 -> 0.5 us to unpickle).
        return Item, _item_fields(self)

    @property
    def where(self) -> str:
        """`file` or `file.jsonl:line`: how errors name the input."""
        return self.source if self.line is None else f"{self.source}:{self.line}"


_item_fields = operator.attrgetter(*(field.name for field in attrs.fields(Item)))


@frozen
class Source:
    """One input to read: a case file, a JSONL file, a stream, or something found that cannot be read."""

    path: str  # "-" for standard input
    folder: str
    kind: str  # "json" | "jsonl" | "stream" (JSONL read once: stdin, a fifo, a device) | "problem"
    problem: str | None = None

    @property
    def name(self) -> str:
        return STDIN_NAME if self.path == STDIN else self.path


class InputError(Exception):
    """An input that must not be read at all (it is this run's own output)."""


def find(paths: Iterable[str], exclude: Iterable[str | Path] = ()) -> list[Source]:
    """Every input in order. Folders are searched recursively for *.json and *.jsonl. `exclude` names
    files this run writes (its output, summary, report): such a file is never read as an input; naming
    one as an input is an InputError."""
    excluded = identities(exclude)
    out: list[Source] = []
    for given in paths:
        if given == STDIN:
            out.append(Source(STDIN, STDIN_NAME, "stream"))
            continue
        path = Path(given)
        try:
            info = path.stat()
        except OSError as error:
            out.append(Source(given, path.parent.name or ".", "problem", _cannot_read(error)))
            continue
        if stat.S_ISDIR(info.st_mode):
            out += _walk(path, excluded)
            continue
        if (info.st_dev, info.st_ino) in excluded:
            raise InputError(f"{given}: is also this run's output; an output is never read as an input")
        folder = path.parent.name or "."
        if stat.S_ISREG(info.st_mode):
            out.append(Source(given, folder, "jsonl" if given.endswith(".jsonl") else "json"))
        else:
            out.append(Source(given, folder, "stream"))
    return out


def identities(paths: Iterable[str | Path]) -> set[tuple[int, int]]:
    """(device, inode) of each path that exists: how an input is recognised as the run's own output."""
    found = set()
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        found.add((info.st_dev, info.st_ino))
    return found


def _walk(root: Path, excluded: set) -> list[Source]:
    """The case files under a folder, sorted by path components as `Path.rglob` sorts them, with what
    cannot be read (a subfolder, a broken symlink, a fifo) as problems in their place."""
    found: list[tuple[tuple, Source]] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError as error:
            if folder == root:
                return [Source(str(root), root.name, "problem", _cannot_read(error, "folder"))]
            found.append((folder.parts, Source(str(folder), _label(root, folder), "problem",
                                               _cannot_read(error, "folder"))))
            continue
        for entry in listed:
            path = folder / entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                    continue
            except OSError:
                pass
            if path.suffix not in SUFFIXES:
                continue
            label = _label(root, folder)
            try:
                info = os.stat(path)
            except OSError as error:
                found.append((path.parts, Source(str(path), label, "problem", _cannot_read(error))))
                continue
            if stat.S_ISDIR(info.st_mode):  # a symlink to a folder: not followed
                continue
            if (info.st_dev, info.st_ino) in excluded:
                continue
            if not stat.S_ISREG(info.st_mode):
                found.append((path.parts, Source(str(path), label, "problem",
                                                 "not a regular file (a fifo or a device); name it on the command "
                                                 "line to read it once")))
                continue
            found.append((path.parts, Source(str(path), label, "jsonl" if path.suffix == ".jsonl" else "json")))
    found.sort(key=lambda pair: pair[0])
    return [source for _, source in found]


def _label(root: Path, folder: Path) -> str:
    rel = folder.relative_to(root)
    return str(rel) if str(rel) != "." else root.name


def _cannot_read(error: OSError, what: str = "") -> str:
    return f"cannot read{' the ' + what if what else ''}: {error.strerror or error}"


def stream(sources: Iterable[Source]) -> Iterator[Item]:
    """Every input case in order, one Item each; an input that cannot be read is one Item with its problem."""
    for source in sources:
        if source.kind == "problem":
            yield Item(source.name, None, None, 0, source.problem, source.folder)
        elif source.kind == "json":
            yield _case_file(source)
        elif source.path == STDIN:
            handle = sys.stdin.buffer if sys.stdin is not None else None
            if handle is None:
                yield Item(STDIN_NAME, None, None, 0, "cannot read: standard input is closed", source.folder)
                continue
            yield from lines(handle, source.name, source.folder, regular=False)
        else:
            try:
                with open(source.path, "rb") as handle:
                    yield from lines(handle, source.name, source.folder, regular=source.kind == "jsonl")
            except OSError as error:
                yield Item(source.path, None, None, 0, _cannot_read(error), source.folder)


def items(paths: Iterable[str], exclude: Iterable[str | Path] = ()) -> Iterator[Item]:
    """Every input case under the paths, in order (see `find` and `stream`)."""
    return stream(find(paths, exclude))


def _case_file(source: Source) -> Item:
    try:
        size = os.stat(source.path).st_size
        if size > MAX_CASE_BYTES:
            return Item(source.path, None, None, size, too_big(size), source.folder)
        with open(source.path, "rb") as handle:
            raw = handle.read(MAX_CASE_BYTES + 1)
    except OSError as error:
        return Item(source.path, None, None, 0, _cannot_read(error), source.folder)
    if len(raw) > MAX_CASE_BYTES:  # it grew after the size was read
        return Item(source.path, None, None, len(raw), too_big(len(raw)), source.folder)
    return Item(source.path, None, raw, len(raw), None, source.folder)


def lines(handle: BinaryIO, name: str, folder: str = "", regular: bool = True,
          limit: int = MAX_CASE_BYTES) -> Iterator[Item]:
    """JSONL lines of one input, each at most `limit` bytes; a longer one is skipped to its end, never held
    whole (and a stream, which may never end, is given up after MAX_STREAM_GARBAGE bytes without a line end)."""
    number = 0
    while True:
        try:
            line = handle.readline(limit + 2)
        except OSError as error:
            yield Item(name, number + 1, None, 0, _cannot_read(error), folder)
            return
        if not line:
            return
        number += 1
        if len(line) > limit + 1 or (len(line) == limit + 1 and not line.endswith(b"\n")):
            size = len(line)
            while not line.endswith(b"\n"):
                if not regular and size > max(MAX_STREAM_GARBAGE, 64 * limit):
                    yield Item(name, number, None, size,
                               f"no line end within {size} bytes: this is no JSONL; the rest of it is not read",
                               folder)
                    return
                line = handle.readline(READ_BLOCK)
                if not line:
                    break
                size += len(line)
            yield Item(name, number, None, size, too_big(size, limit), folder)
            continue
        if line.strip():
            yield Item(name, number, line.rstrip(b"\r\n"), len(line), None, folder)


def chunks(items: Iterator, size: int) -> Iterator[list]:
    """Consecutive lists of up to `size` items, taken lazily: what batch and audit send to a worker."""
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def count(sources: Iterable[Source]) -> int | None:
    """About how many items `stream(sources)` will yield (newlines in JSONL files), for the progress bar;
    None when a stream is among them (it can be read only once)."""
    total = 0
    for source in sources:
        if source.kind == "stream":
            return None
        if source.kind != "jsonl":
            total += 1
            continue
        try:
            with open(source.path, "rb") as handle:
                last = b"\n"
                while block := handle.read(READ_BLOCK):
                    total += block.count(b"\n")
                    last = block[-1:]
                total += last != b"\n"
        except OSError:
            total += 1
    return total


def too_big(size: int, limit: int = MAX_CASE_BYTES) -> str:
    return f"the case is {size} bytes; a case may hold at most {limit} ({limit // (1024 * 1024)} MiB)"
