"""A reference evaluator of the rule files: the test oracle of tests/test_differential.py.

It shares nothing with cdss's condition code, compiler or durable-rules: it reads the YAML itself
(yaml.safe_load), tests conditions with the few functions below, written from docs/rule-format.md, and
fires rules by brute force. Rules that test a derived thing (a fact, a condition, a red flag) anywhere but
in their top-level `all` run in a later layer than every rule that can assert it, so that "absent" is
decided on complete knowledge; inside one layer it loops over the rules until none fires anew.

The result-level policies are not shared either: tests/helpers/oracle_policies.py states them a second
time from pathways.md, reading rules/knowledge_base.yaml as plain YAML, so that a bug in cdss's policies
(cdss/engine/policies.py, cdss/kb/policy.py) shows as a disagreement instead of hiding on both sides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import yaml

from tests.helpers.oracle_policies import shape

ROOT = Path(__file__).resolve().parents[2]
RULES = Path(os.environ.get("CDSS_RULES") or ROOT / "rules")  # the folder cdss itself reads
VOCABULARY = ROOT / "cdss" / "data" / "vocabulary.yaml"
MANIFEST = "knowledge_base.yaml"
ALL_STATUSES = ("suspected", "probable", "confirmed")
ALL_URGENCIES = ("emergency", "urgent", "soon", "routine")
MISSING = object()


# --------------------------------------------------------------------------------- the case's fields

def get(case: dict, path: str):
    """The value at a dotted path, or MISSING."""
    node = case
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def same(a, b) -> bool:
    """JSON equality: true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def number(case: dict, operand):
    """A numeric operand: a number, or {field, times, plus} = field * times + plus (MISSING if unrecorded)."""
    if isinstance(operand, dict):
        value = get(case, operand["field"])
        if value is MISSING:
            return MISSING
        return value * operand.get("times", 1) + operand.get("plus", 0)
    return operand


