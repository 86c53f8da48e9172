"""The engines check a rule's condition with its checker (cdss/kb/checks.py), which must give exactly what
`Node.holds` gives; `Node.holds` builds no witnesses for tests that fail, and `Node.judge` (what `why-not`
and a `not` use) builds both. All three must agree: on every rule of the shipped rule base, over the
knowledge each shipped and synthetic case starts and ends with, and per operator on awkward values."""

from __future__ import annotations

import itertools

import pytest

from cdss import load_knowledge
from cdss.engine.direct import DirectEvaluator
from cdss.io import cases
from cdss.kb.checks import WITNESS_MEMO, checker, judger
from cdss.kb.conditions import (COMPARE, MISSING, All, Any_, ConditionTest, Count, Domain, FactTest, Facts, FieldTest,
                                 Not, Score, compare)
from cdss.synth import generate as synth
from tests.helpers.paths import case_paths


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


def _runs(kb):
    engine = DirectEvaluator(kb)
    for path in case_paths()[:120]:
        yield engine.run(cases.read_case(str(path)))
    for data in synth.generate(150, seed=3):
        data.pop("expected", None)
        yield engine.run(cases.case_from_dict(data, "<synth>"))


def test_holds_is_judge_without_the_why_not(kb):
    held = failed = 0
    for run in _runs(kb):
        for rule in kb.rules:
            ok, witnesses = rule.when.judge(run.facts)
            found = rule.when.holds(run.facts)
            assert found == (witnesses if ok else None), rule.id
            held, failed = held + ok, failed + (not ok)
    assert held > 1000 and failed > 1000  # both answers were exercised


VALUES = [MISSING, None, True, False, 0, 1, 2.5, -3, "a", "b", "", ["a", "b"], [], ("a", "c"), {"x": 1}]


@pytest.mark.parametrize("op", sorted(COMPARE))
def test_each_operator_is_compare(op):
    for value, other in itertools.product(VALUES, VALUES):
        try:
            expected = compare(op, value, other)
        except TypeError:
            with pytest.raises(TypeError):
                COMPARE[op](value, other)
            continue
        assert COMPARE[op](value, other) == expected, (op, value, other)


def _same(got, expected):
    """Equal witness lists whose values also have the same types (attrs' == takes 1 for True)."""
    assert got == expected
    if got is not None:
        assert [type(m.value) for m in got] == [type(m.value) for m in expected]


def test_each_rule_checker_is_holds(kb):
    checkers = {rule.id: checker(rule.when) for rule in kb.rules}
    held = 0
    for run in _runs(kb):
        start = Facts(case=run.case.data, trials=kb.policy.trials)  # before any rule fired
        for facts in (start, run.facts):
            for rule in kb.rules:
                found = checkers[rule.id](facts)
                _same(found, rule.when.holds(facts))
                held += found is not None
    assert held > 1000


def test_each_node_checker_and_judger_are_holds_and_judge(kb):
    nodes = {id(node): node for rule in kb.rules for node in rule.when.walk()}.values()
    pairs = [(node, checker(node), judger(node)) for node in nodes]
    failed = 0
    for number, run in enumerate(_runs(kb)):
        if number % 3:
            continue  # every third run: all nodes of all rules, at the start and at the end
        for facts in (Facts(case=run.case.data, trials=kb.policy.trials), run.facts):
            for node, holds, judge in pairs:
                ok, witnesses = node.judge(facts)
                _same(holds(facts), witnesses if ok else None)
                got_ok, got = judge(facts)
                assert got_ok == ok
                _same(got, witnesses)
                failed += not ok
    assert failed > 1000
    assert {Not, Score, Count, ConditionTest} <= {type(node) for node, _, _ in pairs}  # each kind was checked


def test_a_negation_and_a_condition_status_as_judge_gives_them():
    confirmed = ConditionTest("hip_oa", ("suspected", "confirmed"))
    nested = Not(All((FieldTest("age", "gte", 50), Any_((FactTest("f"), Not(confirmed))))))
    for conditions in ({}, {"hip_oa": set()}, {"hip_oa": {"probable"}}, {"hip_oa": {"suspected"}},
                       {"hip_oa": {"suspected", "confirmed"}}, {"hip_oa": {"confirmed", "probable"}}):
        for case in ({"age": 60}, {"age": 40}, {}):
            for derived in (set(), {"f"}):
                facts = Facts(case=case, derived=derived, conditions=conditions)
                for node in (confirmed, nested, nested.item):
                    ok, witnesses = node.judge(facts)
                    _same(checker(node)(facts), witnesses if ok else None)
                    assert judger(node)(facts)[0] == ok
                    _same(judger(node)(facts)[1], witnesses)


