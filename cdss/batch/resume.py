"""`--resume`: account for what an interrupted run wrote, once it is clear that it is this run's.

A resumed file is only continued when every record in it is the one this run would have written there:
record n is the result of input n (same case id; for an error record, the same file and line), made
with the same rules (`knowledge_base` in each JSONL record), and the first result in it is made again
now and must come out byte for byte the same (the same language, profile and rules). Another input, an
input with a case added in front, another `--lang` or `--rules`, or the other format are refused with
what differs, and the file is left as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from attrs import frozen

from cdss.batch import formats
from cdss.batch.output import OutputError
from cdss.batch.worker import Options, Outcome, decoded, outcome_of
from cdss.io.inputs import Item
from cdss.model import KnowledgeBaseId

ADVICE = "write to another file, or run without --resume to start over"


@frozen
class Resumed:
    count: int  # records kept, and as many inputs consumed
    keep: int  # their bytes (a torn last record after them is dropped)


def replay(path: Path, options: Options, items: Iterator[Item], identity: KnowledgeBaseId,
           probe: Callable[[Item], Outcome], report: Callable[[Outcome], None]) -> Resumed:
    """Check the records of `path` against the inputs and report each as if it had just been made."""
    fmt = options.fmt
    count = keep = 0
    probed = False
    with open(path, "rb") as handle:
        records = formats.records(handle, fmt)
        if fmt == "csv":
            header = next(records, None)
            if header is None:
                return Resumed(0, 0)
            if header != formats.csv_header():
                raise OutputError(f"{path}: does not start with the header of `cdss batch --format csv`: it is "
                                  f"another kind of file; {ADVICE}")
            keep = len(header)
        for record in records:
            number = count + 1
            try:
                body = formats.decode(record, fmt)
            except (ValueError, UnicodeDecodeError):
                raise OutputError(f"{path}: record {number} is not a {fmt} result of `cdss batch` (another "
                                  f"--format?); {ADVICE}") from None
            item = next(items, None)
            if item is None:
                raise OutputError(f"{path}: holds more results than there are inputs ({count}): it belongs to "
                                  f"another run; {ADVICE}")
            data = decoded(item)
            _check_belongs(path, number, body, item, data, identity, fmt)
            if not probed and body["status"] == "ok":
                again = probe(item)
                if again.line != record:
                    raise OutputError(
                        f"{path}: belongs to another run: the result of case {body['case_id']!r} ({item.where}) "
                        f"there differs from what this run makes of it (another --lang, --profile or rule set?); "
                        f"{ADVICE}")
                probed = True
            expected = data.get("expected") if isinstance(data, dict) and body["status"] == "ok" else None
            report(outcome_of(body, item, options, expected if isinstance(expected, dict) else None, record))
            count, keep = number, keep + len(record)
    return Resumed(count, keep)


def _check_belongs(path: Path, number: int, body: dict, item: Item, data, identity: KnowledgeBaseId,
                   fmt: str) -> None:
    if fmt == "jsonl" and body.get("knowledge_base") != identity.to_dict():
        kb = body.get("knowledge_base") or {}
        raise OutputError(f"{path}: belongs to another run: record {number} was made with other rules (knowledge "
                          f"base {kb.get('version')} {str(kb.get('sha256'))[:12]}, this run's is {identity.version} "
                          f"{identity.sha256[:12]}); {ADVICE}")
    want = data.get("id") if isinstance(data, dict) else None
    if body["status"] == "ok":
        if body.get("case_id") == want:
            return
        got = f"the result of case {body.get('case_id')!r}"
    else:
        error = body.get("error") or {}
        if error.get("file") == item.source and error.get("line") == item.line:
            return
        where = error.get("file") if error.get("line") is None else f"{error.get('file')}:{error.get('line')}"
        got = f"the error record of {where}"
    raise OutputError(f"{path}: belongs to another run: its record {number} is {got}, but input {number} is "
                      f"{item.where}" + (f" (case {want!r})" if isinstance(want, str) else "") + f"; {ADVICE}")
