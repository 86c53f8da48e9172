"""Rule conditions as a small tree of typed nodes.

Each node answers two questions about one case: does it hold, and which case fields, facts or trials
made it hold (its witnesses, which become the trace). The same tree tells the compiler what a rule
refers to, so that "absent" is only ever decided on complete knowledge.
"""

from __future__ import annotations

from typing import Any, Iterator

from attrs import field, frozen

MISSING = object()
NUMERIC_OPS = ("lt", "lte", "gt", "gte")
SCALAR_OPS = ("eq", "ne", "in") + NUMERIC_OPS
LIST_OPS = ("contains", "contains_any")
PRESENCE_OPS = ("present", "absent")
FIELD_OPS = SCALAR_OPS + LIST_OPS + PRESENCE_OPS
STATUS_RANK = {"suspected": 1, "probable": 2, "confirmed": 3}

from cdss.kb.policy import TrialDefinition
from cdss.model import Matched


@frozen
class Facts:
    """What one case knows while it is evaluated: its data and what the rules have asserted so far."""

    case: dict
    derived: set = field(factory=set)  # the derived facts the rules have asserted
    conditions: dict = field(factory=dict)  # code -> set of statuses
    red_flags: dict = field(factory=dict)  # code -> set of urgencies
    trials: TrialDefinition = TrialDefinition()  # what a failed or running trial is (knowledge_base.yaml)


def lookup(data: dict, parts: tuple[str, ...]) -> Any:
    node: Any = data
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def pointer(path: str) -> str:
    return "/" + path.replace(".", "/")


def compare(op: str, value: Any, other: Any) -> bool:
    """One field test on one value: `value` is MISSING when the field is absent, `other` the operand
    (MISSING when it is another field that is absent). A missing field fails every test but `absent`."""
    if op == "absent":
        return value is MISSING
    if value is MISSING:
        return False
    if op == "present":
        return True
    if op == "eq":
        return value == other and isinstance(value, bool) == isinstance(other, bool)
    if op == "ne":
        return value != other
    if op == "in":
        return value in other
    if op == "contains":
        return other in value
    if op == "contains_any":
        return any(item in value for item in other)
    if other is MISSING:
        return False
    if op == "lt":
        return value < other
    if op == "lte":
        return value <= other
    if op == "gt":
        return value > other
    return value >= other  # gte


def _absent(value, other):
    return value is MISSING


def _present(value, other):
    return value is not MISSING


def _eq(value, other):
    return value is not MISSING and value == other and isinstance(value, bool) == isinstance(other, bool)


def _ne(value, other):
    return value is not MISSING and value != other


def _in(value, other):
    return value is not MISSING and value in other


def _contains(value, other):
    return value is not MISSING and other in value


def _contains_any(value, other):
    return value is not MISSING and any(item in value for item in other)


def _lt(value, other):
    return value is not MISSING and other is not MISSING and value < other


def _lte(value, other):
    return value is not MISSING and other is not MISSING and value <= other


def _gt(value, other):
    return value is not MISSING and other is not MISSING and value > other


def _gte(value, other):
    return value is not MISSING and other is not MISSING and value >= other


# `compare` with the operator chosen once per test instead of on every check (tests/test_conditions.py
# holds each to `compare`).
COMPARE = {"absent": _absent, "present": _present, "eq": _eq, "ne": _ne, "in": _in, "contains": _contains,
           "contains_any": _contains_any, "lt": _lt, "lte": _lte, "gt": _gt, "gte": _gte}


@frozen
class FieldRef:
    """Another case field as an operand, scaled: value = field * times + plus."""

    path: str
    times: float = 1
    plus: float = 0
    parts: tuple[str, ...] = field(init=False, eq=False, repr=False)

    @parts.default
    def _split(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))

    def value(self, case: dict) -> Any:
        raw = lookup(case, self.parts)
        if raw is MISSING:
            return MISSING
        return raw * self.times + self.plus


class Node:
    """Base of the condition tree.

    `judge` evaluates a node once: whether it holds, and its witnesses either way (what made it hold, or
    what keeps it from holding, which a `not` above it reports). Every node judges each child once, so a
    condition costs time linear in its size, however deeply `not` nests."""

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        raise NotImplementedError

    def holds(self, facts: Facts) -> list[Matched] | None:
        """None when the condition does not hold; else the witnesses that made it hold. The same answer as
        `judge`, but a test that fails builds no witnesses of why (only a `not` needs those): most rules
        an engine checks do not fire."""
        ok, witnesses = self.judge(facts)
        return witnesses if ok else None

    def why_not(self, facts: Facts) -> list[Matched]:
        """Witnesses that the condition does not hold (used under `not`); [] when it holds."""
        ok, witnesses = self.judge(facts)
        return [] if ok else witnesses

    def children(self) -> tuple["Node", ...]:
        return ()

    def walk(self) -> Iterator["Node"]:
        yield self
        for child in self.children():
            yield from child.walk()


