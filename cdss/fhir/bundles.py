"""One FHIR input to one case and its result: the entry point that `cdss evaluate`, `validate`, `batch` and the
service share for FHIR."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cdss.fhir import parse, provenance, reader
from cdss.fhir.mapping import Mapping, shipped
from cdss.fhir.parse import FhirError, MAX_BUNDLE_BYTES


def read(raw: bytes, source: str, line: int | None = None, as_of: dt.date | None = None,
         mapping: Mapping | None = None, validate: bool = True) -> reader.Mapped:
    """Bytes of a Bundle (or a lone Patient) to a validated case; FhirError names the resource and element."""
    mapping = mapping or shipped()
    where = source if line is None else f"{source}:{line}"
    parsed = parse.parse(parse.decode(raw, where), where, validate)
    return reader.to_case(parsed, mapping, source, as_of, line)


def read_path(path: str, as_of: dt.date | None = None) -> reader.Mapped:
    """A Bundle file, or '-' for standard input."""
    import sys

    if path == "-":
        raw = sys.stdin.buffer.read(MAX_BUNDLE_BYTES + 1)
        return read(raw, "<stdin>", as_of=as_of)
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise FhirError(path, "", f"the input is {size} bytes; a FHIR input may hold at most {MAX_BUNDLE_BYTES} "
                                      f"({MAX_BUNDLE_BYTES // (1024 * 1024)} MiB)")
        raw = file.read_bytes()
    except IsADirectoryError:
        raise FhirError(path, "", "is a folder; expected a FHIR Bundle file (.json)") from None
    except OSError as error:
        raise FhirError(path, "", f"cannot read: {error.strerror or error}") from None
    return read(raw, path, as_of=as_of)


def evaluate(mapped: reader.Mapped, kb, engine: str = "durable"):
    """The result of a case read from FHIR, its trace naming the resource behind every value."""
    from cdss.engine import evaluate as run

    return provenance.attach(run(mapped.case, kb, engine=engine), mapped.case)
