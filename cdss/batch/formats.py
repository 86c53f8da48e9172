"""The two output formats of `cdss batch`, written and read back (for `--resume`).

jsonl: one result object per line, exactly as `cdss evaluate --format json` gives it but on one line.
csv: a header, then one flattened row per case for spreadsheets, every cell neutralised (cdss.io.csvcells:
no formulas, no line breaks). Records are still found by their quotes, never by newlines alone, so that a
quoted line break (a file of another writer, or of an older cdss) cannot split one record in two.
"""

from __future__ import annotations

import csv
import io
import json
from typing import BinaryIO, Iterator

from cdss.io import csvcells, jsonbytes

CSV_COLUMNS = ["case_id", "status", "red_flags", "conditions", "recommendations", "do_not", "warnings",
               "error_file", "error_line", "error_pointer", "error_message"]


def encode(body: dict, fmt: str) -> bytes:
    """One case's output record (a result or an error record), newline included."""
    if fmt == "csv":
        return csv_row(body)
    return jsonbytes.line(body)


def csv_row(body: dict) -> bytes:
    """One flattened row per case, for spreadsheets (cells that cannot run: cdss.io.csvcells)."""
    error = body.get("error") or {}
    row = [body.get("case_id") or "", body["status"],
           "; ".join(f"{f['code']}:{f['status']}:{f['urgency']}" for f in body.get("red_flags", [])),
           "; ".join(f"{c['code']}:{c['status']}" for c in body.get("conditions", [])),
           "; ".join(f"{r['code']}:{r['urgency']}" for r in body.get("recommendations", [])),
           "; ".join(d["code"] for d in body.get("do_not", [])),
           "; ".join(w["code"] for w in body.get("warnings", [])),
           error.get("file", ""), error.get("line", ""), error.get("pointer", ""), error.get("message", "")]
    return csvcells.row(row)  # a hostile case id or message cannot become a spreadsheet formula


def csv_header() -> bytes:
    return csvcells.row(CSV_COLUMNS)


def records(handle: BinaryIO, fmt: str) -> Iterator[bytes]:
    """The complete records of an output file in order, each with its newline; a torn last record (no
    newline, or a CSV quote left open) is not one. For csv the header is the first record."""
    if fmt != "csv":
        pending = b""
        while block := handle.read(1 << 20):
            lines = (pending + block).split(b"\n")
            pending = lines.pop()
            for line in lines:
                yield line + b"\n"
        return
    pending, quoted = b"", False
    while block := handle.read(1 << 20):
        start = 0
        for position in _quotes_and_newlines(block):
            if block[position] == 0x22:  # '"': an escaped quote ("") toggles twice
                quoted = not quoted
            elif not quoted:
                yield pending + block[start:position + 1]
                pending, start = b"", position + 1
        pending += block[start:]


def _quotes_and_newlines(block: bytes) -> Iterator[int]:
    """Positions of every '"' and '\\n' in a block, in order."""
    quote, newline = block.find(b'"'), block.find(b"\n")
    while quote >= 0 or newline >= 0:
        if newline < 0 or 0 <= quote < newline:
            yield quote
            quote = block.find(b'"', quote + 1)
        else:
            yield newline
            newline = block.find(b"\n", newline + 1)


def decode(record: bytes, fmt: str) -> dict:
    """A record read back as the parts of a result that a resumed run needs (counts, checks, identity).
    Raises ValueError when it is not a record of this format."""
    if fmt != "csv":
        body = json.loads(record)
        if not isinstance(body, dict) or body.get("status") not in ("ok", "error"):
            raise ValueError("not a result object")
        return body
    rows = list(csv.reader(io.StringIO(record.decode("utf-8"), newline="")))
    if len(rows) != 1 or len(rows[0]) != len(CSV_COLUMNS) or rows[0][1] not in ("ok", "error"):
        raise ValueError(f"not a row of {len(CSV_COLUMNS)} columns")
    row = [csvcells.restore(cell) for cell in rows[0]]
    split = lambda text: [part.split(":") for part in text.split("; ") if part]  # noqa: E731
    body = {"case_id": row[0] or None, "status": row[1],
            "red_flags": [{"code": p[0], "status": p[1], "urgency": p[2]} for p in split(row[2])],
            "conditions": [{"code": p[0], "status": p[1]} for p in split(row[3])],
            "recommendations": [{"code": p[0], "urgency": p[1], "for": []} for p in split(row[4])],
            "do_not": [{"code": p[0], "for": []} for p in split(row[5])], "trace": []}
    if row[1] == "error":
        body["error"] = {"file": row[7], "pointer": row[9], "message": row[10]}
        if row[8]:
            body["error"]["line"] = int(row[8])
    return body


def written_by_batch(path) -> bool:
    """Whether a file holds what `cdss batch` writes (results in either format, or a summary) or nothing
    at all: such a file in an input folder is the output of an earlier run, safe to skip and replace. A
    file with anything else in it (cases, say) is not, and is never overwritten by a run that reads it."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(8 << 20).rstrip(b"\n")  # one result record (its trace can be long)
            handle.seek(0)
            head = handle.read(1 << 20)  # a summary (indented JSON, a few kB)
    except OSError:
        return False
    if not head.strip():
        return True
    if first.rstrip(b"\r") == csv_header().rstrip(b"\r\n"):
        return True
    for text in (first, head):
        try:
            value = json.loads(text)
        except ValueError:  # a record longer than what was read, or not JSON at all
            continue
        if isinstance(value, dict) and (value.get("status") in ("ok", "error") and "knowledge_base" in value
                                        or {"cases", "ok", "errors", "cases_per_second"} <= value.keys()):
            return True
    return False
