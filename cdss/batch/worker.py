"""What a batch worker does with one input: bytes in, exactly one output record out, never an exception.

A BatchWorker is built once per worker process (by the pool, or by a dask worker's plugin) and holds
what every case needs: the compiled rules, the fast case validator and the run's options. A failure
inside one case, even one from durable-rules, becomes that case's error record.
"""

from __future__ import annotations

import operator

import attrs
from attrs import frozen

from cdss.batch import formats
from cdss.engine import evaluator_for, policies
from cdss.errors import CaseError, EngineFault
from cdss.io import cases, expectations
from cdss.io.inputs import Item
from cdss.io.result_json import ResultLines
from cdss.model import ErrorResult, KnowledgeBaseId


@frozen
class Options:
    lang: str = "en"
    fmt: str = "jsonl"  # jsonl | csv
    check: bool = False
    profile: str = "nice"  # the guideline profile of the run's rules (the workers get them loaded)
    input_format: str = "json"  # json | fhir
    as_of: str | None = None  # FHIR input: the evaluation date (ISO), else each Bundle's timestamp or today
    engine: str = "durable"  # durable | direct (cdss.engine.ENGINES)


@frozen
class Outcome:
    """One case's output record plus what the parent needs for counts, summaries and --check."""

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

    def __reduce__(self):
        # Pickled as its fields in order (each outcome crosses a pipe): attrs' own state methods run in
        # Python (in chunks of 64, 3.1 -> 2.0 us an outcome to pickle, 2.8 -> 1.5 us to unpickle).
        return Outcome, _outcome_fields(self)


_outcome_fields = operator.attrgetter(*(field.name for field in attrs.fields(Outcome)))


class BatchWorker:
    """Turns input items into outcomes with rules compiled once (each worker process builds its own)."""

    def __init__(self, kb, options: Options):
        self.kb = kb
        self.options = options
        self.evaluator = evaluator_for(kb, options.engine)  # the process's own (cdss.engine.EVALUATORS)
        self.validator = cases.Validator(fast=True)
        self.lines = ResultLines(policies.prepared(self.evaluator.kb).shared)

    def __call__(self, item: Item) -> Outcome:
        data = None
        ignored: tuple = ()
        try:
            if item.problem is not None:
                raise CaseError(item.source, "", item.problem)
            if self.options.input_format == "fhir":
                case, result, ignored = self._fhir(item)
            else:
                data = cases.decode(item.raw, item.source)
                case = self.validator.case(data, item.source, item.line)
                result = self.evaluator.evaluate(case)
        except CaseError as error:
            return error_outcome(item, self.kb.identity, self.options, error.pointer, error.message, data)
        except EngineFault as error:
            return error_outcome(item, self.kb.identity, self.options, "", f"engine fault: {error}", data)
        except Exception as error:  # never lose the other cases
            return error_outcome(item, self.kb.identity, self.options, "",
                                 f"internal error: {type(error).__name__}: {error}", data)
        outcome = self._outcome(result, item, case.data.get("expected"))
        return attrs.evolve(outcome, ignored=ignored) if ignored else outcome

    def _outcome(self, result, item: Item, expected: dict | None) -> Outcome:
        """A result's Outcome. A JSON Lines record with nothing to check against is written from the result
        itself (cdss.io.result_json: the same bytes, made faster); else from its dict, as when resuming."""
        options = self.options
        if options.fmt != "jsonl" or result.status != "ok" or (options.check and expected is not None):
            return outcome_of(result.to_dict(options.lang), item, options, expected)
        return Outcome(self.lines.line(result, options.lang), True, result.case_id, where=item.where,
                       **_codes(result.red_flags, result.conditions, result.recommendations, _OF_ITEMS))

    def _fhir(self, item: Item):
        """A FHIR input's case and result (its trace naming the resource behind each value), and what it
        ignored."""
        import datetime as dt

        from cdss.fhir import bundles
        as_of = dt.date.fromisoformat(self.options.as_of) if self.options.as_of else None
        mapped = bundles.read(item.raw, item.source, item.line, as_of)
        return mapped.case, bundles.evaluate(mapped, self.kb, self.options.engine), tuple(mapped.ignored.items())


def outcome_of(body: dict, item: Item, options: Options, expected: dict | None,
               record: bytes | None = None) -> Outcome:
    """The Outcome of a result object (`record`: its bytes as already written, when resuming)."""
    if body["status"] != "ok":
        error = body.get("error") or {}
        return Outcome(record or formats.encode(body, options.fmt), False, body.get("case_id"), where=item.where,
                       error=(error.get("pointer", ""), error.get("message", "")))
    diffs, checked, other_profile = (), False, None
    if options.check and expected is not None:
        if expectations.applies(expected, options.profile):
            diffs, checked = tuple(expectations.differences(expected, body)), True
        else:
            other_profile = expectations.profile_of(expected)
    return Outcome(
        line=record or formats.encode(body, options.fmt), ok=True, case_id=body["case_id"],
        diffs=diffs, checked=checked, where=item.where, other_profile=other_profile,
        **_codes(body["red_flags"], body["conditions"], body["recommendations"], _OF_DICTS))


# (code, status) getters of a Result's items and of its dict's, made once rather than per case
_OF_ITEMS = (operator.attrgetter("code"), operator.attrgetter("status"))
_OF_DICTS = (operator.itemgetter("code"), operator.itemgetter("status"))


def _codes(red_flags, conditions, recommendations, getters) -> dict:
    """The codes an Outcome counts by, of a result's items (`_OF_ITEMS`) or of its dict's (`_OF_DICTS`):
    one place, so that a batch counts alike however its lines were made."""
    code, status = getters
    return {"red_flags": tuple(map(code, red_flags)),
            "conditions": tuple(zip(map(code, conditions), map(status, conditions))),
            "recommendations": tuple(map(code, recommendations))}


def error_outcome(item: Item, identity: KnowledgeBaseId, options: Options, pointer: str, message: str,
                  data=None) -> Outcome:
    """An input's error record: where it is, which JSON pointer, and what is wrong."""
    case_id = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    record = ErrorResult(case_id, identity, item.source, pointer, message, line=item.line)
    return Outcome(line=formats.encode(record.to_dict(options.lang), options.fmt), ok=False, case_id=case_id,
                   where=item.where, error=(pointer, message))


def decoded(item: Item) -> dict | None:
    """The input's decoded object, or None when it does not decode: for error records made outside a
    worker (its worker died or ran out of time), which still name the case's id."""
    if item.raw is None:
        return None
    try:
        return cases.decode(item.raw, item.source)
    except CaseError:
        return None
