"""What the checks share: the rule base as read, its logic, the cases' expectations, and (when the rule
base runs) the engine to evaluate witness cases; and the base class of a check.

The rule base is read by the one rule loader in its collecting mode (`cdss.kb.loader.load(dir,
collect_errors=True)`), so the audit judges exactly the rules the engine runs and still sees every rule
that does not load: `kb.entries` (every rule as written), `kb.errors`, `kb.unknown_fields`,
`kb.documents` (each file's data and YAML nodes) and `kb.node_lines` (the line of every condition).
"""

from __future__ import annotations

import functools
from pathlib import Path

from cdss import resources
from cdss.audit.findings import Finding, Place
from cdss.audit.logic import questions
from cdss.audit.logic.formulas import RuleLogic
from cdss.kb.conditions import Node
from cdss.kb.rules import KnowledgeBase, Rule


class AuditContext:
    """What the checks share. `kb` is the rule base as read in collecting mode; `runnable` says whether the
    engine would run it (it loads strictly and compiles), which witness cases and coverage need."""

    def __init__(self, kb: KnowledgeBase, cases_dir: Path | None = None, runnable: bool = False):
        self.kb = kb
        self.runnable = runnable
        self.rules = list(kb.rules)  # the rules that run: parsed, not deprecated, first of their id
        self.vocab = resources.vocabulary()
        self.logic = RuleLogic(self.rules, self.vocab["red_flags"], kb.policy.trials)
        self.index = {rule.id: i for i, rule in enumerate(self.rules)}
        self.cases_dir = cases_dir
        self.queries = 0
        self.findings: list[Finding] = []  # the static findings, once the checks have run

    def place(self, rule: Rule, node: Node | None = None) -> Place:
        """Where a rule (or one condition of it) is written."""
        return Place(rule.id, rule.file, rule.line if node is None else self.kb.line_of(node, rule))

    def solve(self, *roots, prefer=()):
        self.queries += 1
        return questions.solve(self.logic, *roots, prefer=prefer)

    def fire(self, rule) -> int:
        return self.logic.fire(self.index[rule.id])

    @functools.cached_property
    def reachability(self) -> tuple[set[int], set[int], list]:
        """(reachable, unreachable) rule indices, and the models found on the way (reused by other checks)."""
        reachable, unreachable, models = set(), set(), []
        for i in range(len(self.rules)):
            if i in reachable:
                continue
            wanted = [self.logic.fire(j) for j in range(i + 1, len(self.rules)) if j not in reachable]
            model = self.solve(self.logic.fire(i), prefer=wanted)
            if model is None:
                unreachable.add(i)
                continue
            models.append(model)
            reachable |= {key[1] for key, on in model.defs.items() if key[0] == "fire" and on}
        return reachable, unreachable, models

    def reachable(self, rule) -> bool:
        return self.index[rule.id] in self.reachability[0]

    def run_witness(self, model, case_id: str = "audit-witness"):
        """(case data, fired rule ids, result dict) for a model, or None when it cannot be evaluated. The
        witness goes through the engine's one entry point, `evaluate`, as any case does; the rules that
        fired are the trace's entries that are not `policy.*` ones."""
        if not self.runnable:
            return None
        data = model.case(case_id)
        if data is None:
            return None
        from cdss.engine import evaluate
        from cdss.errors import CdssError
        from cdss.io import cases
        from cdss.model import Case
        try:
            cases.validate(data, case_id)
            result = evaluate(Case(case_id, data), self.kb)
        except CdssError:
            return None
        fired = {entry.rule for entry in result.trace if not entry.rule.startswith("policy.")}
        return data, fired, result.to_dict()

    @functools.cached_property
    def expectations(self) -> dict[str, dict[str, list[str]]]:
        """rule id -> {"fire": [case files], "miss": [case files]} from `expected` under cases/."""
        out: dict[str, dict[str, list[str]]] = {}
        for path, data in self.case_data:
            expected = data.get("expected") if isinstance(data, dict) else None
            if not isinstance(expected, dict):
                continue
            for key, kind in (("rules_fired", "fire"), ("rules_not_fired", "miss")):
                for rule_id in expected.get(key, ()) if isinstance(expected.get(key), list) else ():
                    out.setdefault(rule_id, {"fire": [], "miss": []})[kind].append(str(path))
        return out

    @functools.cached_property
    def case_data(self) -> list[tuple[Path, dict]]:
        """(file, case) for every case under the cases folder that decodes (through the one input layer)."""
        if self.cases_dir is None or not Path(self.cases_dir).is_dir():
            return []
        from cdss.errors import CaseError
        from cdss.io import cases, inputs
        out = []
        for item in inputs.items([str(self.cases_dir)]):
            try:
                if item.raw is not None:
                    out.append((Path(item.source), cases.decode(item.raw, item.where)))
            except CaseError:
                continue
        return out


class Check:
    """Base of the validators: a name, and check(context) -> findings."""

    name = "check"

    def check(self, ctx: AuditContext) -> list[Finding]:
        raise NotImplementedError
