"""Where batch cases come from: case files, folders of them, JSONL files and standard input.

Inputs are streamed, one item per case, in a fixed order (paths as given; folders recursively, sorted),
so that output order, `--resume` and memory use never depend on how many cases there are. A JSONL line
over the size limit is refused from its length alone, without being parsed.
"""

from __future__ import annotations

import itertools

import sys
from pathlib import Path
from typing import BinaryIO, Iterator

from attrs import frozen

from cdss.io.cases import MAX_CASE_BYTES

READ_BLOCK = 1 << 20


@frozen
class Item:
    """One input case, still as bytes: `source` is the file, `line` its line for JSONL (else None)."""

    source: str
    line: int | None
    raw: bytes | None  # None when the input cannot be used as read (see `problem`)
    size: int = 0
    problem: str | None = None  # why not: over the size limit, unreadable


def expand(paths: list[str]) -> Iterator[str]:
    """File paths (or '-') in input order; folders are searched recursively for *.json and *.jsonl."""
    for item in paths:
        if item == "-":
            yield "-"
            continue
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file())
            yield from (str(p) for p in found)
        else:
            yield item


def _lines(handle: BinaryIO, source: str, limit: int = MAX_CASE_BYTES) -> Iterator[Item]:
    """JSONL lines, each at most `limit` bytes; a longer one is skipped to its end, never held whole."""
    number = 0
    while True:
        line = handle.readline(limit + 2)
        if not line:
            return
        number += 1
        if len(line) > limit + 1 or (len(line) == limit + 1 and not line.endswith(b"\n")):
            size = len(line)
            while not line.endswith(b"\n"):
                line = handle.readline(READ_BLOCK)
                if not line:
                    break
                size += len(line)
            yield Item(source, number, None, size, _too_big(size, limit))
            continue
        if line.strip():
            yield Item(source, number, line.rstrip(b"\r\n"), len(line))


def items(paths: list[str]) -> Iterator[Item]:
    """Every input case in order. Unreadable files become items that fail as that file's error record."""
    for path in expand(paths):
        if path == "-":
            yield from _lines(sys.stdin.buffer, "<stdin>")
            continue
        if path.endswith(".jsonl"):
            try:
                with open(path, "rb") as handle:
                    yield from _lines(handle, path)
            except OSError as error:
                yield Item(path, None, None, 0, f"cannot read: {error.strerror or error}")
            continue
        try:
            size = Path(path).stat().st_size
            if size > MAX_CASE_BYTES:
                yield Item(path, None, None, size, _too_big(size))
                continue
            with open(path, "rb") as handle:
                raw = handle.read(MAX_CASE_BYTES + 1)
        except OSError as error:
            yield Item(path, None, None, 0, f"cannot read: {error.strerror or error}")
            continue
        yield Item(path, None, raw, len(raw))


def chunks(items: Iterator, size: int) -> Iterator[list]:
    """Consecutive lists of up to `size` items, taken lazily: what batch and audit send to a worker."""
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def count(paths: list[str]) -> int | None:
    """About how many items `items(paths)` will yield (newlines in JSONL files), for the progress bar;
    None when reading standard input."""
    total = 0
    for path in expand(paths):
        if path == "-":
            return None
        if not path.endswith(".jsonl"):
            total += 1
            continue
        try:
            with open(path, "rb") as handle:
                last = b"\n"
                while block := handle.read(READ_BLOCK):
                    total += block.count(b"\n")
                    last = block[-1:]
                total += last != b"\n"
        except OSError:
            total += 1
    return total


def _too_big(size: int, limit: int = MAX_CASE_BYTES) -> str:
    return f"the case is {size} bytes; a case may hold at most {limit} ({limit // (1024 * 1024)} MiB)"