def test_a_field_witness_is_reused_only_for_the_same_value_and_type():
    hip, fact, age = FieldTest("pain.hip", "present"), FactTest("a"), FieldTest("age", "gte", 50)
    check = checker(All((hip, Any_((fact, age)))))
    for value in [1, True, 1.0, "1", [1], ("x",), None, 2, 1, True, 1.0]:
        facts = Facts(case={"pain": {"hip": value}, "age": 60}, derived={"a"})
        first, again = check(facts), check(facts)
        _same(first, hip.holds(facts) + fact.holds(facts) + age.holds(facts))
        assert first is not again  # a fresh list every call: a caller may extend it
    many = checker(FieldTest("age", "present"))
    for years in range(WITNESS_MEMO * 3):  # more values than it keeps: still right
        facts = Facts(case={"age": years})
        _same(many(facts), FieldTest("age", "present").holds(facts))


def test_a_field_witness_shows_minus_zero_as_the_case_gives_it():
    """0.0 and -0.0 are equal and hash alike: a witness kept for one must not stand for the other, or a case's
    trace would depend on the cases its process had evaluated before it."""
    check = checker(FieldTest("labs.crp", "present"))
    for value in [0.0, -0.0, 0.0, -0.0, 0, 0.0]:
        (witness,) = check(Facts(case={"labs": {"crp": value}}))
        assert repr(witness.value) == repr(value)


def test_deep_paths_and_counts_read_the_case_as_holds_does():
    deep = FieldTest("a.b.c", "eq", 2)
    count = Count((deep, FieldTest("x", "absent"), FactTest("f")), at_least=2)
    for case in ({"a": {"b": {"c": 2}}}, {"a": {"b": 2}}, {"a": 3, "x": 1}, {}, {"a": {"b": {"c": 2.0}}}):
        for derived in (set(), {"f"}):
            facts = Facts(case=case, derived=derived)
            _same(checker(count)(facts), count.holds(facts))
            _same(checker(deep)(facts), deep.holds(facts))


OPERANDS = [True, False, 0, 1, 2.5, -3, "a", "", ("a", "c"), ("a", 1), (), "x"]


@pytest.mark.parametrize("op", sorted(COMPARE))
def test_a_section_field_test_written_out_is_holds(op):
    """A field in a section (`pain.knee`) has its common tests written out in the checker (true/false,
    text, a tuple of texts, numbers): each must answer as `holds` for every value, also where the section
    is missing or is not an object, and raise where `holds` raises."""
    for operand in OPERANDS:
        node = FieldTest("s.f", op, operand)
        check = checker(node)
        for value in VALUES:
            for case in ({"s": {"f": value}}, {"s": {"g": value}}, {"s": value}, {}):
                facts = Facts(case=case)
                try:
                    expected = node.holds(facts)
                except TypeError:
                    with pytest.raises(TypeError):
                        check(facts)
                    continue
                _same(check(facts), expected)


def test_a_score_tried_best_option_first_and_given_up_early_is_judge():
    """A score's checker tries each domain's options most points first and gives up once the domains left
    cannot reach at_least; its judger only tries best first. Both must answer as `Score.judge`: ties (the
    first written wins), negative points, a threshold met exactly, and at_most."""
    a, b, c, d = (FieldTest(f"s.{name}", "eq", True) for name in "abcd")
    domains = (Domain("one", ((2, a), (5, b), (5, c))), Domain("two", ((-1, c), (3, d))),
               Domain("three", ((1, a), (1, d))), Domain("four", ((-2, b),)))
    for at_least, at_most in itertools.product((-2, 0, 3, 5, 6, 8, 9, 10), (None, 6)):
        score = Score(domains, at_least, at_most)
        holds, judge = checker(score), judger(score)
        for flags in itertools.product((True, False, None), repeat=4):
            section = {name: flag for name, flag in zip("abcd", flags) if flag is not None}
            facts = Facts(case={"s": section})
            ok, witnesses = score.judge(facts)
            _same(holds(facts), witnesses if ok else None)
            assert judge(facts) == (ok, witnesses)
