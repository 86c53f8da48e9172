"""A rule's condition made into one Python function per node, for the engines' hot path.

An engine asks every rule it wakes whether its condition holds (`Node.holds`), ~45 times a case, and most
of a direct-engine worker's time went to walking the condition tree: a method call per node, attribute
look-ups on attrs instances, a path split into a loop, and a new `Matched` for every field test that held.
`checker(node)` gives the same answer as `node.holds` (None, or the same witnesses in the same order) from
closures made once per knowledge base: the tree's shape, operators and paths are fixed when the closure is
made, and a field test's witness for a value it has seen before is reused (a `Matched` is immutable).
A `not` holds with the why-not witnesses of what it negates, so under a `not` nodes are judged instead
(`judger`: `Node.judge`'s answer both ways, each child judged once, so that nesting stays linear). Nodes
that are rare on the hot path (a trial, a field compared with another field) keep their own `holds` and
`judge`. tests/test_condition_checks.py holds every rule's checker, and every node's checker and judger,
to `holds` and `judge` over shipped and synthetic cases, at the start and the end of each run.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from cdss.kb.conditions import (MISSING, STATUS_RANK, All, Any_, ConditionTest, Count, FactTest, FieldRef, FieldTest,
                                 Node, Not, RedFlagTest, Score, TrialTest, lookup)
from cdss.model import Matched

Checker = Callable[[Any], "list[Matched] | None"]
# Witnesses a field test keeps for values it has seen (the same few values recur in every batch).
WITNESS_MEMO = 64


def checker(node: Node) -> Checker:
    """A function of a case's `Facts` with the same answer as `node.holds`."""
    if isinstance(node, FieldTest) and not isinstance(node.operand, FieldRef):
        return _field(node)
    if isinstance(node, FactTest):
        return _fact(node)
    if isinstance(node, All):
        return _all(tuple(checker(item) for item in node.items))
    if isinstance(node, Any_):
        return _any(tuple(checker(item) for item in node.items))
    if isinstance(node, Count):
        return _count(node, tuple(checker(item) for item in node.items))
    if isinstance(node, Not):
        return _not(judger(node.item))
    if isinstance(node, ConditionTest) and all(status in STATUS_RANK for status in node.statuses):
        return _condition(node)
    if isinstance(node, Score):
        tally = _tally(node, give_up=True)

        def score_holds(facts) -> list[Matched] | None:
            ok, found = tally(facts)
            return found if ok else None
        return score_holds
    return node.holds


def judger(node: Node) -> Callable[[Any], tuple[bool, list[Matched]]]:
    """A function of a case's `Facts` with the same answer as `node.judge`: whether it holds, and its
    witnesses either way. A `not` needs the why-not of what it negates. Each node judges each child once,
    as `Node.judge` does, so a deeply nested condition stays linear in its size."""
    if isinstance(node, FieldTest) and not isinstance(node.operand, FieldRef):
        read, compare, operand, witness = _reader(node.parts), node.compare, node.operand, _witnesser(node)

        def field_judge(facts) -> tuple[bool, list[Matched]]:
            value = read(facts.case)  # the value witnesses both ways
            return compare(value, operand), [witness(value)]
        return field_judge
    if isinstance(node, All):
        items = tuple(judger(item) for item in node.items)

        def all_judge(facts) -> tuple[bool, list[Matched]]:
            found: list[Matched] = []
            for item in items:
                ok, got = item(facts)
                if not ok:
                    return False, got  # the first item that fails says why
                found += got
            return True, found
        return all_judge
    if isinstance(node, Any_):
        items = tuple(judger(item) for item in node.items)

        def any_judge(facts) -> tuple[bool, list[Matched]]:
            held: list[Matched] = []
            missed: list[Matched] = []
            ok = False
            for item in items:
                hit, got = item(facts)
                if hit:
                    ok = True
                    held += got
                elif not ok:
                    missed += got
            return (True, held) if ok else (False, missed)
        return any_judge
    if isinstance(node, Not):
        inner = judger(node.item)

        def not_judge(facts) -> tuple[bool, list[Matched]]:
            ok, witnesses = inner(facts)
            return not ok, witnesses
        return not_judge
    if isinstance(node, Score):
        return _tally(node)
    if isinstance(node, (FactTest, ConditionTest)):
        holds, why_not = checker(node), node._why_not

        def judge(facts) -> tuple[bool, list[Matched]]:
            found = holds(facts)
            return (True, found) if found is not None else (False, why_not(facts))
        return judge
    return node.judge


