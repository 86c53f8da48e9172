"""Compile a KnowledgeBase into one durable-rules ruleset.

Two ideas keep durable-rules honest here:
- Strata. durable-rules decides a negated pattern when facts are inserted, so a rule that tests the
  absence of something (under `not`, `any`, `count` or `score`) runs in a stratum after every rule that
  can assert it. Each stratum is opened by asserting a phase token; every rule's first pattern is its
  stratum's token. The case's own facts are all asserted before the first token.
- Pushed tests. A rule's top-level positive tests (a field value, a fact, a condition, a red flag)
  become durable-rules patterns, so the Rete network decides which rules may fire and chaining through
  derived facts is the engine's own. When a rule's action runs, its whole condition is evaluated once
  more on the case's complete knowledge; that check, not the pattern, decides whether it fires.
"""

from __future__ import annotations

import json
from typing import Callable

from attrs import frozen

from .conditions import ConditionTest, FactTest, FieldTest, Node, RedFlagTest, references, top_level_tests
from .errors import RuleFileError
from .knowledge import KnowledgeBase, Rule, field_catalogue

# durable-rules 2.0.28 limits (shared/notes/durable-rules.md, trap 8): error 303 past 64 alpha tests matched
# by one fact, a hang past 512 sibling tests. Stay well below both; extra tests stay in the action's check.
MAX_DISTINCT_TESTS_PER_FIELD = 40
MAX_SIBLINGS = 400
PUSHABLE_FIELD_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "present", "contains", "contains_any")


@frozen
class CompiledRule:
    rule: Rule
    stratum: int
    patterns: tuple  # ((alias, durable pattern), ...)


@frozen
class Program:
    """What the engine needs: rules by stratum, the durable-rules definition, and which case fields and
    derived things must be asserted as durable-rules facts (the rest are read straight from the case)."""

    compiled: tuple[CompiledRule, ...]
    strata: tuple[int, ...]
    scalar_paths: frozenset[str]
    list_paths: frozenset[str]
    pushed_refs: frozenset[tuple[str, str]]

    def definition(self, action_for: Callable[[Rule], Callable]) -> dict:
        """A fresh durable-rules ruleset definition (register_rulesets consumes `run`, so build anew each time)."""
        rules: dict = {}
        for item in self.compiled:
            rules[item.rule.id] = {"all": [{alias: pattern} for alias, pattern in item.patterns],
                                   "run": action_for(item.rule)}
        # Sinks: every fact kind is matched by something, else durable-rules raises MessageNotHandled and
        # leaves pending activations behind (trap 2). They join with a fact that is never asserted.
        for kind in ("obs", "fact", "cond", "flag", "phase"):
            rules[f"sink.{kind}"] = {"all": [{"x": {"t": kind}}, {"never": {"t": "never_asserted"}}],
                                     "run": _never}
        return rules


def _never(c) -> None:  # pragma: no cover - joins with a fact that is never asserted
    raise AssertionError("a sink rule fired")


def _and(*tests: dict) -> dict:
    return {"$and": list(tests)}


def _one_of(key: str, values) -> dict:
    values = list(values)
    return {key: values[0]} if len(values) == 1 else {"$or": [{key: v} for v in values]}


def _field_pattern(test: FieldTest) -> dict | None:
    catalogue = field_catalogue()
    is_list = catalogue[test.path].get("type") == "array"
    op, value = test.op, test.operand
    if is_list:
        key = test.path + "[]"
        if op == "contains":
            return _and({"t": "obs"}, {"k": key}, {"v": value})
        if op == "contains_any":
            return _and({"t": "obs"}, {"k": key}, _one_of("v", value))
        return None
    if catalogue[test.path].get("type") == "object" or op not in PUSHABLE_FIELD_OPS or op in ("contains", "contains_any"):
        return None
    if not isinstance(value, (str, int, float, bool, tuple, type(None))):
        return None  # compared with another field: the action's check decides
    base = [{"t": "obs"}, {"k": test.path}]
    if op == "present":
        return _and(*base)
    if op == "eq":
        return _and(*base, {"v": value})
    if op == "in":
        return _and(*base, _one_of("v", value))
    durable_op = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}[op]
    return _and(*base, {durable_op: {"v": value}})


def _pattern(test: Node) -> tuple[dict, tuple[str, str] | None, str | None] | None:
    """(durable pattern, the derived ref it consumes, the obs key it reads) or None if not pushable."""
    if isinstance(test, FieldTest):
        pattern = _field_pattern(test)
        if pattern is None:
            return None
        key = test.path + ("[]" if field_catalogue()[test.path].get("type") == "array" else "")
        return pattern, None, key
    if isinstance(test, FactTest):
        return _and({"t": "fact"}, {"n": test.name}), ("fact", test.name), None
    if isinstance(test, ConditionTest):
        return _and({"t": "cond"}, {"c": test.code}, _one_of("s", test.statuses)), ("condition", test.code), None
    if isinstance(test, RedFlagTest):
        if test.code == "any":
            return _and({"t": "flag"}, _one_of("u", test.urgencies)), ("red_flag", "any"), None
        return _and({"t": "flag"}, {"c": test.code}, _one_of("u", test.urgencies)), ("red_flag", test.code), None
    return None


