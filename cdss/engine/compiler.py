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

from cdss.kb.conditions import Any_, ConditionTest, FactTest, FieldTest, Node, RedFlagTest, TrialTest, references, top_level_tests
from cdss.errors import RuleFileError
from cdss.kb.fields import field_catalogue
from cdss.kb.rules import KnowledgeBase, Rule

# durable-rules 2.0.28 limits (shared/notes/durable-rules.md, trap 8): error 303 past 64 alpha tests matched
# by one fact, a hang past 512 sibling tests. Stay well below both; extra tests stay in the action's check.
MAX_DISTINCT_TESTS_PER_FIELD = 40
MAX_SIBLINGS = 400
PUSHABLE_FIELD_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "present", "absent", "contains", "contains_any")
# A top-level `any` becomes one durable-rules rule per alternative (sharing one action), up to this many.
MAX_VARIANTS = 12
PHASE_LAST = False
NEGATED = "$negated"  # marks a pattern compiled as a durable-rules `alias$not`


@frozen
class CompiledRule:
    rule: Rule
    stratum: int
    variants: tuple  # one ((alias, durable pattern), ...) per durable-rules rule that can wake this rule

    @property
    def patterns(self) -> tuple:
        return self.variants[0]


@frozen
class Program:
    """What the engine needs: rules by stratum, the durable-rules definition, and which case fields and
    derived things must be asserted as durable-rules facts (the rest are read straight from the case)."""

    compiled: tuple[CompiledRule, ...]
    strata: tuple[int, ...]
    scalar_paths: frozenset[str]
    list_paths: frozenset[str]
    pushed_refs: frozenset[tuple[str, str]]
    trials: bool = False  # whether treatment trials are asserted as facts

    def rules_by_action_name(self) -> dict[str, Rule]:
        """The rule behind each durable-rules rule name (a rule with variants has several names)."""
        return {(item.rule.id if number == 0 else f"{item.rule.id}#{number}"): item.rule
                for item in self.compiled for number in range(len(item.variants))}

    def definition(self, action_for: Callable[[Rule], Callable]) -> dict:
        """A fresh durable-rules ruleset definition (register_rulesets consumes `run`, so build anew each time)."""
        rules: dict = {}
        for item in self.compiled:
            action = action_for(item.rule)
            for number, patterns in enumerate(item.variants):
                name = item.rule.id if number == 0 else f"{item.rule.id}#{number}"
                ordered = list(patterns[1:]) + [patterns[0]] if PHASE_LAST else patterns
                rules[name] = {"all": [{alias: pattern} for alias, pattern in ordered], "run": action}
        # Sinks: every fact kind is matched by something, else durable-rules raises MessageNotHandled and
        # leaves pending activations behind (trap 2). They join with a fact that is never asserted.
        for kind in ("obs", "fact", "cond", "flag", "phase", "trial"):
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


def _core_readable(value) -> bool:
    """durable-rules' JSON reader takes an exponent only after a fraction: a threshold such as 0.00001
    (which Python writes 1e-05) would make the ruleset fail to build. Such a test stays in the action."""
    if isinstance(value, tuple):
        return all(_core_readable(v) for v in value)
    return not (isinstance(value, float) and "e" in repr(value) and "." not in repr(value))


