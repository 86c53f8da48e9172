"""Deeply nested conditions: evaluation is linear in the condition's size, and a rule nested deeper than
MAX_CONDITION_DEPTH is refused with one clear error before anything recursive reads it."""

from __future__ import annotations

import pytest
from attrs import frozen

from cdss import load_knowledge
from cdss.errors import RuleFileError
from cdss.kb.checks import checker
from cdss.kb.conditions import All, Any_, Count, Facts, FieldTest, Node, Not
from cdss.kb.loader import load
from cdss.kb.parser import MAX_CONDITION_DEPTH
from cdss.model import Matched
from tests.helpers.rulekit import folder, rule


@frozen(eq=False)
class Probe(Node):
    """A leaf that counts how often it is judged."""

    calls: list

    def judge(self, facts):
        self.calls.append(1)
        return True, [Matched("fact", "probe")]


def _nested(node: Node, depth: int, wrap) -> Node:
    for _ in range(depth):
        node = wrap(node)
    return node


@pytest.mark.parametrize("wrap", [Not, lambda n: All((n,)), lambda n: Any_((n,)), lambda n: Count((n,), 0)])
def test_each_level_judges_its_child_once(wrap):
    calls: list = []
    condition = _nested(Probe(calls), 60, wrap)
    condition.holds(Facts(case={}))
    condition.why_not(Facts(case={}))
    assert len(calls) == 2  # once for holds, once for why_not: never 2 ** 60
    checker(condition)(Facts(case={}))  # what the engines check: the same, once
    assert len(calls) == 3


def test_the_engines_checker_stays_linear_through_mixed_nesting():
    """A `not` over an `all` over a `not`...: the engines' checker judges under each `not`; were it to ask
    both whether a node holds and then why not, the calls would double at every level."""
    calls: list = []
    condition = Probe(calls)
    for level in range(60):
        condition = (Not, lambda n: All((n, FieldTest("age", "absent"))), lambda n: Any_((n,)))[level % 3](condition)
    got = checker(condition)(Facts(case={}))
    assert len(calls) == 1
    assert got == condition.holds(Facts(case={}))


def test_not_keeps_its_witnesses():
    facts = Facts(case={"patient": {"age_years": 50}})
    adult = FieldTest("patient.age_years", "gte", 16)
    assert Not(adult).holds(facts) is None
    assert Not(Not(adult)).holds(facts) == [Matched("field", "/patient/age_years", 50)]
    assert Not(FieldTest("pain.hip", "eq", "left")).holds(facts) == [Matched("field", "/pain/hip", absent=True)]


def _deep_rule(depth: int) -> dict:
    when = {"field": "patient.age_years", "gte": 16}
    for _ in range(depth):
        when = {"not": when}
    return rule("t.deep", when, [{"warn": {"code": "deep", "en": "x", "nl": "x"}}])


@pytest.mark.parametrize("depth", [MAX_CONDITION_DEPTH, 200])
def test_a_rule_nested_too_deep_is_one_clear_error_in_both_modes(tmp_path, depth):
    rules_dir = folder(tmp_path, [_deep_rule(depth)])
    with pytest.raises(RuleFileError, match=f"nested more than {MAX_CONDITION_DEPTH} deep") as raised:
        load(rules_dir)
    assert raised.value.rule_id == "t.deep" and raised.value.line
    collected = load(rules_dir, collect_errors=True)
    assert [error.message for error in collected.errors] == [f"the condition is nested more than {MAX_CONDITION_DEPTH} deep"]
    assert collected.rules == ()


def test_a_rule_just_inside_the_limit_loads_and_evaluates(tmp_path):
    kb = load_knowledge(folder(tmp_path, [_deep_rule(MAX_CONDITION_DEPTH - 1)]))
    from cdss.engine import evaluate
    from cdss.io import cases
    result = evaluate(cases.case_from_dict({"id": "c", "patient": {"age_years": 50}}, "test"), kb)
    assert [entry.rule for entry in result.trace] == []  # 63 nots over a true test: false
