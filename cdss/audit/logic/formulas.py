"""Rule conditions as propositional logic over the case's fields, for the audit's reasoning.

Every rule's `when` becomes a formula whose atoms are case inputs: which region of a number field the value
lies in (regions are cut at every threshold any rule uses, so each test is true or false on a whole
region), which enum value or list item is present, which treatment trials exist. A derived fact, a
condition at a status or a red flag at an urgency is a named definition: true exactly when one of the
rules concluding it fires. That is how the engine's stratified fixpoint behaves, so a question such as
"can one case make rule A fire and not rule B?" is a satisfiability question (`questions.solve`): `encoding` turns only the
rules and fields the question touches into clauses, `solver` answers, and `witnesses` turns an answer
into a case. Chains are followed to the case fields at the bottom; the fields' regions are `regions`.

Two kinds of atom are kept opaque and so over-approximated: comparisons between two fields
(`crp_mg_l > crp_uln_mg_l`) and scores too large to enumerate. Over-approximation can only add models,
so an answer of "impossible" (an unreachable rule, a subsumed rule) is never wrong because of it; an
answer of "possible" comes with a witness case that is checked by evaluating it.
"""

from __future__ import annotations

import itertools
import math
from typing import Iterable

from cdss.audit.logic.regions import FieldSpace
from cdss.kb.conditions import All, Any_, ConditionTest, Count, FactTest, FieldRef, FieldTest, Node, Not, RedFlagTest, Score, TrialTest, compare
from cdss.kb.policy import TrialDefinition

FALSE, TRUE = 0, 1
MAX_SCORE_COMBINATIONS = 20000


