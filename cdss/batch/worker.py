"""What a batch worker does with one input: bytes in, exactly one output line out, never an exception.

Runs in worker processes (each compiles the rules once) or dask workers. A failure inside one case,
even one from durable-rules, becomes that case's error record.
"""

from __future__ import annotations

from attrs import frozen

from cdss.io import cases, csvcells, expectations, jsonbytes
from cdss.kb.loader import load as load_rules
from cdss.engine import evaluate
from cdss.errors import CaseError, EngineFault
from cdss.io.inputs import Item
from cdss.model import ErrorResult

CSV_COLUMNS = ["case_id", "status", "red_flags", "conditions", "recommendations", "do_not", "warnings",
               "error_file", "error_line", "error_pointer", "error_message"]


@frozen
class Options:
    lang: str = "en"
    fmt: str = "jsonl"  # jsonl | csv
    check: bool = False
    profile: str = "nice"  # the guideline profile whose rules the workers load
    input_format: str = "json"  # json | fhir
    as_of: str | None = None  # FHIR input: the evaluation date (ISO), else each Bundle's timestamp or today
    engine: str = "durable"  # durable | direct (cdss.engine.ENGINES)


@frozen
class Outcome:
    """One case's output line plus what the parent needs for counts, summaries and --check."""

    line: bytes
    ok: bool
    case_id: str | None
    red_flags: tuple = ()
    conditions: tuple = ()  # (code, status)
    recommendations: tuple = ()
    diffs: tuple = ()
    checked: bool = False
    where: str = ""
    error: tuple = ()  # (pointer, message) of an error record
    other_profile: str | None = None  # --check: the profile the case's expectations hold for, when not this run's
    ignored: tuple = ()  # FHIR input: (resource type, count) of the resources the mapping does not read


_STATE: dict = {}


def init_worker(rules_dir: str | None, profile: str = "nice", engine: str = "durable") -> None:
    """Pool initializer: load (for one guideline profile) and compile the rules once per worker process."""
    kb = load_rules(rules_dir, profile=profile)
    from cdss.engine import evaluator_for
    evaluator_for(kb, engine)
    cases.use_fast_validation()
    _STATE["kb"] = kb


def knowledge_base(rules_dir: str | None = None, profile: str = "nice"):
    if "kb" not in _STATE or _STATE["kb"].profile != profile:
        init_worker(rules_dir, profile)
    return _STATE["kb"]


def run_items(items: list[Item], options: Options, rules_dir: str | None = None) -> list[Outcome]:
    kb = knowledge_base(rules_dir, options.profile)
    return [process(item, kb, options) for item in items]


def where(item: Item) -> str:
    return item.source if item.line is None else f"{item.source}:{item.line}"


def process(item: Item, kb, options: Options) -> Outcome:
    data = None
    ignored: tuple = ()
    try:
        if item.problem is not None:
            raise CaseError(item.source, "", item.problem)
        if options.input_format == "fhir":
            case, result, ignored = _fhir(item, kb, options)
        else:
            data = cases.decode(item.raw, item.source)
            case = cases.case_from_dict(data, item.source, item.line)
            result = evaluate(case, kb, engine=options.engine)
    except CaseError as error:
        return _error(item, kb, options, data, error.pointer, error.message)
    except EngineFault as error:
        return _error(item, kb, options, data, "", f"engine fault: {error}")
    except Exception as error:  # never lose the other cases
        return _error(item, kb, options, data, "", f"internal error: {type(error).__name__}: {error}")
    body = result.to_dict(options.lang)
    diffs, checked, other_profile = (), False, None
    if options.check and "expected" in case.data:
        if expectations.applies(case.data["expected"], options.profile):
            diffs, checked = tuple(expectations.differences(case.data["expected"], body)), True
        else:
            other_profile = expectations.profile_of(case.data["expected"])
    return Outcome(
        line=_line(body, options), ok=True, case_id=case.id,
        red_flags=tuple(f["code"] for f in body["red_flags"]),
        conditions=tuple((c["code"], c["status"]) for c in body["conditions"]),
        recommendations=tuple(r["code"] for r in body["recommendations"]),
        diffs=diffs, checked=checked, where=where(item), other_profile=other_profile, ignored=ignored)


def _fhir(item: Item, kb, options: Options):
    """A FHIR input's case and result (its trace naming the resource behind each value), and what it ignored."""
    import datetime as dt

    from cdss.fhir import bundles
    mapped = bundles.read(item.raw, item.source, item.line, dt.date.fromisoformat(options.as_of) if options.as_of else None)
    return mapped.case, bundles.evaluate(mapped, kb, options.engine), tuple(mapped.ignored.items())


def _error(item: Item, kb, options: Options, data, pointer: str, message: str) -> Outcome:
    case_id = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    record = ErrorResult(case_id, kb.identity, item.source, pointer, message, line=item.line)
    return Outcome(line=_line(record.to_dict(options.lang), options), ok=False, case_id=case_id, where=where(item),
                   error=(pointer, message))


def _line(body: dict, options: Options) -> bytes:
    if options.fmt == "csv":
        return csv_row(body)
    return jsonbytes.line(body)


def csv_row(body: dict) -> bytes:
    """One flattened row per case, for spreadsheets."""
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
