"""Where FHIR inputs come from, as batch items: Bundle files (.json), NDJSON files of Bundles (.ndjson,
.jsonl; one Bundle per line), standard input (NDJSON), and Bulk Data export folders (one Bundle per patient,
see bulk.py). Each item is one patient's Bundle, still as bytes, so that workers parse and validate it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

from cdss.fhir import bulk
from cdss.fhir.parse import MAX_BUNDLE_BYTES
from cdss.io import inputs
from cdss.io.inputs import Item

SUFFIXES = (".json", ".ndjson", ".jsonl")


def expand(paths: list[str], exclude=()) -> Iterator[str]:
    """Inputs in order: files as given; a folder depth-first in name order, an export folder as one input.
    A file of `exclude` (the run's own output) is never an input; naming one is an InputError."""
    excluded = inputs.identities(exclude)
    for item in paths:
        path = Path(item)
        if item != "-" and path.is_dir():
            yield from _walk(path, excluded)
        elif excluded and inputs.identities([item]) & excluded:
            raise inputs.InputError(f"{item}: is also this run's output; an output is never read as an input")
        else:
            yield item


def _walk(folder: Path, excluded: set) -> Iterator[str]:
    if bulk.is_export(folder):
        yield str(folder)
        return
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            yield from _walk(child, excluded)
        elif child.suffix in SUFFIXES and child.is_file() and not inputs.identities([child]) & excluded:
            yield str(child)


def items(paths: list[str], exclude=()) -> Iterator[Item]:
    for path in list(expand(paths, exclude)):
        if path == "-":
            if sys.stdin is None:
                yield Item("<stdin>", None, None, 0, "cannot read: standard input is closed")
                continue
            yield from inputs.lines(sys.stdin.buffer, "<stdin>", regular=False, limit=MAX_BUNDLE_BYTES)
            continue
        file = Path(path)
        if file.is_dir():
            yield from bulk.items(file)
            continue
        if file.suffix in (".ndjson", ".jsonl"):
            try:
                with open(file, "rb") as handle:
                    yield from inputs.lines(handle, path, regular=file.is_file(), limit=MAX_BUNDLE_BYTES)
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
    total = 0
    for path in expand(paths):
        if path == "-" or Path(path).is_dir():
            return None
        found = inputs.count(inputs.find([path]))
        if found is None:
            return None
        total += found
    return total