def compile_knowledge(kb: KnowledgeBase) -> Program:
    """Stratify the rules and build each one's patterns."""
    asserters: dict[tuple[str, str], list[int]] = {}
    for index, rule in enumerate(kb.rules):
        for conclusion in rule.then:
            if conclusion.asserts:
                asserters.setdefault(conclusion.asserts, []).append(index)
                if conclusion.asserts[0] == "red_flag":
                    asserters.setdefault(("red_flag", "any"), []).append(index)

    distinct_per_key: dict[str, set[str]] = {}
    siblings: dict[str, set] = {"obs": set(), "fact": set()}
    plans = []
    for rule in kb.rules:
        pushed, pushed_refs, keys = [], set(), set()
        for test in top_level_tests(rule.when):
            made = _pattern(test)
            if made is None:
                continue
            pattern, ref, key = made
            if key is not None:
                tests = distinct_per_key.setdefault(key, set())
                signature = json.dumps(pattern, sort_keys=True)
                if signature not in tests and (len(tests) >= MAX_DISTINCT_TESTS_PER_FIELD
                                               or len(siblings["obs"] | {key}) > MAX_SIBLINGS):
                    continue
                tests.add(signature)
                siblings["obs"].add(key)
                keys.add(key)
            if ref is not None and ref[0] == "fact":
                if len(siblings["fact"] | {ref[1]}) > MAX_SIBLINGS:
                    continue
                siblings["fact"].add(ref[1])
            pushed.append((test, pattern))
            if ref is not None:
                pushed_refs.add(ref)
        pushed = _one_pattern_per_fact(pushed)
        pushed_nodes = {id(test) for test, _ in pushed}
        strict_refs = set()
        for node in rule.when.walk():
            if not node.children() and id(node) not in pushed_nodes:
                strict_refs |= references(node)
        plans.append((rule, pushed, pushed_refs, strict_refs, keys))

    strata = _stratify(kb, plans, asserters)
    compiled, scalar_paths, list_paths, all_pushed_refs = [], set(), set(), set()
    for (rule, pushed, pushed_refs, _, keys), stratum in zip(plans, strata):
        patterns = [("phase", _and({"t": "phase"}, {"k": stratum}))]
        patterns += [(f"m{i}", pattern) for i, pattern in enumerate(p for _, p in pushed if p is not None)]
        compiled.append(CompiledRule(rule, stratum, tuple(patterns)))
        for key in keys:
            (list_paths if key.endswith("[]") else scalar_paths).add(key.removesuffix("[]"))
        all_pushed_refs |= pushed_refs
    return Program(tuple(compiled), tuple(sorted(set(strata))), frozenset(scalar_paths), frozenset(list_paths),
                   frozenset(all_pushed_refs))


def _one_pattern_per_fact(pushed: list) -> list:
    """durable-rules never lets one fact fill two patterns of the same rule, so two tests on one scalar
    field (age >= 8 and age <= 15) would never both match. Merge them into one pattern. Two tests on one
    derived thing (a fact, a condition, a red flag) keep only the first pattern; the action's check
    decides the rest (and the compiler then orders the rule after whatever asserts it)."""
    merged: list = []
    by_key: dict = {}
    for test, pattern in pushed:
        tests = pattern["$and"]
        key = json.dumps(tests[:2], sort_keys=True)  # the fact kind and its name (field, fact, code)
        if tests[0]["t"] == "obs" and tests[1]["k"].endswith("[]"):
            key = json.dumps(tests, sort_keys=True)  # list elements: each value is its own fact
        if key not in by_key:
            by_key[key] = len(merged)
            merged.append(([test], pattern))
        elif tests[0]["t"] == "obs" and not tests[1]["k"].endswith("[]"):
            index = by_key[key]
            nodes, first = merged[index]
            merged[index] = (nodes + [test], {"$and": first["$and"] + tests[2:]})
    return [(node, pattern) for nodes, pattern in merged for node in nodes[:1]] + \
        [(node, None) for nodes, _ in merged for node in nodes[1:]]


def _stratify(kb: KnowledgeBase, plans, asserters) -> list[int]:
    """Longest-path layering: a strict (negated or nested) reference must come from a lower stratum, a pushed
    one from the same stratum or lower. A cycle through a strict reference cannot be ordered: refuse it."""
    stratum = [0] * len(plans)
    for _ in range(len(plans) + 1):
        changed = False
        for index, (rule, _, pushed_refs, strict_refs, _) in enumerate(plans):
            need = 0
            for ref in strict_refs:
                for source in asserters.get(ref, ()):
                    need = max(need, stratum[source] + 1)
            for ref in pushed_refs:
                for source in asserters.get(ref, ()):
                    need = max(need, stratum[source])
            if need > stratum[index]:
                stratum[index] = need
                changed = True
        if not changed:
            return stratum
    worst = max(range(len(plans)), key=lambda i: stratum[i])
    rule = plans[worst][0]
    raise RuleFileError(rule.file, "rules test the absence of facts they (indirectly) assert themselves: "
                        "a cycle through not/any/count/score cannot be ordered", rule_id=rule.id, line=rule.line)