@frozen
class FieldTest(Node):
    path: str
    op: str
    operand: Any = None
    line: int | None = field(default=None, eq=False)
    # Split and rendered once: conditions are tested on every activation of every case.
    parts: tuple[str, ...] = field(init=False, eq=False, repr=False)
    pointer: str = field(init=False, eq=False, repr=False)
    compare: Any = field(init=False, eq=False, repr=False)

    @parts.default
    def _split(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))

    @pointer.default
    def _pointer(self) -> str:
        return pointer(self.path)

    @compare.default
    def _compare(self):
        return COMPARE[self.op]

    def _witness(self, value: Any) -> Matched:
        if value is MISSING:
            return Matched("field", self.pointer, absent=True)
        if isinstance(value, list):
            return Matched("field", self.pointer, tuple(value))
        shown = value if isinstance(value, (str, int, float, bool)) else None
        return Matched("field", self.pointer, shown)

    def test(self, case: dict) -> bool:
        return self._test(case, lookup(case, self.parts))

    def _test(self, case: dict, value: Any) -> bool:
        other = self.operand.value(case) if isinstance(self.operand, FieldRef) else self.operand
        return self.compare(value, other)

    def _holds(self, facts: Facts) -> list[Matched] | None:
        value = lookup(facts.case, self.parts)
        if not self._test(facts.case, value):
            return None
        found = [self._witness(value)]
        if isinstance(self.operand, FieldRef):
            found.append(self._ref_witness(facts.case))
        return found

    def _ref_witness(self, case: dict) -> Matched:
        raw = lookup(case, self.operand.parts)
        return Matched("field", pointer(self.operand.path), None if raw is MISSING else raw, absent=raw is MISSING)

    def _why_not(self, facts: Facts) -> list[Matched]:
        return [self._witness(lookup(facts.case, self.parts))]

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        found = self._holds(facts)
        return (True, found) if found is not None else (False, self._why_not(facts))

    def holds(self, facts: Facts) -> list[Matched] | None:
        return self._holds(facts)


@frozen
class FactTest(Node):
    name: str

    def _holds(self, facts: Facts) -> list[Matched] | None:
        return [Matched("fact", self.name)] if self.name in facts.derived else None

    def _why_not(self, facts: Facts) -> list[Matched]:
        return [Matched("fact", self.name, absent=True)]

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        found = self._holds(facts)
        return (True, found) if found is not None else (False, self._why_not(facts))

    def holds(self, facts: Facts) -> list[Matched] | None:
        return self._holds(facts)


@frozen
class ConditionTest(Node):
    code: str
    statuses: tuple[str, ...]

    def _holds(self, facts: Facts) -> list[Matched] | None:
        have = facts.conditions.get(self.code, ())
        hit = sorted((s for s in have if s in self.statuses), key=STATUS_RANK.get)
        return [Matched("condition", self.code, hit[-1])] if hit else None

    def _why_not(self, facts: Facts) -> list[Matched]:
        return [Matched("condition", self.code, absent=True)]

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        found = self._holds(facts)
        return (True, found) if found is not None else (False, self._why_not(facts))

    def holds(self, facts: Facts) -> list[Matched] | None:
        return self._holds(facts)


@frozen
class RedFlagTest(Node):
    code: str  # a red flag code, or "any"
    urgencies: tuple[str, ...]

    def _holds(self, facts: Facts) -> list[Matched] | None:
        codes = sorted(facts.red_flags) if self.code == "any" else [self.code]
        found = [Matched("red_flag", code, u) for code in codes
                 for u in sorted(facts.red_flags.get(code, ())) if u in self.urgencies]
        return found or None

    def _why_not(self, facts: Facts) -> list[Matched]:
        return [Matched("red_flag", self.code, absent=True)]

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        found = self._holds(facts)
        return (True, found) if found is not None else (False, self._why_not(facts))

    def holds(self, facts: Facts) -> list[Matched] | None:
        return self._holds(facts)


@frozen
class TrialTest(Node):
    code: str
    joint: str | None
    outcome: str
    min_weeks: float | None
    at_least: int = 1

    def matching(self, facts: Facts) -> list[tuple[int, dict]]:
        """The case's trials this atom matches. `min_weeks` None: the knowledge base's definition of a failed
        trial for that treatment (knowledge_base.yaml failed_trial); a number overrides its weeks."""
        found = []
        for index, trial in enumerate(facts.case.get("treatments", ())):
            if trial["code"] != self.code:
                continue
            if self.joint is not None and trial.get("joint", self.joint) != self.joint:
                continue
            if self.outcome == "failed" and not facts.trials.failed(trial, self.min_weeks):
                continue
            if self.outcome == "running" and not facts.trials.running(trial, self.min_weeks):
                continue
            if self.outcome == "good" and trial["response"] != "good":
                continue
            found.append((index, trial))
        return found

    def _holds(self, facts: Facts) -> list[Matched] | None:
        found = self.matching(facts)
        if len(found) < self.at_least:
            return None
        return [trial_witness(i, t) for i, t in found]

    def _why_not(self, facts: Facts) -> list[Matched]:
        return [Matched("trial", self.code, absent=True)]

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        found = self._holds(facts)
        return (True, found) if found is not None else (False, self._why_not(facts))

    def holds(self, facts: Facts) -> list[Matched] | None:
        return self._holds(facts)


