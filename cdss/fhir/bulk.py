"""A FHIR Bulk Data export folder, one patient at a time, with flat memory.

An export is one NDJSON file (or several) per resource type, in no order that groups a patient's resources
together. The folder is read once, line by line, into an index on disk (SQLite in a temporary folder):
for every resource line, the patient it belongs to, its file and its byte offset. Then, patient by patient
in the order of the Patient files, the lines are read back by offset and joined into one Bundle, byte for
byte as exported (never parsed and re-encoded). Memory holds one patient's resources at a time however big
the export; the index is removed when the reading ends, also when it is cut short.

A manifest (`manifest.json`, as the Bulk Data kick-off returns it) gives the export's `transactionTime`,
which becomes each Bundle's timestamp: the date that ages are computed at.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Iterator

from cdss.fhir.parse import MAX_BUNDLE_BYTES
from cdss.io.inputs import Item

MAX_LINE_BYTES = 1024 * 1024
READ_BLOCK = 1 << 20


def ndjson_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".ndjson")


def first_type(path: Path) -> str | None:
    """The resourceType of a file's first resource (cheaply: one bounded line)."""
    try:
        with open(path, "rb") as handle:
            line = handle.readline(MAX_LINE_BYTES + 1)
        data = json.loads(line)
    except (OSError, ValueError):
        return None
    return data.get("resourceType") if isinstance(data, dict) else None


def is_export(folder: Path) -> bool:
    """A folder is a Bulk Data export when its NDJSON files hold resources, not Bundles, one being Patient."""
    if not folder.is_dir():
        return False
    types = {first_type(p) for p in ndjson_files(folder)}
    return "Patient" in types and "Bundle" not in types


def _patient_of(data: dict) -> str | None:
    if data.get("resourceType") == "Patient":
        rid = data.get("id")
        return rid if isinstance(rid, str) else None
    for name in ("subject", "patient"):
        ref = data.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str) and ref["reference"].startswith("Patient/"):
            return ref["reference"][8:]
    return None


def _lines(handle) -> Iterator[tuple[int, int, int, bytes | None]]:
    """(line number, offset, length, bytes or None when over the limit) of each non-blank line."""
    number = offset = 0
    while True:
        line = handle.readline(MAX_LINE_BYTES + 2)
        if not line:
            return
        number += 1
        start = offset
        offset += len(line)
        if len(line) > MAX_LINE_BYTES + 1 or (len(line) == MAX_LINE_BYTES + 1 and not line.endswith(b"\n")):
            while not line.endswith(b"\n"):
                line = handle.readline(READ_BLOCK)
                if not line:
                    break
                offset += len(line)
            yield number, start, offset - start, None
            continue
        if line.strip():
            yield number, start, len(line.rstrip(b"\r\n")), line


def _timestamp(folder: Path) -> str | None:
    manifest = folder / "manifest.json"
    try:
        data = json.loads(manifest.read_bytes()[:MAX_LINE_BYTES])
    except (OSError, ValueError):
        return None
    value = data.get("transactionTime") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def items(folder: Path) -> Iterator[Item]:
    """One Item per patient of the export: a Bundle of their resources, named by the Patient's file and line."""
    files = ndjson_files(folder)
    timestamp = _timestamp(folder)
    with tempfile.TemporaryDirectory(prefix="cdss-bulk-") as scratch:
        db = sqlite3.connect(Path(scratch) / "index.sqlite")
        try:
            yield from _indexed(db, files, timestamp)
        finally:
            db.close()


def _indexed(db: sqlite3.Connection, files: list[Path], timestamp: str | None) -> Iterator[Item]:
    db.execute("CREATE TABLE line (patient TEXT, file INTEGER, number INTEGER, offset INTEGER, length INTEGER, "
               "is_patient INTEGER, medication TEXT)")
    problems: list[Item] = []
    for index, path in enumerate(files):
        try:
            with open(path, "rb") as handle:
                rows = []
                for number, offset, length, line in _lines(handle):
                    if line is None:
                        problems.append(Item(str(path), number, None, length,
                                             f"a resource of {length} bytes; at most {MAX_LINE_BYTES} (1 MiB) each"))
                        continue
                    try:
                        data = json.loads(line)
                    except ValueError as error:
                        problems.append(Item(str(path), number, None, length, f"broken JSON: {error}"))
                        continue
                    if not isinstance(data, dict):
                        problems.append(Item(str(path), number, None, length, "expected a FHIR resource (an object)"))
                        continue
                    kind = data.get("resourceType")
                    medication = data.get("id") if kind == "Medication" and isinstance(data.get("id"), str) else None
                    rows.append((_patient_of(data), index, number, offset, length, int(kind == "Patient"), medication))
                    if len(rows) >= 10_000:
                        db.executemany("INSERT INTO line VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                        rows.clear()
                db.executemany("INSERT INTO line VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        except OSError as error:
            problems.append(Item(str(path), None, None, 0, f"cannot read: {error.strerror or error}"))
    db.execute("CREATE INDEX by_patient ON line (patient, file, number)")
    db.execute("CREATE INDEX by_medication ON line (medication)")
    db.commit()
    yield from problems
    handles: dict[int, object] = {}
    try:
        patients = db.execute("SELECT patient, file, number FROM line WHERE is_patient = 1 ORDER BY file, number")
        for patient, file, number in patients:
            rows = db.execute("SELECT file, offset, length FROM line WHERE patient = ? ORDER BY is_patient DESC, "
                              "file, number", (patient,)).fetchall()
            parts, size = [], 0
            for row_file, offset, length in rows:
                handle = handles.get(row_file) or handles.setdefault(row_file, open(files[row_file], "rb"))
                handle.seek(offset)
                chunk = handle.read(length)
                parts.append(chunk)
                size += len(chunk)
                if size > MAX_BUNDLE_BYTES:
                    break
            parts.extend(_medications(db, files, handles, parts))
            source = str(files[file])
            if size > MAX_BUNDLE_BYTES:
                yield Item(source, number, None, size, f"patient {patient!r}: more than {MAX_BUNDLE_BYTES} bytes of "
                                                       "resources; a FHIR input may hold at most 5 MiB")
                continue
            head = b'{"resourceType":"Bundle","type":"collection",'
            if timestamp:
                head += b'"timestamp":' + json.dumps(timestamp).encode() + b","
            raw = head + b'"entry":[' + b",".join(b'{"resource":' + p + b"}" for p in parts) + b"]}"
            yield Item(source, number, raw, len(raw))
    finally:
        for handle in handles.values():
            handle.close()


def _medications(db: sqlite3.Connection, files: list[Path], handles: dict, parts: list[bytes]) -> list[bytes]:
    """The Medication resources that a patient's statements and requests refer to (they carry no patient)."""
    wanted: list[str] = []
    for part in parts:
        if b'"Medication/' not in part:
            continue
        data = json.loads(part)
        ref = data.get("medicationReference")
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str) and ref["reference"].startswith("Medication/"):
            wanted.append(ref["reference"][11:])
    out = []
    for medication in dict.fromkeys(wanted):
        row = db.execute("SELECT file, offset, length FROM line WHERE medication = ? LIMIT 1", (medication,)).fetchone()
        if row is not None:
            handle = handles.get(row[0]) or handles.setdefault(row[0], open(files[row[0]], "rb"))
            handle.seek(row[1])
            out.append(handle.read(row[2]))
    return out