COMPARE = {"lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
           "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b}


def field_test(case: dict, test: dict) -> bool:
    ops = [key for key in test if key != "field"]
    assert len(ops) == 1, f"one test per field condition: {test}"
    op, operand = ops[0], test[ops[0]]
    value = get(case, test["field"])
    if op == "absent":
        return (value is MISSING) == bool(operand)
    if op == "present":
        return (value is not MISSING) == bool(operand)
    if value is MISSING:
        return False  # a missing field fails every other test
    if op == "eq":
        return same(value, operand)
    if op == "ne":
        return not same(value, operand)
    if op == "in":
        return any(same(value, item) for item in operand)
    if op == "contains":
        return any(same(item, operand) for item in value)
    if op == "contains_any":
        return any(same(item, wanted) for item in value for wanted in operand)
    other = number(case, operand)
    if other is MISSING:
        return False
    return COMPARE[op](value, other)


def trial_test(case: dict, test: dict, definition: dict) -> bool:
    """A trial atom, with knowledge_base.yaml's failed_trial definition (weeks per treatment)."""
    limit = test.get("min_weeks", definition.get("min_weeks_by_treatment", {}).get(test["trial"], definition["min_weeks"]))
    outcome = test.get("outcome", "any")
    hits = 0
    for trial in case.get("treatments", []):
        if trial["code"] != test["trial"]:
            continue
        if "joint" in test and "joint" in trial and trial["joint"] != test["joint"]:
            continue  # a trial without a joint counts for every joint; an atom without one for every trial
        if outcome == "failed":
            ok = trial["response"] in definition["failing_responses"] and trial["weeks"] >= limit
        elif outcome == "running":
            ok = trial["weeks"] < limit
        elif outcome == "good":
            ok = trial["response"] == "good"
        else:
            ok = outcome == "any"
        hits += ok
    return hits >= test.get("at_least", 1)


# ----------------------------------------------------------------------------------- knowledge state

@dataclass
class State:
    case: dict
    trials: dict  # knowledge_base.yaml failed_trial
    derived: set = field(default_factory=set)  # the derived facts asserted so far
    conditions: dict = field(default_factory=dict)  # code -> statuses concluded
    red_flags: dict = field(default_factory=dict)  # code -> urgencies raised


def holds(cond: dict, s: State) -> bool:
    if "all" in cond:
        return all(holds(c, s) for c in cond["all"])
    if "any" in cond:
        return any(holds(c, s) for c in cond["any"])
    if "not" in cond:
        return not holds(cond["not"], s)
    if "count" in cond:
        spec = cond["count"]
        n = sum(1 for c in spec["of"] if holds(c, s))
        return n >= spec["at_least"] and ("at_most" not in spec or n <= spec["at_most"])
    if "score" in cond:
        spec = cond["score"]
        total = 0
        for domain in spec["domains"]:
            points = [o["points"] for o in domain["options"] if holds(o["when"], s)]
            total += max(points) if points else 0
        return total >= spec["at_least"] and ("at_most" not in spec or total <= spec["at_most"])
    if "field" in cond:
        return field_test(s.case, cond)
    if "fact" in cond:
        return cond["fact"] in s.derived
    if "condition" in cond:
        have = s.conditions.get(cond["condition"], set())
        return any(status in have for status in cond.get("status", ALL_STATUSES))
    if "red_flag" in cond:
        codes = list(s.red_flags) if cond["red_flag"] == "any" else [cond["red_flag"]]
        wanted = cond.get("urgency", ALL_URGENCIES)
        return any(u in s.red_flags.get(code, set()) for code in codes for u in wanted)
    if "trial" in cond:
        return trial_test(s.case, cond, s.trials)
    raise ValueError(f"unknown condition form: {cond}")


# ---------------------------------------------------------------------------------------- layering

def derived_refs(cond: dict, positive: bool = True):
    """(kind, name, positive) for every derived thing a condition tests; positive means 'in the top-level
    all', where its later appearance can only make the rule fire, never stop it."""
    if "all" in cond:
        for c in cond["all"]:
            yield from derived_refs(c, positive)
    elif "any" in cond:
        for c in cond["any"]:
            yield from derived_refs(c, False)
    elif "not" in cond:
        yield from derived_refs(cond["not"], False)
    elif "count" in cond:
        for c in cond["count"]["of"]:
            yield from derived_refs(c, False)
    elif "score" in cond:
        for domain in cond["score"]["domains"]:
            for option in domain["options"]:
                yield from derived_refs(option["when"], False)
    elif "fact" in cond:
        yield ("fact", cond["fact"], positive)
    elif "condition" in cond:
        yield ("condition", cond["condition"], positive)
    elif "red_flag" in cond:
        yield ("red_flag", cond["red_flag"], positive)


def made(conclusion: dict):
    """What a conclusion makes testable by other rules."""
    if "assert" in conclusion:
        return [("fact", conclusion["assert"])]
    if "condition" in conclusion:
        return [("condition", conclusion["condition"]["code"])]
    if "red_flag" in conclusion:
        return [("red_flag", conclusion["red_flag"]["code"]), ("red_flag", "any")]
    return []


def layers(rules: list) -> dict[str, int]:
    """Each rule's layer: at least that of every rule asserting what it tests, and above it if it tests
    that thing non-positively. A cycle through a non-positive test has no layering: refuse it."""
    asserters: dict = {}
    for rule in rules:
        for conclusion in rule.then:
            for ref in made(conclusion):
                asserters.setdefault(ref, []).append(rule.id)
    layer = {rule.id: 0 for rule in rules}
    for _ in range(len(rules) + 2):
        changed = False
        for rule in rules:
            need = 0
            for kind, name, positive in derived_refs(rule.when):
                for source in asserters.get((kind, name), []):
                    need = max(need, layer[source] + (0 if positive else 1))
            if need > layer[rule.id]:
                layer[rule.id], changed = need, True
        if not changed:
            return layer
    raise ValueError("a rule tests the absence of something it (indirectly) asserts")


# ------------------------------------------------------------------------------------------ the rules

@dataclass
class OracleRule:
    id: str
    when: dict
    then: list
    order: int
    sources: tuple
    rationale: object


@dataclass
class OracleRun:
    """One case through the rules: the fired rules and their conclusions in firing order."""

    case: dict
    fired: dict  # rule id -> None, in firing order
    conclusions: list  # (OracleRule, conclusion) with conclusion.kind / conclusion.data
    state: State


class Oracle:
    def __init__(self, directory: Path = RULES, profile: str = "nice"):
        directory = Path(directory)
        self.manifest = yaml.safe_load((directory / MANIFEST).read_text(encoding="utf-8"))
        self.vocabulary = yaml.safe_load(VOCABULARY.read_text(encoding="utf-8"))
        self.rules: list[OracleRule] = []
        files = sorted(p for p in directory.iterdir()
                       if p.suffix in (".yaml", ".yml") and p.name not in (MANIFEST, "phrases.yaml"))
        for path in files:
            for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]:
                if raw["status"] == "deprecated" or profile not in raw.get("profiles", (profile,)):
                    continue
                self.rules.append(OracleRule(raw["id"], raw["when"], list(raw["then"]), len(self.rules),
                                             tuple(raw["sources"]), raw["rationale"]))
        self.layer = layers(self.rules)
        self.by_layer = [[r for r in self.rules if self.layer[r.id] == k] for k in range(max(self.layer.values()) + 1)]
        self.trials = self.manifest["failed_trial"]
        self.default_weeks = self.trials["min_weeks"]

    def conclusion(self, raw: dict) -> SimpleNamespace:
        """A `then` item as the policies read it: kind and data (recommendations get kind/category from
        the vocabulary, as docs/rule-format.md says)."""
        kind = next(iter(raw))
        body = raw[kind]
        if kind == "assert":
            return SimpleNamespace(kind="assert", data={"name": body})
        data = dict(body)
        if kind == "recommend":
            known = self.vocabulary["recommendations"][data["code"]]
            data["kind"], data["category"] = known["kind"], known.get("category")
        return SimpleNamespace(kind=kind, data=data)

    def run(self, case: dict) -> OracleRun:
        s = State(case=case, trials=self.trials)
        fired: dict = {}
        conclusions: list = []
        for rules in self.by_layer:
            again = True
            while again:
                again = False
                for rule in rules:
                    if rule.id in fired or not holds(rule.when, s):
                        continue
                    fired[rule.id] = None
                    again = True
                    for raw in rule.then:
                        c = self.conclusion(raw)
                        conclusions.append((rule, c))
                        if c.kind == "assert":
                            s.derived.add(c.data["name"])
                        elif c.kind == "condition":
                            s.conditions.setdefault(c.data["code"], set()).add(c.data["status"])
                        elif c.kind == "red_flag":
                            s.red_flags.setdefault(c.data["code"], set()).add(c.data["urgency"])
        return OracleRun(case, fired, conclusions, s)

    def evaluate(self, case: dict):
        """(fired rule ids, the OracleResult that the oracle's own policies make of its conclusions)."""
        run = self.run(case)
        conclusions = [(rule.order, c.kind, c.data) for rule, c in run.conclusions]
        return set(run.fired), shape(self.manifest, self.vocabulary, case, run.state.derived, conclusions,
                                     sorted(run.fired))

    # ---------------------------------------------------------------- what the rules read (for tests)
    def tested_values(self) -> dict[str, list]:
        """Every case field the rules read, with the literal values and thresholds they compare it to."""
        out: dict[str, list] = {}

        def walk(cond):
            for key in ("all", "any"):
                for c in cond.get(key, ()):
                    walk(c)
            if "not" in cond:
                walk(cond["not"])
            if "count" in cond:
                for c in cond["count"]["of"]:
                    walk(c)
            if "score" in cond:
                for domain in cond["score"]["domains"]:
                    for option in domain["options"]:
                        walk(option["when"])
            if "field" in cond:
                values = out.setdefault(cond["field"], [])
                for op, operand in cond.items():
                    if op == "field":
                        continue
                    if isinstance(operand, dict):
                        out.setdefault(operand["field"], [])
                    elif isinstance(operand, list):
                        values.extend(operand)
                    elif op not in ("present", "absent"):
                        values.append(operand)
            if "trial" in cond:
                out.setdefault("treatments", []).append(cond["trial"])
                out.setdefault("treatments.weeks", []).append(cond.get("min_weeks", self.default_weeks))

        for rule in self.rules:
            walk(rule.when)
        return out

    def fields_read_by(self, rule_ids) -> set[str]:
        """Case fields (dotted paths, plus 'treatments') read by these rules or by any rule they depend on
        through facts, conditions and red flags, directly or not."""
        asserters: dict = {}
        for rule in self.rules:
            for conclusion in rule.then:
                for ref in made(conclusion):
                    asserters.setdefault(ref, []).append(rule)
        by_id = {rule.id: rule for rule in self.rules}
        todo, seen, fields = list(rule_ids), set(), set()

        def walk(cond):
            for key in ("all", "any"):
                for c in cond.get(key, ()):
                    walk(c)
            if "not" in cond:
                walk(cond["not"])
            if "count" in cond:
                for c in cond["count"]["of"]:
                    walk(c)
            if "score" in cond:
                for domain in cond["score"]["domains"]:
                    for option in domain["options"]:
                        walk(option["when"])
            if "field" in cond:
                fields.add(cond["field"])
                for operand in cond.values():
                    if isinstance(operand, dict):
                        fields.add(operand["field"])
            if "trial" in cond:
                fields.add("treatments")
            for kind in ("fact", "condition", "red_flag"):
                if kind in cond:
                    name = cond[kind]
                    sources = ([r for (k, _), rs in asserters.items() if k == "red_flag" for r in rs]
                               if kind == "red_flag" and name == "any" else asserters.get((kind, name), []))
                    todo.extend(r.id for r in sources)

        while todo:
            rule_id = todo.pop()
            if rule_id in seen:
                continue
            seen.add(rule_id)
            walk(by_id[rule_id].when)
        return fields

    def red_flag_rules(self) -> list[str]:
        return [rule.id for rule in self.rules if any("red_flag" in c for c in rule.then)]