def trial_witness(index: int, trial: dict) -> Matched:
    """A trial as the trace names it (its pointer and a short summary), with the parts words are made of."""
    return Matched("trial", f"/treatments/{index}",
                   f"{trial['code']} {trial['weeks']:g} weeks, response {trial['response']}",
                   detail=(trial["code"], trial["weeks"], trial["response"], trial.get("joint")))


@frozen
class All(Node):
    items: tuple[Node, ...]

    def children(self):
        return self.items

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        found: list[Matched] = []
        for item in self.items:
            ok, got = item.judge(facts)
            if not ok:
                return False, got  # the first item that fails says why
            found.extend(got)
        return True, found

    def holds(self, facts: Facts) -> list[Matched] | None:
        found: list[Matched] = []
        for item in self.items:
            got = item.holds(facts)
            if got is None:
                return None
            found.extend(got)
        return found


@frozen
class Any_(Node):
    items: tuple[Node, ...]

    def children(self):
        return self.items

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        held: list[Matched] = []
        missed: list[Matched] = []
        ok = False
        for item in self.items:
            hit, got = item.judge(facts)
            if hit:
                ok = True
                held.extend(got)
            elif not ok:
                missed.extend(got)
        return (True, held) if ok else (False, missed)

    def holds(self, facts: Facts) -> list[Matched] | None:
        held: list[Matched] = []
        ok = False
        for item in self.items:
            got = item.holds(facts)
            if got is not None:
                ok = True
                held.extend(got)
        return held if ok else None


@frozen
class Not(Node):
    item: Node

    def children(self):
        return (self.item,)

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        ok, witnesses = self.item.judge(facts)
        return not ok, witnesses


@frozen
class Count(Node):
    items: tuple[Node, ...]
    at_least: int
    at_most: int | None = None

    def children(self):
        return self.items

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        found, hits = [], 0
        for item in self.items:
            ok, got = item.judge(facts)
            if ok:
                hits += 1
                found.extend(got)
        if hits < self.at_least or (self.at_most is not None and hits > self.at_most):
            return False, [self.witness(hits)]
        return True, found + [self.witness(hits)]

    def holds(self, facts: Facts) -> list[Matched] | None:
        found, hits = [], 0
        for item in self.items:
            got = item.holds(facts)
            if got is not None:
                hits += 1
                found.extend(got)
        if hits < self.at_least or (self.at_most is not None and hits > self.at_most):
            return None
        return found + [self.witness(hits)]

    def hits(self, facts: Facts) -> int:
        """How many of the items hold (for a rule text's {count})."""
        return sum(1 for item in self.items if item.judge(facts)[0])

    def witness(self, hits: int) -> Matched:
        return Matched("count", f"{hits} of {len(self.items)}", hits, detail=(hits, len(self.items)))


@frozen
class Domain:
    name: str
    options: tuple[tuple[float, Node], ...]


@frozen
class Score(Node):
    domains: tuple[Domain, ...]
    at_least: float
    at_most: float | None = None

    def children(self):
        return tuple(node for domain in self.domains for _, node in domain.options)

    def tally(self, facts: Facts) -> tuple[float, list[Matched]]:
        total, found = 0.0, []
        for domain in self.domains:
            best, best_found = None, []
            for points, node in domain.options:
                got = node.holds(facts)
                if got is not None and (best is None or points > best):
                    best, best_found = points, got
            best = 0.0 if best is None else best  # no option holds: the domain scores nothing
            total += best
            found.extend(best_found)
            found.append(Matched("score", domain.name, best))
        return total, found

    def judge(self, facts: Facts) -> tuple[bool, list[Matched]]:
        total, found = self.tally(facts)
        ok = not (total < self.at_least or (self.at_most is not None and total > self.at_most))
        return ok, found + [Matched("score", "total", total)]


def references(node: Node) -> set[tuple[str, str]]:
    """Every derived thing a condition refers to: ('fact', name), ('condition', code), ('red_flag', code)."""
    refs = set()
    for item in node.walk():
        if isinstance(item, FactTest):
            refs.add(("fact", item.name))
        elif isinstance(item, ConditionTest):
            refs.add(("condition", item.code))
        elif isinstance(item, RedFlagTest):
            refs.add(("red_flag", item.code))
    return refs


def top_level_tests(node: Node) -> tuple[Node, ...]:
    """The tests that must all hold for the condition to hold: the compiler may push them into patterns."""
    if isinstance(node, All):
        return tuple(t for item in node.items for t in top_level_tests(item))
    return (node,)
