"""Coverage of the rule base over a corpus of cases: what the cases reach, and what they never reach.

Each case runs through the engine once (the same Evaluator that `evaluate` uses); from its CaseRun the audit
reads which rules fired, what each concluded, and the case's final knowledge, against which every `any`,
`count` and `score` alternative of a fired rule is checked: an alternative that held was (one of) the
reasons the rule fired. The result of the case (after the result-level policies) gives the codes produced
and the statuses reached.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Iterator

from attrs import define, field, frozen

from cdss import resources
from cdss.audit.checks.context import AuditContext
from cdss.audit.findings import Finding, Place
from cdss.audit.rule_parts import conclusion_key, describe, positive_alternatives, show_conclusion
from cdss.batch import pool
from cdss.engine import evaluator_for, policies
from cdss.errors import CaseError, EngineFault
from cdss.io import cases, expectations, inputs
from cdss.io.inputs import Item
from cdss.kb.conditions import STATUS_RANK, All, Any_, Count, Node, Not, Score

CODE_LISTS = (("conditions", "condition", "conditions"), ("red_flags", "red_flag", "red_flags"),
              ("recommendations", "recommend", "recommendations"), ("do_not", "advise_against", "do_not"))
SHOWN_IDS = 20
CHUNK = 64  # cases a worker evaluates per message


@define
class Branch:
    """One alternative of an any / count / score in a rule."""

    rule: str
    index: int
    label: str
    line: int
    covered: int = 0

    def to_dict(self) -> dict:
        return {"index": self.index, "label": self.label, "line": self.line, "covered": self.covered}


@define
class RuleCoverage:
    id: str
    pathway: str
    file: str
    line: int
    status: str
    fired: int = 0
    case_ids: set = field(factory=set)
    negative: list[str] = field(factory=list)
    folders: Counter = field(factory=Counter)
    branches: list[Branch] = field(factory=list)
    shadowed_in: int = 0  # cases in which everything it concluded also came from another rule

    @property
    def positive(self) -> list[str]:
        return sorted(self.case_ids)

    @property
    def tested(self) -> bool:
        return bool(self.case_ids) and bool(self.negative)

    def to_dict(self) -> dict:
        return {"id": self.id, "pathway": self.pathway, "file": self.file, "line": self.line, "status": self.status,
                "fired": self.fired, "cases": len(self.case_ids), "positive_cases": self.positive,
                "negative_cases": sorted(set(self.negative)), "folders": dict(sorted(self.folders.items())),
                "branches": [b.to_dict() for b in self.branches]}


@define
class Coverage:
    paths: list[str]
    cases: int = 0
    labelled: int = 0  # cases with an `expected` block
    case_errors: list[tuple[str, str]] = field(factory=list)
    rules: dict[str, RuleCoverage] = field(factory=dict)
    folders: list[str] = field(factory=list)
    conditions: dict[str, dict] = field(factory=dict)
    red_flags: dict[str, dict] = field(factory=dict)
    pathways: dict[str, dict] = field(factory=dict)
    codes: dict = field(factory=dict)
    fell_through: list[str] = field(factory=list)
    other_profile: Counter = field(factory=Counter)  # cases not run: their profile is not judged
    shadowed: list[str] = field(factory=list)
    findings: list[Finding] = field(factory=list)
    seconds: float = 0.0

    @property
    def rules_fired(self) -> int:
        return sum(1 for r in self.rules.values() if r.fired)

    @property
    def branches_total(self) -> int:
        return sum(len(r.branches) for r in self.rules.values())

    @property
    def branches_covered(self) -> int:
        return sum(1 for r in self.rules.values() for b in r.branches if b.covered)

    @property
    def test_coverage_percent(self) -> float:
        if not self.rules:
            return 100.0
        return 100.0 * sum(1 for r in self.rules.values() if r.tested) / len(self.rules)


class Profiles:
    """The audit contexts of the guideline profiles judged, seen as one: every rule of any profile (each as
    its own profile's context read it), reachable when it is in any profile."""

    def __init__(self, contexts: dict[str, AuditContext]):
        self.contexts = contexts
        first = next(iter(contexts.values()))
        self.vocab = first.vocab
        self.kb = self  # line_of, as a knowledge base answers it
        self.rules, self._home = [], {}
        for ctx in contexts.values():
            for rule in ctx.rules:
                if rule.id not in self._home:
                    self._home[rule.id] = ctx
                    self.rules.append(rule)
        self.index = {rule.id: i for i, rule in enumerate(self.rules)}
        self.findings = [f for ctx in contexts.values() for f in getattr(ctx, "findings", [])]

    def line_of(self, node, rule) -> int:
        return self._home[rule.id].kb.line_of(node, rule)

    @property
    def policy(self):
        """The clinical policy (one manifest serves every profile)."""
        return next(iter(self.contexts.values())).kb.policy

    def place(self, rule, node=None) -> Place:
        return self._home[rule.id].place(rule, node)

    def reachable(self, rule) -> bool:
        return any(rule.id in ctx.index and ctx.reachable(ctx.rules[ctx.index[rule.id]])
                   for ctx in self.contexts.values())


def measure(paths: list[str], contexts: dict[str, AuditContext] | AuditContext, jobs: int = 1,
            engine: str = "durable") -> Coverage:
    """Run every case of the corpus, in the profile its expectations name, and gather what it reached."""
    if isinstance(contexts, AuditContext):
        contexts = {contexts.kb.profile: contexts}
    return _measure(paths, contexts, jobs, engine)


@frozen
class CaseRecord:
    """What one case reached, small enough to send back from a worker process."""

    folder: str
    where: str
    error: str | None = None
    case_id: str = ""
    fired: tuple = ()  # rule ids
    reasons: tuple = ()  # (rule id, branch index): alternatives that held in a rule that fired
    shadowed: tuple = ()  # rule ids whose every conclusion another rule also drew
    broken: tuple = ()  # `expected.rules_fired / rules_not_fired` the case contradicts
    negatives: tuple = ()  # rules the case expects absent, and that stayed absent
    labelled: bool = False
    produced: tuple = ()  # (code list, code)
    conditions: tuple = ()  # (code, status)
    red_flags: tuple = ()  # (code, status)
    other_profile: str | None = None  # the case expects a profile this audit does not judge: not run


class _Recorder:
    """Evaluates one case in one profile and reads off its CaseRecord, with an engine of its own."""

    def __init__(self, ctx: AuditContext, engine: str = "durable"):
        self.ctx = ctx
        self.evaluator = evaluator_for(ctx.kb, engine)
        self.when = {rule.id: rule.when for rule in ctx.rules}
        self.branch_index = {rule.id: {id(node): i for i, node in enumerate(positive_alternatives(rule.when))}
                             for rule in ctx.rules}

    def record(self, folder: str, where: str, case) -> CaseRecord:
        try:
            run = self.evaluator.run(case)
        except EngineFault as error:
            return CaseRecord(folder, where, f"engine fault: {error}")
        result = policies.build_result(run, self.ctx.kb, self.evaluator.stratum_of, engine=self.evaluator.engine)
        reasons = []
        for rule_id in run.fired:
            if rule_id in self.when:
                _mark_reasons(self.when[rule_id], run.facts, self.branch_index[rule_id], rule_id, reasons)
        expected = case.data.get("expected") or {}
        broken = tuple((where, f"case {case.id} expects {rule_id} to fire, but it did not")
                       for rule_id in expected.get("rules_fired", ()) if rule_id not in run.fired)
        broken += tuple((where, f"case {case.id} expects {rule_id} not to fire, but it fired")
                        for rule_id in expected.get("rules_not_fired", ()) if rule_id in run.fired)
        return CaseRecord(
            folder, where, None, case.id, tuple(run.fired), tuple(reasons), _shadowing(run), broken,
            tuple(r for r in expected.get("rules_not_fired", ()) if r not in run.fired), bool(expected),
            tuple((name, item.code) for name, _, _ in CODE_LISTS for item in getattr(result, name)),
            tuple((c.code, c.status) for c in result.conditions), tuple((f.code, f.status) for f in result.red_flags))


class Recorders:
    """What a coverage worker holds (one per process: the audit's own, or each pool worker's, built by the
    pool): the compiled case validator (jsonschema still decides and explains every case the fast check
    refuses) and one recorder per guideline profile; a case goes to the profile its expectations name."""

    def __init__(self, contexts: dict[str, AuditContext], engine: str = "durable"):
        self.validator = cases.Validator(fast=True)
        self.by_profile = {profile: _Recorder(ctx, engine) for profile, ctx in contexts.items()}

    def __call__(self, item: Item) -> CaseRecord:
        folder, where = item.folder, item.where
        try:
            if item.problem is not None:
                raise CaseError(where, "", item.problem)
            case = self.validator.case(cases.decode(item.raw, where), item.source, item.line)
        except CaseError as error:  # a case that could not be read: its message
            return CaseRecord(folder, where, str(error))
        profile = expectations.profile_of(case.data.get("expected") or {})
        recorder = self.by_profile.get(profile)
        if recorder is None:
            return CaseRecord(folder, where, None, case.id, other_profile=profile)
        return recorder.record(folder, where, case)


def _failed(item: Item, failure: pool.Failure) -> CaseRecord:
    """The record of a case whose worker died on it (twice) or ran out of time: an error, and the run goes on."""
    what = {"died": f"the worker process died while auditing this case ({failure.detail})",
            "timeout": f"auditing this case took longer than {failure.detail}"}.get(failure.kind,
                                                                                  f"internal error: {failure.detail}")
    return CaseRecord(item.folder, item.where, f"{item.where}: /: {what}; the worker was replaced and the run went on")


def _records(paths: list[str], contexts: dict[str, AuditContext], jobs: int, engine: str) -> Iterator[CaseRecord]:
    """Every case's record in corpus order: in this process, or in `jobs` worker processes through the
    ordered window that `cdss batch` uses (so a corpus of any size streams, and a worker that dies costs
    one case)."""
    items = inputs.items(paths)
    if jobs <= 1:
        backend = pool.InlineBackend(Recorders(contexts, engine))
    else:
        jobs, _ = pool.capped_jobs(jobs, None)
        backend = pool.ProcessBackend(jobs, Recorders, (contexts, engine), pool.DEFAULT_CASE_TIMEOUT)
    backend.start()
    try:
        for records in pool.ordered(items, backend, CHUNK, 4 * backend.jobs, _failed):
            yield from records
    except BaseException:
        backend.shutdown(now=True)
        raise
    backend.shutdown()


def _measure(paths: list[str], contexts: dict[str, AuditContext], jobs: int, engine: str) -> Coverage:
    started = time.perf_counter()
    ctx = Profiles(contexts)
    cov = Coverage([str(p) for p in paths])
    branches: dict[str, list[Branch]] = {}
    for rule in ctx.rules:
        item = cov.rules[rule.id] = RuleCoverage(rule.id, rule.pathway, rule.file, rule.line, rule.status)
        for index, node in enumerate(positive_alternatives(rule.when)):
            item.branches.append(Branch(rule.id, index, describe(node, 100), ctx.kb.line_of(node, rule)))
        branches[rule.id] = item.branches
    pathway_of = _condition_pathways(ctx)
    cov.conditions = {code: {"pathway": pathway_of.get(code), "suspected": 0, "probable": 0, "confirmed": 0}
                      for code in ctx.vocab["conditions"]}
    cov.red_flags = {code: {"suspected": 0, "confirmed": 0} for code in ctx.vocab["red_flags"]}
    produced: dict[str, set] = {name: set() for name, _, _ in CODE_LISTS}
    expected_broken: list[tuple[str, str]] = []
    folders: dict[str, None] = {}
    reached: dict[str, Counter] = {}
    for record in _records(paths, contexts, jobs, engine):
        if record.error is not None:
            cov.case_errors.append((record.where, record.error))
            continue
        if record.other_profile is not None:
            cov.other_profile[record.other_profile] += 1
            continue
        cov.cases += 1
        folders.setdefault(record.folder)
        for rule_id in record.fired:
            item = cov.rules.get(rule_id)
            if item is not None:
                item.fired += 1
                item.case_ids.add(record.case_id)
                item.folders[record.folder] += 1
        for rule_id, index in record.reasons:
            branches[rule_id][index].covered += 1
        for rule_id in record.shadowed:
            if rule_id in cov.rules:
                cov.rules[rule_id].shadowed_in += 1
        cov.labelled += record.labelled
        expected_broken.extend(record.broken)
        for rule_id in record.negatives:
            if rule_id in cov.rules:
                cov.rules[rule_id].negative.append(record.case_id)
        for name, code in record.produced:
            produced[name].add(code)
        best: dict[str, str] = {}
        for code, status in record.conditions:
            cov.conditions[code][status] += 1
            pathway = pathway_of.get(code) or "?"
            if STATUS_RANK[status] > STATUS_RANK.get(best.get(pathway), 0):
                best[pathway] = status
        for pathway, status in best.items():
            reached.setdefault(pathway, Counter())[status] += 1
        for code, status in record.red_flags:
            cov.red_flags[code][status] += 1
        if record.red_flags:
            top = max((status for _, status in record.red_flags), key=("suspected", "confirmed").index)
            reached.setdefault("red_flags", Counter())[top] += 1
        if not record.conditions and not record.red_flags:
            cov.fell_through.append(record.case_id)
    cov.folders = sorted(folders)
    cov.pathways = _pathways(ctx, cov, reached)
    cov.codes = _codes(ctx, produced)
    cov.shadowed = sorted(r.id for r in cov.rules.values() if r.fired and r.shadowed_in == r.fired)
    cov.findings = _findings(ctx, cov, expected_broken)
    cov.seconds = time.perf_counter() - started
    return cov


def _mark_reasons(node: Node, facts, index: dict[int, int], rule_id: str, out: list) -> None:
    """The alternatives that held in a rule that fired (the reasons it fired), as (rule id, branch index)."""
    if isinstance(node, Not):
        return
    if isinstance(node, All):
        for item in node.items:
            _mark_reasons(item, facts, index, rule_id, out)
    elif isinstance(node, (Any_, Count)):
        for item in node.items:
            if item.holds(facts) is not None:
                out.append((rule_id, index[id(item)]))
                _mark_reasons(item, facts, index, rule_id, out)
    elif isinstance(node, Score):
        for domain in node.domains:
            best = max(((points, item) for points, item in domain.options if item.holds(facts) is not None),
                       key=lambda pair: pair[0], default=None)
            if best is not None:
                out.append((rule_id, index[id(best[1])]))
                _mark_reasons(best[1], facts, index, rule_id, out)


def _shadowing(run) -> tuple[str, ...]:
    """Rules whose every conclusion in this case another rule also drew."""
    keys: dict[str, set] = {}
    for rule, conclusion in run.conclusions:
        keys.setdefault(rule.id, set()).add(conclusion_key(conclusion))
    shadowed = []
    for rule_id, mine in keys.items():
        others = set().union(*(k for other, k in keys.items() if other != rule_id)) if len(keys) > 1 else set()
        if mine <= others:
            shadowed.append(rule_id)
    return tuple(shadowed)


def _condition_pathways(ctx: AuditContext) -> dict[str, str]:
    out: dict[str, str] = {}
    for rule in ctx.rules:
        for c in rule.then:
            if c.kind == "condition":
                out.setdefault(c.data["code"], rule.pathway)
    return out


def _pathways(ctx: AuditContext, cov: Coverage, reached: dict[str, Counter]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for rule in ctx.rules:
        item = out.setdefault(rule.pathway, {"file": rule.file, "rules": 0, "rules_fired": 0, "branches": 0,
                                             "branches_covered": 0, "tested": 0, "cases": {}})
        r = cov.rules[rule.id]
        item["rules"] += 1
        item["rules_fired"] += bool(r.fired)
        item["branches"] += len(r.branches)
        item["branches_covered"] += sum(1 for b in r.branches if b.covered)
        item["tested"] += r.tested
    for pathway, counts in reached.items():
        statuses = ("suspected", "confirmed") if pathway == "red_flags" else ("suspected", "probable", "confirmed")
        if pathway in out:
            out[pathway]["cases"] = {s: counts.get(s, 0) for s in statuses}
    for pathway, item in out.items():
        if not item["cases"]:
            statuses = ("suspected", "confirmed") if pathway == "red_flags" else ("suspected", "probable", "confirmed")
            item["cases"] = {s: 0 for s in statuses} if any(
                c.kind in ("condition", "red_flag") for r in ctx.rules if r.pathway == pathway for c in r.then) else {}
    return out


def _codes(ctx: AuditContext, produced: dict[str, set]) -> dict:
    reachable = [rule for rule in ctx.rules if ctx.reachable(rule)]
    out = {"lists": {}, "total": 0, "producible": 0, "produced": 0}
    for name, kind, vocab_key in CODE_LISTS:
        codes = list(ctx.vocab[vocab_key])
        can = {c.data["code"] for rule in reachable for c in rule.then if c.kind == kind}
        can |= set(ctx.kb.policy.codes_made().get(name, ()))  # what the result-level policies add
        entry = {"total": len(codes), "unproducible": [c for c in codes if c not in can],
                 "never_produced": [c for c in codes if c not in produced[name]],
                 "produced": sum(1 for c in codes if c in produced[name])}
        out["lists"][name] = entry
        out["total"] += len(codes)
        out["producible"] += len(codes) - len(entry["unproducible"])
        out["produced"] += entry["produced"]
    return out


def _findings(ctx: AuditContext, cov: Coverage, broken: list[tuple[str, str]]) -> list[Finding]:
    out = []
    dead = {(f.place.rule, f.place.line) for f in ctx.findings if f.check == "dead-alternative"}
    for where, message in cov.case_errors:
        out.append(Finding("case-error", "error", message, _place_of(where)))
    for where, message in broken:
        out.append(Finding("expectation-broken", "warning", message, _place_of(where)))
    for rule in ctx.rules:
        r = cov.rules[rule.id]
        place = ctx.place(rule)
        if not r.fired:
            out.append(Finding("never-fired", "warning", "no case in the corpus makes this rule fire", place))
        elif not r.negative and cov.labelled:
            out.append(Finding("no-near-miss", "warning",
                               "no case in the corpus expects this rule absent (expected.rules_not_fired)", place))
        if r.fired:
            for branch in r.branches:
                if not branch.covered and (rule.id, branch.line) not in dead:
                    out.append(Finding("branch-not-covered", "info",
                                       f"the alternative `{branch.label}` was never the reason this rule fired",
                                       Place(rule.id, rule.file, branch.line)))
    for rule_id in cov.shadowed:
        rule = ctx.rules[ctx.index[rule_id]]
        what = "; ".join(show_conclusion(c) for c in rule.then)
        out.append(Finding("always-shadowed", "info",
                           f"in every case it fired ({cov.rules[rule_id].fired}), another rule also concluded all it "
                           f"concludes ({what}): a candidate for removal", ctx.place(rule)))
    vocab_file = str(resources.VOCABULARY_FILE)
    for name, entry in cov.codes["lists"].items():
        for code in entry["unproducible"]:
            out.append(Finding("code-unproducible", "warning",
                               f"no rule that can fire produces the {name} code {code!r}", Place(None, vocab_file)))
        never = [c for c in entry["never_produced"] if c not in entry["unproducible"]]
        if never:
            out.append(Finding("code-never-produced", "info",
                               f"the corpus never produced these {name} codes: {', '.join(never)}",
                               Place(None, vocab_file)))
    if cov.fell_through:
        shown = ", ".join(cov.fell_through[:SHOWN_IDS]) + (" ..." if len(cov.fell_through) > SHOWN_IDS else "")
        out.append(Finding("fell-through", "info",
                           f"{len(cov.fell_through)} case(s) reached no condition and no red flag: {shown}",
                           Place(None, cov.paths[0] if len(cov.paths) == 1 else ", ".join(cov.paths))))
    return out


def _place_of(where: str) -> Place:
    """`file` or `file.jsonl:line` as a place."""
    file, _, line = where.rpartition(":")
    if file.endswith(".jsonl") and line.isdigit():
        return Place(None, file, int(line))
    return Place(None, where)
