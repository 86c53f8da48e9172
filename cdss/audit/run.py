"""`cdss audit`: coverage of the rule base over a corpus of cases, and verification of the rule base itself.

Two entry points, one report shape:
- `audit_rules(rules_dir, cases_dir)` checks the rules without running a case (`checks/`): each
  finding has a severity, the rule id and file:line.
- `audit_coverage(paths, rules_dir)` runs the corpus through the engine (`coverage`) and adds what
  the cases reached, what they never reached, and how well the shipped cases test each rule; it includes
  the static findings, so one report (or one HTML page) shows the whole picture.

Both judge every guideline profile by default (`profiles=("nice", "nhg")`): the rules of each profile are
loaded and checked as the engine would run them, and the findings are merged (a finding that holds in one
profile only says so). Coverage runs each case in the profile its expectations name (`expected.profile`,
absent: nice), and a rule counts as tested when the cases of any profile it belongs to fire it and miss it.
"""

from __future__ import annotations

import time
from pathlib import Path

import attrs
from attrs import define, field

from cdss import __version__, resources
from cdss.audit.checks import CHECKS, AuditContext, Check
from cdss.audit.findings import Finding, Place, count_by_severity
from cdss.errors import RuleFileError
from cdss.kb.loader import load
from cdss.kb.rules import KnowledgeBase
from cdss.model import PROFILES

DEFAULT_CASES_DIR = resources.HOME / "cases"


@define
class AuditReport:
    """Everything one audit run found; `coverage` is None for `audit rules`."""

    kind: str  # "rules" | "coverage"
    rules_dir: str
    knowledge_base: dict | None
    rules: list = field(factory=list)  # the rules that run (knowledge.Rule)
    pathways: dict = field(factory=dict)  # pathway -> {"file", "rules", "reachable"}
    findings: list[Finding] = field(factory=list)
    coverage: object = None
    elapsed_seconds: float = 0.0
    static_seconds: float = 0.0
    queries: int = 0
    fail_under: float | None = None
    timings: dict = field(factory=dict)  # check name -> seconds
    context: AuditContext | None = field(default=None, repr=False)  # the reasoning, reused by coverage
    profiles: tuple[str, ...] = ("nice",)  # the guideline profiles judged
    contexts: dict = field(factory=dict, repr=False)  # profile -> AuditContext

    @property
    def counts(self) -> dict[str, int]:
        return count_by_severity(self.findings)

    @property
    def test_coverage_ok(self) -> bool:
        if self.fail_under is None or self.coverage is None:
            return True
        return self.coverage.test_coverage_percent + 1e-9 >= self.fail_under

    @property
    def ok(self) -> bool:
        return self.counts["error"] == 0 and self.test_coverage_ok


def _runnable(kb: KnowledgeBase, findings: list[Finding]) -> bool:
    """Whether the engine would run the rule base (it loads strictly and compiles); what the loader or the
    compiler refuses becomes a finding (kept unless a check reports the same rule more precisely)."""
    for error in kb.errors:
        if error.kind in ("reference", "duplicate"):
            findings.append(Finding("load-error", "error", error.message, Place(error.rule_id, error.file, error.line)))
    if kb.errors:
        return False
    try:
        from cdss.engine import evaluator_for
        evaluator_for(kb)
        return True
    except RuleFileError as error:
        findings.append(Finding("load-error", "error", error.message, Place(error.rule_id, error.file, error.line)))
        return False


def audit_rules(rules_dir: str | Path | None = None, cases_dir: str | Path | None = DEFAULT_CASES_DIR,
                checks: tuple[type[Check], ...] = CHECKS, profiles: tuple[str, ...] = PROFILES) -> AuditReport:
    """Check a rule folder without running any case, in each guideline profile."""
    started = time.perf_counter()
    directory = Path(rules_dir) if rules_dir else resources.DEFAULT_RULES_DIR
    reports = [_audit_profile(directory, cases_dir, checks, profile) for profile in profiles]
    report = reports[0] if len(reports) == 1 else _combine(reports)
    report.elapsed_seconds = report.static_seconds = time.perf_counter() - started
    return report


