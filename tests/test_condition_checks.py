"""The engines check a rule's condition with `Node.holds`, which builds no witnesses for tests that fail;
`Node.judge` (what `why-not` and a `not` use) builds both. The two must agree: on every rule of the shipped
rule base, over the knowledge each shipped and synthetic case ends with, and per operator on awkward values."""

from __future__ import annotations

import itertools

import pytest

from cdss import load_knowledge
from cdss.engine.direct import DirectEvaluator
from cdss.io import cases
from cdss.kb.conditions import COMPARE, MISSING, compare
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
