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
from pathlib import Path

from attrs import define, field

from . import cases, policies
from .audit_checks import AuditContext, conclusion_key, positive_alternatives, show_conclusion
from .audit_model import Finding, Place
from .audit_source import describe
from .conditions import STATUS_RANK, All, Any_, Count, Node, Not, Score
from .engine import evaluator_for
from .errors import CaseError, EngineFault

CODE_LISTS = (("conditions", "condition", "conditions"), ("red_flags", "red_flag", "red_flags"),
              ("recommendations", "recommend", "recommendations"), ("do_not", "advise_against", "do_not"))
SHOWN_IDS = 20


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


def corpus(paths: list[str]):
    """(folder label, source, case or CaseError) for every case under the paths: folders are searched for
    *.json and *.jsonl; a .jsonl file holds one case per line."""
    for item in paths:
        root = Path(item)
        files = sorted(p for p in root.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file()) \
            if root.is_dir() else [root]
        for path in files:
            if root.is_dir():
                rel = path.parent.relative_to(root)
                folder = str(rel) if str(rel) != "." else root.name
            else:
                folder = path.parent.name or "."
            if path.suffix == ".jsonl":
                yield from _jsonl(folder, path)
                continue
            try:
                yield folder, str(path), cases.read_case(str(path))
            except CaseError as error:
                yield folder, str(path), error


def _jsonl(folder: str, path: Path):
    try:
        lines = path.read_bytes().splitlines()
    except OSError as error:
        yield folder, str(path), CaseError(str(path), "", f"cannot read: {error.strerror or error}")
        return
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        source = f"{path}:{number}"
        try:
            yield folder, source, cases.case_from_data(cases.decode(raw, source), str(path), number)
        except CaseError as error:
            yield folder, source, error


def measure(paths: list[str], ctx: AuditContext) -> Coverage:
    """Run every case of the corpus and gather what it reached (compiled case validation for the run:
    jsonschema still decides and explains every case the fast check refuses)."""
    was_fast = cases._FAST["on"]  # noqa: SLF001 - restored below, so that callers see no change
    cases.use_fast_validation()
    try:
        return _measure(paths, ctx)
    finally:
        cases._FAST["on"] = was_fast  # noqa: SLF001


def _measure(paths: list[str], ctx: AuditContext) -> Coverage:
    started = time.perf_counter()
    kb = ctx.kb
    evaluator = evaluator_for(kb)
    cov = Coverage([str(p) for p in paths])
    source_rules = {rule.id: rule for rule in ctx.rules}
    branch_of: dict[str, dict[int, Branch]] = {}
    for rule in ctx.rules:
        item = cov.rules[rule.id] = RuleCoverage(rule.id, rule.pathway, rule.file, rule.line, rule.status)
        branch_of[rule.id] = {}
        for index, node in enumerate(positive_alternatives(rule.when)):
            branch = Branch(rule.id, index, describe(node, 100), ctx.source.line_of(node, rule))
            item.branches.append(branch)
            branch_of[rule.id][id(node)] = branch
    pathway_of = _condition_pathways(ctx)
    cov.conditions = {code: {"pathway": pathway_of.get(code), "suspected": 0, "probable": 0, "confirmed": 0}
                      for code in ctx.vocab["conditions"]}
    cov.red_flags = {code: {"suspected": 0, "confirmed": 0} for code in ctx.vocab["red_flags"]}
    produced: dict[str, set] = {name: set() for name, _, _ in CODE_LISTS}
    expected_broken: list[tuple[str, str]] = []
    folders: list[str] = []
    reached: dict[str, Counter] = {}
    for folder, where, case in corpus(paths):
        if isinstance(case, CaseError):
            cov.case_errors.append((where, str(case)))
            continue
        try:
            run = evaluator.run(case)
        except EngineFault as error:
            cov.case_errors.append((where, f"engine fault: {error}"))
            continue
        result = policies.build_result(run, kb, evaluator.stratum_of)
        cov.cases += 1
        if folder not in folders:
            folders.append(folder)
        for rule_id in run.fired:
            item = cov.rules.get(rule_id)
            if item is None:
                continue
            item.fired += 1
            item.case_ids.add(case.id)
            item.folders[folder] += 1
            _mark_reasons(source_rules[rule_id].when, run.facts, branch_of[rule_id])
        _shadowing(run, cov)
        expected = case.data.get("expected") or {}
        cov.labelled += bool(expected)
        for rule_id in expected.get("rules_fired", ()):
            if rule_id not in run.fired:
                expected_broken.append((where, f"case {case.id} expects {rule_id} to fire, but it did not"))
        for rule_id in expected.get("rules_not_fired", ()):
            if rule_id in run.fired:
                expected_broken.append((where, f"case {case.id} expects {rule_id} not to fire, but it fired"))
            elif rule_id in cov.rules:
                cov.rules[rule_id].negative.append(case.id)
        for name, _, _ in CODE_LISTS:
            produced[name] |= {item.code for item in getattr(result, name)}
        for condition in result.conditions:
            cov.conditions[condition.code][condition.status] += 1
        best: dict[str, str] = {}
        for condition in result.conditions:
            pathway = pathway_of.get(condition.code) or "?"
            if STATUS_RANK[condition.status] > STATUS_RANK.get(best.get(pathway), 0):
                best[pathway] = condition.status
        for pathway, status in best.items():
            reached.setdefault(pathway, Counter())[status] += 1
        for flag in result.red_flags:
            cov.red_flags[flag.code][flag.status] += 1
        if result.red_flags:
            top = max((flag.status for flag in result.red_flags), key=("suspected", "confirmed").index)
            reached.setdefault("red_flags", Counter())[top] += 1
        if not result.conditions and not result.red_flags:
            cov.fell_through.append(case.id)
    cov.folders = sorted(folders)
    cov.pathways = _pathways(ctx, cov, reached)
    cov.codes = _codes(ctx, produced)
    cov.shadowed = sorted(r.id for r in cov.rules.values() if r.fired and r.shadowed_in == r.fired)
    cov.findings = _findings(ctx, cov, expected_broken)
    cov.seconds = time.perf_counter() - started
    return cov


