"""`cdss test`: run cases with `expected` blocks against the rules, as `opa test` and `pytest` run tests.

Each case is a test: it passes when its result meets its `expected` block (the contract's semantics, in
`cdss.io.expectations`), fails with the differences when it does not, is an error when it cannot be read,
and is skipped when it has no expectations for this run's profile. `--run REGEX` selects the cases whose
id, or one of whose pinned rules (`rules_fired`, `rules_not_fired`), matches. Coverage is the audit's
test coverage: the share of rules with a case that fires them and a near miss (a case that expects the
rule not to fire, and it does not).
"""

from __future__ import annotations

import re
import time

from attrs import define, field, frozen

from cdss.errors import CaseError, EngineFault
from cdss.io.inputs import Item

PASS, FAIL, ERROR, SKIP, DESELECTED = "pass", "fail", "error", "skip", "deselected"


@frozen
class CaseOutcome:
    """One case as a test. `fired` and `not_fired` feed coverage (the rules that fired; the rules the case
    expects not to fire that indeed did not)."""

    case_id: str
    where: str
    file: str
    status: str
    differences: tuple[str, ...] = ()
    message: str = ""
    seconds: float = 0.0
    fired: tuple[str, ...] = ()
    not_fired: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out = {"case_id": self.case_id, "where": self.where, "status": self.status,
               "seconds": round(self.seconds, 6)}
        if self.differences:
            out["differences"] = list(self.differences)
        if self.message:
            out["message"] = self.message
        return out


def _where(item: Item) -> str:
    return item.source if item.line is None else f"{item.source}:{item.line}"


def selected(data: dict, pattern: re.Pattern | None) -> bool:
    """Whether `--run` selects the case: its id, or a rule its expectations pin, matches."""
    if pattern is None:
        return True
    if pattern.search(str(data.get("id", ""))):
        return True
    expected = data.get("expected") if isinstance(data.get("expected"), dict) else {}
    pinned = list(expected.get("rules_fired", ())) + list(expected.get("rules_not_fired", ()))
    return any(isinstance(rule, str) and pattern.search(rule) for rule in pinned)


class CaseTester:
    """Built once per worker process: the rules loaded and compiled for one profile."""

    def __init__(self, rules_dir: str | None, profile: str = "nice", run: str | None = None, engine: str = "durable"):
        from cdss.engine import evaluator_for
        from cdss.io import cases
        from cdss.kb.loader import load
        self.kb = load(rules_dir, profile=profile)
        self.profile = profile
        self.engine = engine
        evaluator_for(self.kb, engine)
        self.validator = cases.Validator(fast=True)
        self.pattern = re.compile(run) if run else None

    def __call__(self, item: Item) -> CaseOutcome:
        from cdss.engine import evaluate
        from cdss.io import cases, expectations
        where = _where(item)
        data = None
        began = time.perf_counter()
        try:
            if item.problem is not None:
                raise CaseError(item.source, "", item.problem)
            data = cases.decode(item.raw, item.source)
            if not selected(data, self.pattern):
                return CaseOutcome(str(data.get("id", where)), where, item.source, DESELECTED)
            case = self.validator.case(data, item.source, item.line)
            result = evaluate(case, self.kb, self.engine)
        except CaseError as error:
            case_id = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else where
            if isinstance(data, dict) and not selected(data, self.pattern):
                return CaseOutcome(case_id, where, item.source, DESELECTED)
            return CaseOutcome(case_id, where, item.source, ERROR, message=f"{error.pointer or '/'}: {error.message}",
                               seconds=time.perf_counter() - began)
        except EngineFault as error:
            return CaseOutcome(data["id"], where, item.source, ERROR, message=f"engine fault: {error}",
                               seconds=time.perf_counter() - began)
        expected = case.data.get("expected")
        fired = tuple(entry.rule for entry in result.trace if not entry.rule.startswith("policy."))
        if expected is None:
            return CaseOutcome(case.id, where, item.source, SKIP, message="no expected block",
                               seconds=time.perf_counter() - began, fired=fired)
        if not expectations.applies(expected, self.profile):
            return CaseOutcome(case.id, where, item.source, SKIP,
                               message=f"expectations for profile {expectations.profile_of(expected)}",
                               seconds=time.perf_counter() - began)
        differences = tuple(expectations.differences(expected, result.to_dict()))
        not_fired = tuple(rule for rule in expected.get("rules_not_fired", ()) if rule not in fired)
        return CaseOutcome(case.id, where, item.source, FAIL if differences else PASS, differences,
                           seconds=time.perf_counter() - began, fired=fired, not_fired=not_fired)


