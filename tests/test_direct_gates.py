"""The direct engine wakes a rule only when the case meets its gates (cdss/engine/direct.py). A gate the
engine believes unmet while the rule's test holds would silently lose a conclusion, so the gates a case
meets are held here to the tests' own semantics (`lookup`, `compare`), on shipped, synthetic and awkward
cases; and a gate that is met where its test fails would only cost time, so the value gates are held to
keep a rule outside its age band asleep."""

from __future__ import annotations

import copy

import pytest

from cdss import load_knowledge
from cdss.engine.direct import MAX_VALUES, DirectEvaluator, _value_gate, _ValueGates
from cdss.io import cases
from cdss.kb.conditions import MISSING, FieldTest, lookup
from cdss.synth import generate as synth
from tests.helpers.paths import case_paths


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


@pytest.fixture(scope="module")
def engine(kb):
    return DirectEvaluator(kb)


def _value_tests(kb) -> dict[tuple, FieldTest]:
    return {_value_gate(node): node for rule in kb.rules for node in rule.when.walk() if isinstance(node, FieldTest)}


def _all_gates(engine) -> set[tuple]:
    numbers = set()
    for first, having in zip(engine._first, engine._having):
        numbers |= set(first) | set(having)
    return {engine._gates[number] for number in numbers}


def _expected(gate: tuple, data: dict, tests: dict) -> bool:
    """Whether the case meets the gate, by the tests' own semantics (what `Node.holds` reads)."""
    kind = gate[0]
    if kind in ("fact", "condition", "red_flag"):
        return False  # derived: never met by the case alone
    if kind == "trial":
        return any(treatment.get("code") == gate[1] for treatment in data.get("treatments", ()))
    value = lookup(data, tuple(gate[1].split(".")))
    if kind == "absent":
        return value is MISSING
    if kind == "list":
        return isinstance(value, list) and bool(value)
    if kind == "field":
        return value is not MISSING and not isinstance(value, list)
    test = tests[gate]
    if value is MISSING:
        return False
    try:
        return bool(test.compare(value, test.operand))
    except Exception:  # the rule's own check raises: the gate must not hide it
        return True


def _awkward(data: dict) -> list[dict]:
    """The case with values a schema would refuse or a test finds hard: each tested scalar as text, as a
    number, as true, as null, as a list; a section as a list; a section left out."""
    out = []
    for section, block in data.items():
        if not isinstance(block, dict):
            continue
        for key in list(block)[:4]:
            for odd in ("7", 7, 7.5, True, None, [1], {"a": 1}, float("nan")):
                changed = copy.deepcopy(data)
                changed[section][key] = odd
                out.append(changed)
        gone = copy.deepcopy(data)
        del gone[section]
        out.append(gone)
        listed = copy.deepcopy(data)
        listed[section] = [block]
        out.append(listed)
    return out


def _datas():
    for path in case_paths()[:80]:
        yield cases.read_case(str(path)).data
    for data in synth.generate(120, seed=17):
        data.pop("expected", None)
        yield data


def test_the_gates_a_case_meets_are_exactly_what_its_tests_say(kb, engine):
    tests, gates = _value_tests(kb), _all_gates(engine)
    kinds = {gate[0] for gate in gates}
    assert {"value", "absent", "field", "list", "fact"} <= kinds  # every kind is exercised below
    checked = 0
    for data in _datas():
        for one in [data] + (_awkward(data) if checked < 3 else []):
            met = {engine._gates[number] for number in engine._case_gates(one)}
            for gate in gates:
                assert (gate in met) == _expected(gate, one, tests), (gate, one.get("id"))
            checked += 1
    assert checked > 200


def test_value_gates_remember_at_most_max_values_and_stay_exact(kb):
    tests = {gate: test for gate, test in _value_tests(kb).items() if gate[0] == "value" and gate[2] == "lt"}
    gate, test = next(iter(sorted(tests.items())))
    gates = _ValueGates(((gate, test.compare, test.operand),))
    for value in range(-MAX_VALUES, MAX_VALUES * 2):
        for _ in range(2):  # judged, then remembered (or not, once full)
            assert (gate in gates.met(value)) == test.compare(value, test.operand), value
    assert len(gates.seen) == MAX_VALUES


@pytest.mark.parametrize("first", [1, True])
def test_value_gates_keep_one_and_true_apart(kb, first):
    """`eq: true` holds for true and not for 1 (conditions.compare): whichever the memo sees first."""
    gate, test = next((gate, test) for gate, test in sorted(_value_tests(kb).items())
                      if gate[0] == "value" and gate[2] == "eq" and test.operand is True)
    gates = _ValueGates(((gate, test.compare, test.operand),))
    for value in (first, 1 if first is True else True, 1.0, first):
        assert (gate in gates.met(value)) == (value is True), value


def test_a_rule_outside_its_age_band_is_not_woken(kb):
    """A 40-year-old's case: the rules on a child's age or on 75 and over are never looked at (each was
    woken, and failed, in nearly every case before value gates); the age-band rule that fits fires."""
    engine = DirectEvaluator(kb)
    woken: list[str] = []
    for index, rule in enumerate(engine._fire.rules):
        fire = engine._fire.of(index)
        engine._fire.by_index[index] = (lambda fire, rule_id: lambda run: (woken.append(rule_id), fire(run))[1])(fire, rule.id)
    data = next(d for d in synth.generate(400, seed=23) if d["patient"]["age_years"] == 40)
    data.pop("expected", None)
    result = engine.evaluate(cases.case_from_dict(data, "<test>"))
    assert "derived.adult" in {entry.rule for entry in result.trace}
    for asleep in ("redflag.paediatric-case", "redflag.scfe.child-with-hip-thigh-or-knee-pain", "derived.age-75-plus"):
        assert asleep not in woken
    assert "derived.adult" in woken