def _reader(parts: tuple[str, ...]) -> Callable[[dict], Any]:
    """`lookup(case, parts)`, unrolled for the usual one- and two-part paths (a case is a dict)."""
    if len(parts) == 1:
        (key,) = parts
        return lambda case: case.get(key, MISSING)
    if len(parts) == 2:
        outer, inner = parts

        def read(case: dict) -> Any:
            node = case.get(outer, MISSING)
            return node.get(inner, MISSING) if isinstance(node, dict) else MISSING
        return read
    return lambda case: lookup(case, parts)


def _witnesser(node: FieldTest) -> Callable[[Any], Matched]:
    """`node._witness`, reusing the witness of a scalar value it has seen (a `Matched` is immutable)."""
    witness = node._witness
    memo: dict = {}

    def witnessed(value: Any) -> Matched:
        if value.__class__ in (str, int, bool, float) or value is MISSING:
            # 1, 1.0 and True stay apart, and so do 0.0 and -0.0 (equal, but written apart: a case's trace
            # must not depend on which of them the process saw first)
            key = (value.__class__, value) if value or value.__class__ is not float else (float, repr(value))
            found = memo.get(key)
            if found is None:
                found = witness(value)
                if len(memo) < WITNESS_MEMO:
                    memo[key] = found
            return found
        return witness(value)
    return witnessed


def _field(node: FieldTest) -> Checker:
    read, compare, operand, witness = _reader(node.parts), node.compare, node.operand, _witnesser(node)
    if len(node.parts) == 2:
        return _section_field(node.parts, node.op, operand, compare, witness)

    def holds(facts) -> list[Matched] | None:
        value = read(facts.case)
        return [witness(value)] if compare(value, operand) else None
    return holds


# Numeric tests as C functions: `compare` for these ops with a number operand, less its MISSING checks.
NUMBER_TESTS = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


def _section_field(parts: tuple[str, str], op: str, operand: Any, compare, witness) -> Checker:
    """A test of a field in a section of the case (`pain.knee`: 429 of the shipped rules' 501 field tests),
    its read and the common tests written out: ~80 field tests run per case, and the calls to a reader
    and to `compare` were a third of each. Each gives `compare`'s answer (conditions.py): `true`/`false`
    equal only themselves (1 is not true), a text equals only a text, MISSING equals nothing and is in
    no tuple of values; anything else goes to `compare` itself."""
    outer, inner = parts
    if op == "eq" and operand.__class__ is bool:
        matched = witness(operand)  # the one value it holds for

        def holds(facts) -> list[Matched] | None:
            block = facts.case.get(outer)
            if isinstance(block, dict) and block.get(inner, MISSING) is operand:
                return [matched]
            return None
    elif (op == "eq" and operand.__class__ is str) or (op == "in" and operand.__class__ is tuple
                                                         and all(v.__class__ is str for v in operand)):
        equal = op == "eq"

        def holds(facts) -> list[Matched] | None:
            block = facts.case.get(outer)
            if isinstance(block, dict):
                value = block.get(inner, MISSING)
                if (value == operand) if equal else (value in operand):
                    return [witness(value)]
            return None
    elif op in NUMBER_TESTS and operand.__class__ in (int, float):
        test = NUMBER_TESTS[op]

        def holds(facts) -> list[Matched] | None:
            block = facts.case.get(outer)
            if isinstance(block, dict):
                value = block.get(inner, MISSING)
                if value is not MISSING and test(value, operand):
                    return [witness(value)]
            return None
    else:
        def holds(facts) -> list[Matched] | None:
            block = facts.case.get(outer, MISSING)
            value = block.get(inner, MISSING) if isinstance(block, dict) else MISSING
            return [witness(value)] if compare(value, operand) else None
    return holds


def _fact(node: FactTest) -> Checker:
    name, found = node.name, Matched("fact", node.name)

    def holds(facts) -> list[Matched] | None:
        return [found] if name in facts.derived else None
    return holds