def _field_pattern(test: FieldTest) -> dict | None:
    catalogue = field_catalogue()
    is_list = catalogue[test.path].get("type") == "array"
    op, value = test.op, test.operand
    if is_list:
        key = test.path + "[]"
        if op == "absent":
            return {NEGATED: _and({"t": "obs"}, {"k": key})}
        if op == "contains":
            return _and({"t": "obs"}, {"k": key}, {"v": value})
        if op == "contains_any":
            return _and({"t": "obs"}, {"k": key}, _one_of("v", value))
        return None
    if op == "absent":
        return {NEGATED: _and({"t": "obs"}, {"k": test.path})}
    if catalogue[test.path].get("type") == "object" or op not in PUSHABLE_FIELD_OPS or op in ("contains", "contains_any"):
        return None
    base = [{"t": "obs"}, {"k": test.path}]
    if not isinstance(value, (str, int, float, bool, tuple, type(None))):
        # Compared with another field (trap 11: no cross-fact comparisons in patterns): push only that
        # this field is present, a necessary condition; the action's check compares.
        return _and(*base)
    if op == "absent":
        # Every case fact is asserted before the first phase token, so a negated pattern over case facts is
        # decided on complete knowledge (trap 6 concerns facts asserted later).
        return {NEGATED: _and(*base)}
    if op == "present":
        return _and(*base)
    if not _core_readable(value):
        return _and(*base)  # only the field's presence; the action's check compares
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
        if NEGATED in pattern:
            return pattern, None, key  # the key's facts must be asserted for the negation to see them
        return pattern, None, key
    if isinstance(test, FactTest):
        return _and({"t": "fact"}, {"n": test.name}), ("fact", test.name), None
    if isinstance(test, ConditionTest):
        return _and({"t": "cond"}, {"c": test.code}, _one_of("s", test.statuses)), ("condition", test.code), None
    if isinstance(test, TrialTest):
        if test.min_weeks is not None:
            return None  # the trial facts carry the default limit only
        tests = [{"t": "trial"}, {"c": test.code}]
        if test.joint is not None:
            tests.append({"$or": [{"j": test.joint}, {"j": "*"}]})
        if test.outcome != "any":
            tests.append({test.outcome: True})
        return _and(*tests), None, "trial"
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
        variants, pushed_refs, strict_refs, keys = [], set(), set(), set()
        for tests in _variants(rule.when):
            pushed = []
            for test in tests:
                made = _pattern(test)
                if made is None:
                    continue
                pattern, ref, key = made
                if key is not None and key != "trial":
                    found = distinct_per_key.setdefault(key, set())
                    signature = json.dumps(pattern, sort_keys=True)
                    if signature not in found and (len(found) >= MAX_DISTINCT_TESTS_PER_FIELD
                                                   or len(siblings["obs"] | {key}) > MAX_SIBLINGS):
                        continue
                    found.add(signature)
                    siblings["obs"].add(key)
                if ref is not None and ref[0] == "fact":
                    if len(siblings["fact"] | {ref[1]}) > MAX_SIBLINGS:
                        continue
                    siblings["fact"].add(ref[1])
                pushed.append((test, pattern, ref, key))
            pushed = _one_pattern_per_fact(pushed)
            in_pattern = {id(item[0]) for item in pushed}
            for test in tests:
                if id(test) not in in_pattern:
                    strict_refs |= references(test)
            variants.append(tuple(item[1] for item in pushed if item[1] is not None))
            for _, pattern, ref, key in pushed:
                if pattern is None:
                    continue
                if ref is not None:
                    pushed_refs.add(ref)
                if key is not None:
                    keys.add(key)
        plans.append((rule, variants, pushed_refs, strict_refs, keys))

    strata = _stratify(kb, plans, asserters)
    compiled, scalar_paths, list_paths, all_pushed_refs, trials = [], set(), set(), set(), False
    for (rule, variants, pushed_refs, _, keys), stratum in zip(plans, strata):
        phase = ("phase", _and({"t": "phase"}, {"k": stratum}))
        compiled.append(CompiledRule(rule, stratum, tuple(
            (phase,) + tuple((f"m{i}$not", pattern[NEGATED]) if NEGATED in pattern else (f"m{i}", pattern)
                             for i, pattern in enumerate(patterns)) for patterns in variants)))
        for key in keys:
            if key == "trial":
                trials = True
            else:
                (list_paths if key.endswith("[]") else scalar_paths).add(key.removesuffix("[]"))
        all_pushed_refs |= pushed_refs
    return Program(tuple(compiled), tuple(sorted(set(strata))), frozenset(scalar_paths), frozenset(list_paths),
                   frozenset(all_pushed_refs), trials)


def _variants(node: Node) -> list[list[Node]]:
    """The rule's top-level conjunction, with each top-level `any` expanded into its alternatives: every
    variant is a set of tests that must all hold for that alternative, so its patterns may wake the rule."""
    variants: list[list[Node]] = [[]]
    for test in top_level_tests(node):
        if isinstance(test, Any_) and len(variants) * len(test.items) <= MAX_VARIANTS:
            variants = [v + list(top_level_tests(alt)) for v in variants for alt in test.items]
        else:
            variants = [v + [test] for v in variants]
    return variants


def _one_pattern_per_fact(pushed: list) -> list:
    """durable-rules never lets one fact fill two patterns of the same rule, so two tests on one scalar
    field (age >= 8 and age <= 15) would never both match: merge them into one pattern. Of two tests on
    one derived thing (a fact, a condition, a red flag) or one treatment code, only the first is pushed;
    the others are left to the action's check (and so ordered after whatever asserts them)."""
    merged: dict[str, list] = {}
    out: list = []
    for test, pattern, ref, key in pushed:
        if NEGATED in pattern:
            out.append((test, pattern, ref, key))
            continue
        tests = pattern["$and"]
        if tests[0]["t"] == "obs" and tests[1]["k"].endswith("[]"):
            signature = json.dumps(tests, sort_keys=True)  # list elements: each value is its own fact
        else:
            signature = json.dumps(tests[:2], sort_keys=True)  # the fact kind and its name
        if signature not in merged:
            merged[signature] = [len(out)]
            out.append((test, pattern, ref, key))
        elif tests[0]["t"] == "obs" and not tests[1]["k"].endswith("[]"):
            index = merged[signature][0]
            first = out[index]
            out[index] = (first[0], {"$and": first[1]["$and"] + tests[2:]}, first[2], first[3])
            out.append((test, None, ref, key))  # in the merged pattern: counts as pushed
    return out


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
