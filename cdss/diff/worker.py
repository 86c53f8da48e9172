"""What a diff worker does with one input case: evaluate it under both versions, compare, send back only
the differences (and both results side by side when they were asked for).

Each worker process loads and compiles both rule bases once. The parent only reads inputs and adds up
what comes back, so the work that grows with the corpus (decoding, validating, two evaluations and the
comparison) is spread over the workers.
"""

from __future__ import annotations

from attrs import frozen

from cdss.diff.compare import Change, changes, fired
from cdss.errors import CaseError, EngineFault
from cdss.io.inputs import Item
from cdss.model import ErrorResult, Result


@frozen
class CaseDiff:
    """One case's comparison. `problem` is set when the case itself is bad input (the same under both)."""

    case_id: str
    where: str
    changes: tuple[Change, ...] = ()
    started: tuple[str, ...] = ()  # rules that fire under the new version only
    stopped: tuple[str, ...] = ()  # rules that fire under the base version only
    problem: str | None = None
    sides: tuple | None = None  # (base, new) summaries, when asked for


def side(result: Result | ErrorResult) -> dict:
    """A result as the side-by-side view shows it: each item with what distinguishes it and its rules."""
    if isinstance(result, ErrorResult):
        return {"status": "error", "error": result.message}
    return {
        "status": "ok",
        "red_flags": [{"code": f.code, "status": f.status, "urgency": f.urgency, "rules": list(f.rules)}
                      for f in result.red_flags],
        "conditions": [{"code": c.code, "status": c.status, "rules": list(c.rules)} for c in result.conditions],
        "recommendations": [{"code": r.code, "urgency": r.urgency, "for": list(r.for_), "rules": list(r.rules)}
                            for r in result.recommendations],
        "do_not": [{"code": d.code, "for": list(d.for_), "rules": list(d.rules)} for d in result.do_not],
        "warnings": [{"code": w.code, "rules": list(w.rules)} for w in result.warnings],
        "policies": [entry.rule for entry in result.trace if entry.rule.startswith("policy.")],
    }


def _where(item: Item) -> str:
    return item.source if item.line is None else f"{item.source}:{item.line}"


class DiffWorker:
    """Built once per worker process: both knowledge bases loaded and compiled. `show` names the case ids
    whose two results travel back whole; None means every changed case."""

    def __init__(self, base_dir: str, new_dir: str, profile: str = "nice", show: frozenset | None = frozenset(),
                 engine: str = "durable"):
        from cdss.engine import evaluator_for
        from cdss.io import cases
        from cdss.kb.loader import load
        self.base = load(base_dir, profile=profile)
        self.new = load(new_dir, profile=profile)
        # The same rule bytes under both names (`--base HEAD` before any edit): every result is the same, so
        # each case is only read and checked, not evaluated twice.
        self.same = self.base.identity == self.new.identity
        self.engine = engine
        if not self.same:
            evaluator_for(self.base, engine)  # compiled now, once, not on the first case
            evaluator_for(self.new, engine)
        self.validator = cases.Validator(fast=True)
        self.show = show

    def _evaluate(self, kb, case) -> Result | ErrorResult:
        from cdss.engine import evaluate
        try:
            return evaluate(case, kb, self.engine)
        except EngineFault as error:
            return ErrorResult(case.id, kb.identity, case.source, "", f"engine fault: {error}", line=case.line)
        except Exception as error:  # never lose the other cases
            return ErrorResult(case.id, kb.identity, case.source, "", f"internal error: {type(error).__name__}: {error}",
                               line=case.line)

    def __call__(self, item: Item) -> CaseDiff:
        from cdss.io import cases
        where = _where(item)
        data = None
        try:
            if item.problem is not None:
                raise CaseError(item.source, "", item.problem)
            data = cases.decode(item.raw, item.source)
            case = self.validator.case(data, item.source, item.line)
        except CaseError as error:
            case_id = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else where
            return CaseDiff(case_id, where, problem=f"{error.pointer or '/'}: {error.message}")
        if self.same:
            if self.show is not None and case.id in self.show:
                result = self._evaluate(self.new, case)
                return CaseDiff(case.id, where, sides=(side(result), side(result)))
            return CaseDiff(case.id, where)
        base = self._evaluate(self.base, case)
        new = self._evaluate(self.new, case)
        found = changes(base, new)
        before, after = fired(base), fired(new)
        wanted = (self.show is None and found) or (self.show is not None and case.id in self.show)
        return CaseDiff(case.id, where, found, tuple(sorted(after - before)), tuple(sorted(before - after)),
                        sides=(side(base), side(new)) if wanted else None)