def _all(items: tuple[Checker, ...]) -> Checker:
    if len(items) == 2:  # the most common shape (a gate fact and one test): no loop, no list to grow
        first, second = items

        def holds_two(facts) -> list[Matched] | None:
            got = first(facts)
            if got is None:
                return None
            more = second(facts)
            return None if more is None else got + more
        return holds_two

    def holds(facts) -> list[Matched] | None:
        found: list[Matched] = []
        for item in items:
            got = item(facts)
            if got is None:
                return None
            found += got
        return found
    return holds


def _any(items: tuple[Checker, ...]) -> Checker:
    if len(items) == 2:
        first, second = items

        def holds_two(facts) -> list[Matched] | None:
            got, more = first(facts), second(facts)  # both: an `any` is witnessed by every item that holds
            if got is None:
                return more
            return got if more is None else got + more
        return holds_two

    def holds(facts) -> list[Matched] | None:
        held: list[Matched] = []
        ok = False
        for item in items:
            got = item(facts)
            if got is not None:
                ok = True
                held += got
        return held if ok else None
    return holds


def _count(node: Count, items: tuple[Checker, ...]) -> Checker:
    at_least, at_most, witness = node.at_least, node.at_most, node.witness

    def holds(facts) -> list[Matched] | None:
        found: list[Matched] = []
        hits = 0
        for item in items:
            got = item(facts)
            if got is not None:
                hits += 1
                found += got
        if hits < at_least or (at_most is not None and hits > at_most):
            return None
        return found + [witness(hits)]
    return holds


def _not(judge_inner: Callable[[Any], tuple[bool, list[Matched]]]) -> Checker:
    def holds(facts) -> list[Matched] | None:
        ok, witnesses = judge_inner(facts)  # a `not` holds with why what it negates does not
        return None if ok else witnesses
    return holds


def _condition(node: ConditionTest) -> Checker:
    code = node.code
    best_first = tuple((status, Matched("condition", code, status))
                       for status in sorted(set(node.statuses), key=STATUS_RANK.__getitem__, reverse=True))

    def holds(facts) -> list[Matched] | None:
        have = facts.conditions.get(code)
        if have:
            for status, found in best_first:  # the highest-ranked status the case has
                if status in have:
                    return [found]
        return None
    return holds


def _tally(node: Score, give_up: bool = False) -> Callable[[Any], tuple[bool, list[Matched]]]:
    """`node.judge`: each domain scores its best option that holds (0 when none does), witnessed by that
    option's witnesses and the domain's score, then the total.
    A domain's options are tried most points first, and the first that holds is its best: the option
    `Score.tally` picks (of equal points, the first written), without trying the rest. With `give_up` (for
    `holds`, whose failure carries no witnesses) the tally stops as soon as the domains left could not lift
    the total to `at_least` even with their best options: the ACR/EULAR score of a case without a swollen
    joint is settled after its first domain, where it used to cost ~18 us in almost every case."""
    domains = tuple((domain.name, tuple(sorted(((points, checker(option)) for points, option in domain.options),
                                               key=lambda option: -option[0])))  # sorted() keeps ties in order
                    for domain in node.domains)
    at_least, at_most = node.at_least, node.at_most
    # ceilings[i]: the most domains i, i+1, ... can still add (a domain with no option that holds adds 0);
    # a tally gives up only below at_least by a margin, so that rounding never decides
    ceilings, rest = [], 0.0
    for domain in reversed(node.domains):
        rest += max([0.0] + [points for points, _ in domain.options])
        ceilings.append(rest)
    ceilings.reverse()
    margin = 1e-9 * (1.0 + abs(at_least))
    hopeless = tuple(at_least - ceiling - margin for ceiling in ceilings) if give_up else None

    def tally(facts) -> tuple[bool, list[Matched]]:
        total, found = 0.0, []
        for number, (name, options) in enumerate(domains):
            if hopeless is not None and total < hopeless[number]:
                return False, []
            best, best_found = 0.0, []  # no option holds: the domain scores nothing
            for points, holds in options:
                got = holds(facts)
                if got is not None:
                    best, best_found = points, got
                    break
            total += best
            found += best_found
            found.append(Matched("score", name, best))
        ok = not (total < at_least or (at_most is not None and total > at_most))
        return ok, found + [Matched("score", "total", total)]
    return tally
