"""Where FHIR inputs come from, as batch items: Bundle files (.json), NDJSON files of Bundles (.ndjson,
.jsonl; one Bundle per line), standard input (NDJSON), and Bulk Data export folders (one Bundle per patient,
see bulk.py). Each item is one patient's Bundle, still as bytes, so that workers parse and validate it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

from cdss.fhir import bulk
from cdss.fhir.parse import MAX_BUNDLE_BYTES
from cdss.io.inputs import Item, _lines

SUFFIXES = (".json", ".ndjson", ".jsonl")


def expand(paths: list[str]) -> Iterator[str]:
    """Inputs in order: files as given; a folder depth-first in name order, an export folder as one input."""
    for item in paths:
        path = Path(item)
        if item != "-" and path.is_dir():
            yield from _walk(path)
        else:
            yield item


def _walk(folder: Path) -> Iterator[str]:
    if bulk.is_export(folder):
        yield str(folder)
        return
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            yield from _walk(child)
        elif child.suffix in SUFFIXES and child.is_file():
            yield str(child)


def items(paths: list[str]) -> Iterator[Item]:
    for path in expand(paths):
        if path == "-":
            yield from _lines(sys.stdin.buffer, "<stdin>", MAX_BUNDLE_BYTES)
            continue
        file = Path(path)
        if file.is_dir():
            yield from bulk.items(file)
            continue
        if file.suffix in (".ndjson", ".jsonl"):
            try:
                with open(file, "rb") as handle:
                    yield from _lines(handle, path, MAX_BUNDLE_BYTES)
            except OSError as error:
                yield Item(path, None, None, 0, f"cannot read: {error.strerror or error}")
            continue
        try:
            size = file.stat().st_size
            if size > MAX_BUNDLE_BYTES:
                yield Item(path, None, None, size, f"the input is {size} bytes; a FHIR input may hold at most "
                                                   f"{MAX_BUNDLE_BYTES} (5 MiB)")
                continue
            raw = file.read_bytes()
        except OSError as error:
            yield Item(path, None, None, 0, f"cannot read: {error.strerror or error}")
            continue
        yield Item(path, None, raw, len(raw))


def count(paths: list[str]) -> int | None:
    """About how many items there will be (for the progress bar); None for stdin and export folders."""
    from cdss.io.inputs import count as count_json

    total = 0
    for path in expand(paths):
        if path == "-" or Path(path).is_dir():
            return None
        total += count_json([path]) or 0
    return total