@define
class Coverage:
    """Rules with a firing case and a near miss, over the selected cases."""

    rules: list  # rule ids, in rule-base order
    fired: dict = field(factory=dict)  # rule -> a case that fires it
    near_miss: dict = field(factory=dict)  # rule -> a case that expects it not to fire
    threshold: float | None = None

    def add(self, outcome: CaseOutcome) -> None:
        for rule in outcome.fired:
            self.fired.setdefault(rule, outcome.case_id)
        for rule in outcome.not_fired:
            self.near_miss.setdefault(rule, outcome.case_id)

    @property
    def tested(self) -> list[str]:
        return [r for r in self.rules if r in self.fired and r in self.near_miss]

    @property
    def percent(self) -> float:
        return 100.0 * len(self.tested) / len(self.rules) if self.rules else 100.0

    @property
    def ok(self) -> bool:
        return self.threshold is None or self.percent + 1e-9 >= self.threshold

    def to_dict(self) -> dict:
        return {"rules": len(self.rules), "tested": len(self.tested), "percent": round(self.percent, 2),
                "threshold": self.threshold, "ok": self.ok,
                "without_firing_case": [r for r in self.rules if r not in self.fired],
                "without_near_miss": [r for r in self.rules if r not in self.near_miss]}


@define
class TestReport:
    __test__ = False  # not a pytest class

    knowledge_base: dict
    outcomes: list = field(factory=list)  # every outcome but the deselected
    deselected: int = 0
    coverage: Coverage | None = None
    seconds: float = 0.0

    def add(self, outcome: CaseOutcome) -> None:
        if outcome.status == DESELECTED:
            self.deselected += 1
            return
        self.outcomes.append(outcome)
        if self.coverage is not None and outcome.status in (PASS, FAIL, SKIP):
            self.coverage.add(outcome)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        return (self.count(FAIL) == 0 and self.count(ERROR) == 0
                and (self.coverage is None or self.coverage.ok))

    def summary(self) -> str:
        parts = [f"{self.count(PASS)} passed", f"{self.count(FAIL)} failed"]
        if self.count(ERROR):
            parts.append(f"{self.count(ERROR)} error{'s' if self.count(ERROR) != 1 else ''}")
        if self.count(SKIP):
            parts.append(f"{self.count(SKIP)} skipped")
        if self.deselected:
            parts.append(f"{self.deselected} deselected")
        return ", ".join(parts) + f" in {self.seconds:.2f}s"

    def to_dict(self) -> dict:
        return {"knowledge_base": self.knowledge_base, "passed": self.count(PASS), "failed": self.count(FAIL),
                "errors": self.count(ERROR), "skipped": self.count(SKIP), "deselected": self.deselected,
                "ok": self.ok, "seconds": round(self.seconds, 3),
                "coverage": self.coverage.to_dict() if self.coverage is not None else None,
                "cases": [o.to_dict() for o in self.outcomes]}


def run(paths: list[str], rules_dir: str | None, profile: str, jobs: int, pattern: str | None = None,
        coverage: bool = False, threshold: float | None = None, progress=None, engine: str = "durable") -> TestReport:
    from cdss.io import inputs
    from cdss.kb.loader import load
    from cdss.batch.pool import ordered_map
    started = time.monotonic()
    kb = load(rules_dir, profile=profile)  # here first: a rule base that does not load is one error, not N
    wanted = None
    if pattern and coverage:
        rx = re.compile(pattern)
        wanted = [rule.id for rule in kb.rules if rx.search(rule.id)] or None
    report = TestReport(kb.identity.to_dict())
    if coverage:
        report.coverage = Coverage(wanted or [rule.id for rule in kb.rules], threshold=threshold)
    for outcome in ordered_map(CaseTester, (rules_dir, profile, pattern, engine), inputs.items(paths), jobs):
        report.add(outcome)
        if progress is not None:
            progress(len(report.outcomes) + report.deselected)
    report.seconds = time.monotonic() - started
    return report