def _audit_profile(directory: Path, cases_dir, checks, profile: str) -> AuditReport:
    """The audit of one profile's rules (every rule of the folder is read and checked; those of the profile
    are kept to reason about)."""
    started = time.perf_counter()
    kb = load(directory, profile=profile, collect_errors=True)
    loaded: list[Finding] = []
    runnable = _runnable(kb, loaded)
    ctx = AuditContext(kb, Path(cases_dir) if cases_dir else None, runnable)
    findings: list[Finding] = []
    timings = {}
    for check in checks:
        began = time.perf_counter()
        findings += check().check(ctx)
        timings[check.name] = time.perf_counter() - began
    # a load problem a check already reported as an error at the same rule or line is not said twice; a
    # check's warning or info at that place hides no error
    errors = [f for f in findings if f.severity == "error"]
    known = {(f.place.file, f.place.rule) for f in errors}
    findings += [f for f in loaded if (f.place.file, f.place.rule) not in known
                 and not any(g.place.file == f.place.file and g.place.line == f.place.line for g in errors)]
    findings.sort(key=Finding.sort_key)
    ctx.findings = findings
    pathways: dict[str, dict] = {}
    reachable = ctx.reachability[0] if ctx.rules else set()
    for i, rule in enumerate(ctx.rules):
        item = pathways.setdefault(rule.pathway, {"file": rule.file, "rules": 0, "reachable": 0})
        item["rules"] += 1
        item["reachable"] += i in reachable
    identity = None
    if ctx.runnable:
        identity = {"version": ctx.kb.identity.version, "sha256": ctx.kb.identity.sha256, "profiles": [profile]}
    elapsed = time.perf_counter() - started
    return AuditReport("rules", str(directory), identity, list(ctx.rules), pathways, findings,
                       elapsed_seconds=elapsed, static_seconds=elapsed, queries=ctx.queries, context=ctx,
                       timings=timings, profiles=(profile,), contexts={profile: ctx})


def _combine(reports: list[AuditReport]) -> AuditReport:
    """One report over several profiles: every rule of any profile, every finding once, and a finding that
    holds in some profiles only says which."""
    profiles = tuple(p for r in reports for p in r.profiles)
    seen: dict[tuple, tuple[Finding, list[str]]] = {}
    for report in reports:
        for finding in report.findings:
            key = (finding.check, finding.severity, finding.place, finding.message)
            seen.setdefault(key, (finding, []))[1].append(report.profiles[0])
    findings = []
    for finding, where in seen.values():
        if len(where) < len(reports):
            finding = attrs.evolve(finding, message=f"{finding.message} (profile {', '.join(where)} only)")
        findings.append(finding)
    findings.sort(key=Finding.sort_key)
    rules, reachable = {}, set()
    for report in reports:
        ctx = report.context
        for i, rule in enumerate(ctx.rules):
            rules.setdefault(rule.id, rule)
            if i in ctx.reachability[0]:
                reachable.add(rule.id)
    pathways: dict[str, dict] = {}
    for rule in rules.values():
        item = pathways.setdefault(rule.pathway, {"file": rule.file, "rules": 0, "reachable": 0})
        item["rules"] += 1
        item["reachable"] += rule.id in reachable
    identity = None
    if all(r.knowledge_base is not None for r in reports):
        identity = dict(reports[0].knowledge_base, profiles=list(profiles))
    timings: dict = {}
    for report in reports:
        for name, seconds in report.timings.items():
            timings[name] = timings.get(name, 0.0) + seconds
    first = reports[0]
    return AuditReport("rules", first.rules_dir, identity, list(rules.values()), pathways, findings,
                       queries=sum(r.queries for r in reports), context=first.context, timings=timings,
                       profiles=profiles, contexts={p: c for r in reports for p, c in r.contexts.items()})


def audit_coverage(paths: list[str], rules_dir: str | Path | None = None,
                   cases_dir: str | Path | None = DEFAULT_CASES_DIR, fail_under: float | None = None,
                   jobs: int = 1, profiles: tuple[str, ...] = PROFILES, engine: str = "durable") -> AuditReport:
    """Run the corpus (in `jobs` worker processes), each case in its own profile, measure what it reaches,
    and add the static findings."""
    from cdss.audit.coverage import measure
    started = time.perf_counter()
    report = audit_rules(rules_dir, cases_dir, profiles=profiles)
    if not all(ctx.runnable for ctx in report.contexts.values()):
        raise RuleFileError(report.rules_dir, "the rule base does not load, so no case can run: "
                            "see `cdss audit rules` for the findings")
    report.kind = "coverage"
    report.fail_under = fail_under
    report.coverage = measure(paths, report.contexts, jobs, engine)
    report.findings = sorted(report.findings + report.coverage.findings, key=Finding.sort_key)
    report.elapsed_seconds = time.perf_counter() - started
    return report


def tool_identity() -> dict:
    return {"name": "cdss", "version": __version__}