def _mark_reasons(node: Node, facts, branches: dict[int, Branch]) -> None:
    """Mark the alternatives that held in a rule that fired: the reasons it fired."""
    if isinstance(node, Not):
        return
    if isinstance(node, All):
        for item in node.items:
            _mark_reasons(item, facts, branches)
    elif isinstance(node, (Any_, Count)):
        for item in node.items:
            if item.holds(facts) is not None:
                branches[id(item)].covered += 1
                _mark_reasons(item, facts, branches)
    elif isinstance(node, Score):
        for domain in node.domains:
            best = max(((points, item) for points, item in domain.options if item.holds(facts) is not None),
                       key=lambda pair: pair[0], default=None)
            if best is not None:
                branches[id(best[1])].covered += 1
                _mark_reasons(best[1], facts, branches)


def _shadowing(run, cov: Coverage) -> None:
    keys: dict[str, set] = {}
    for rule, conclusion in run.conclusions:
        keys.setdefault(rule.id, set()).add(conclusion_key(conclusion))
    for rule_id, mine in keys.items():
        others = set().union(*(k for other, k in keys.items() if other != rule_id)) if len(keys) > 1 else set()
        if mine <= others and rule_id in cov.rules:
            cov.rules[rule_id].shadowed_in += 1


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
    dead = {(f.place.rule, f.place.line) for f in ctx_findings(ctx) if f.check == "dead-alternative"}
    for where, message in cov.case_errors:
        out.append(Finding("case-error", "error", message, _place_of(where)))
    for where, message in broken:
        out.append(Finding("expectation-broken", "warning", message, _place_of(where)))
    for rule in ctx.rules:
        r = cov.rules[rule.id]
        place = ctx.source.place(rule)
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
                           f"concludes ({what}): a candidate for removal", ctx.source.place(rule)))
    vocab_file = str(Path(__file__).parent / "data" / "vocabulary.yaml")
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


def ctx_findings(ctx: AuditContext) -> list[Finding]:
    return getattr(ctx, "findings", [])


def _place_of(where: str) -> Place:
    """`file` or `file.jsonl:line` as a place."""
    file, _, line = where.rpartition(":")
    if file.endswith(".jsonl") and line.isdigit():
        return Place(None, file, int(line))
    return Place(None, where)