class Formulas:
    """Hash-consed formulas: each distinct formula is one small integer."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, tuple]] = [("F", ()), ("T", ())]
        self.index: dict[tuple[str, tuple], int] = {self.nodes[0]: FALSE, self.nodes[1]: TRUE}

    def _make(self, op: str, args: tuple) -> int:
        key = (op, args)
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.nodes)
            self.nodes.append(key)
        return found

    def var(self, key: tuple) -> int:
        return self._make("v", (key,))

    def defn(self, key: tuple) -> int:
        return self._make("d", (key,))

    def not_(self, node: int) -> int:
        if node == TRUE:
            return FALSE
        if node == FALSE:
            return TRUE
        op, args = self.nodes[node]
        if op == "not":
            return args[0]
        return self._make("not", (node,))

    def _junction(self, op: str, items: Iterable[int], unit: int, zero: int) -> int:
        flat: set[int] = set()
        for item in items:
            if item == zero:
                return zero
            if item == unit:
                continue
            kind, args = self.nodes[item]
            if kind == op:
                flat.update(args)
            else:
                flat.add(item)
        for item in flat:
            if self.not_(item) in flat:
                return zero
        if not flat:
            return unit
        if len(flat) == 1:
            return next(iter(flat))
        return self._make(op, tuple(sorted(flat)))

    def and_(self, items: Iterable[int]) -> int:
        return self._junction("and", items, TRUE, FALSE)

    def or_(self, items: Iterable[int]) -> int:
        return self._junction("or", items, FALSE, TRUE)


# -- rules as formulas ---------------------------------------------------------------------------

class RuleLogic:
    """The rule base as formulas: fire(i) holds exactly when rule i fires on a case."""

    def __init__(self, rules, red_flag_codes: Iterable[str], trials: TrialDefinition = TrialDefinition()):
        self.rules = list(rules)
        self.formulas = Formulas()
        self.red_flag_codes = tuple(red_flag_codes)
        self.trials = trials  # the knowledge base's definition of a failed or running trial
        tests, trials = [], {}
        for rule in self.rules:
            for node in rule.when.walk():
                if isinstance(node, FieldTest):
                    tests.append(node)
                elif isinstance(node, TrialTest):
                    trials.setdefault(node.code, set()).add(self._trial_key(node))
        self.space = FieldSpace(tests)
        self.ref_keys = {("ref", t.path, t.op, t.operand.path, t.operand.times, t.operand.plus)
                         for t in tests if isinstance(t.operand, FieldRef)}
        self.trial_keys = trials
        self.asserters: dict[tuple, list[int]] = {}
        for index, rule in enumerate(self.rules):
            for conclusion in rule.then:
                d = conclusion.data
                if conclusion.kind == "assert":
                    self.asserters.setdefault(("fact", d["name"]), []).append(index)
                elif conclusion.kind == "condition":
                    self.asserters.setdefault(("cond", d["code"], d["status"]), []).append(index)
                elif conclusion.kind == "red_flag":
                    self.asserters.setdefault(("flag", d["code"], d["urgency"]), []).append(index)
        self._when: dict[int, int] = {}
        self._bodies: dict[tuple, int] = {}

    # formulas
    def fire(self, index: int) -> int:
        return self.formulas.defn(("fire", index))

    def body(self, key: tuple) -> int:
        found = self._bodies.get(key)
        if found is None:
            if key[0] == "fire":
                found = self.node(self.rules[key[1]].when)
            else:
                found = self.formulas.or_(self.fire(i) for i in self.asserters.get(key, ()))
            self._bodies[key] = found
        return found

    def node(self, node: Node) -> int:
        f = self.formulas
        if isinstance(node, All):
            return f.and_(self.node(item) for item in node.items)
        if isinstance(node, Any_):
            return f.or_(self.node(item) for item in node.items)
        if isinstance(node, Not):
            return f.not_(self.node(node.item))
        if isinstance(node, Count):
            return self._count([self.node(item) for item in node.items], node.at_least, node.at_most)
        if isinstance(node, Score):
            return self._score(node)
        if isinstance(node, FieldTest):
            return self.field(node)
        if isinstance(node, FactTest):
            return f.defn(("fact", node.name))
        if isinstance(node, ConditionTest):
            return f.or_(f.defn(("cond", node.code, s)) for s in node.statuses)
        if isinstance(node, RedFlagTest):
            codes = self.red_flag_codes if node.code == "any" else (node.code,)
            return f.or_(f.defn(("flag", c, u)) for c in codes for u in node.urgencies)
        if isinstance(node, TrialTest):
            return f.var(self._trial_key(node))
        raise TypeError(f"unknown condition node {node!r}")

    def _trial_key(self, node: TrialTest) -> tuple:
        weeks = self.trials.limit(node.code, node.min_weeks) if node.outcome in ("failed", "running") else None
        return ("trial", node.code, node.joint, node.outcome, weeks, node.at_least)

    def _count(self, items: list[int], at_least: int, at_most: int | None) -> int:
        """Sequential counter: reach[j] = at least j of the items so far hold."""
        f = self.formulas
        top = len(items) if at_most is None else min(len(items), at_most + 1)
        need = max(at_least, top if at_most is not None else at_least)
        reach = [TRUE] + [FALSE] * need
        for item in items:
            reach = [TRUE] + [f.or_([reach[j], f.and_([reach[j - 1], item])]) for j in range(1, need + 1)]
        held = reach[at_least] if at_least <= need else FALSE
        if at_most is not None and at_most + 1 <= need:
            held = f.and_([held, f.not_(reach[at_most + 1])])
        return held

    def _score(self, node: Score) -> int:
        f = self.formulas
        levels = []
        for domain in node.domains:
            points = sorted({p for p, _ in domain.options} | {0})
            at_least = {p: f.or_(self.node(c) for q, c in domain.options if q >= p) for p in points if p > 0}
            exact = []
            for k, p in enumerate(points):
                reach = TRUE if p == 0 else at_least[p]
                higher = at_least[points[k + 1]] if k + 1 < len(points) else FALSE
                exact.append((p, f.and_([reach, f.not_(higher)])))
            levels.append(exact)
        if math.prod(len(level) for level in levels) > MAX_SCORE_COMBINATIONS:
            return f.var(("opaque-score", id(node)))
        ok = []
        for combo in itertools.product(*levels):
            total = sum(p for p, _ in combo)
            if total >= node.at_least and (node.at_most is None or total <= node.at_most):
                ok.append(f.and_(lit for _, lit in combo))
        return f.or_(ok)

    def present(self, path: str) -> int:
        f = self.formulas
        kind = self.space.kind(path)
        if kind == "unknown":
            return FALSE
        if self.space.always_present(path):
            return TRUE
        if kind in ("object", "array"):
            return f.var(("present", path))
        return f.not_(f.var(("region", path, 0)))

    def field(self, test: FieldTest) -> int:
        f = self.formulas
        kind = self.space.kind(test.path)
        if kind == "unknown":  # a field the case schema lacks: never in a valid case
            return TRUE if test.op == "absent" else FALSE
        if test.op == "present":
            return self.present(test.path)
        if test.op == "absent":
            return f.not_(self.present(test.path))
        if kind == "array":
            if test.op == "contains":
                return f.var(("has", test.path, test.operand))
            return f.or_(f.var(("has", test.path, item)) for item in test.operand)
        if isinstance(test.operand, FieldRef):
            ref = test.operand
            if self.space.kind(ref.path) == "unknown":
                return FALSE
            return f.var(("ref", test.path, test.op, ref.path, ref.times, ref.plus))
        regions = self.space.regions(test.path)
        return f.or_(f.var(("region", test.path, i)) for i, region in enumerate(regions)
                     if compare(test.op, region.value, test.operand))
