"""Properties every evaluation must have, on cases hypothesis draws from the case schema (the strategies
of tests/test_differential.py): no exception and a schema-valid result; the same bytes twice, and in
another process; an unrelated field never changes the red flags; red-flag actions first; none of the
conflicts that pathways.md forbids.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdss.io import cases, render
from cdss import resources
from cdss.synth import generate as synth
from cdss.engine import evaluate
from tests.helpers.paths import ROOT, case_paths
from tests.helpers.spec_checks import conflicts
from tests.test_differential import LEAVES, OBJECTS, ORACLE, engine, generated_cases, leaf_strategy, object_strategy

RESULT = jsonschema.Draft202012Validator(resources.schema("result"))
URGENCY_RANK = {"emergency": 0, "urgent": 1, "soon": 2, "routine": 3}
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def result_of(data: dict) -> str:
    kb = engine()[0]
    return render.to_json(evaluate(cases.case_from_dict(data, "<generated>"), kb), indent=None)


# ---------------------------------------------------------------- no exception, schema-valid, same bytes

@pytest.mark.slow
@settings(max_examples=300, **SETTINGS)
@given(data=generated_cases())
def test_every_valid_case_gives_a_valid_result_and_the_same_bytes_twice(data):
    first = result_of(data)
    RESULT.validate(json.loads(first))
    assert result_of(copy.deepcopy(data)) == first, "a second evaluation of the same case differs"


WORKER = r"""
import json, sys
import cdss
from cdss.io import render
kb = cdss.load_knowledge()
for line in sys.stdin:
    case = cdss.case_from_dict(json.loads(line), "<generated>")
    sys.stdout.write(render.to_json(cdss.evaluate(case, kb), indent=None) + "\n")
    sys.stdout.flush()
"""


@pytest.fixture(scope="module")
def other_process():
    """A second Python process that evaluates cases sent as JSON lines, with another hash seed."""
    env = dict(os.environ, PYTHONHASHSEED="4242")
    worker = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, encoding="utf-8", cwd=ROOT, env=env)

    def ask(data: dict) -> str:
        worker.stdin.write(json.dumps(data) + "\n")
        worker.stdin.flush()
        line = worker.stdout.readline()
        assert line, f"the other process died (exit code {worker.poll()})"
        return line.rstrip("\n")

    yield ask
    worker.stdin.close()
    worker.wait(timeout=30)


@pytest.mark.slow
@settings(max_examples=60, **SETTINGS)
@given(data=generated_cases())
def test_another_process_gives_the_same_bytes(other_process, data):
    assert other_process(data) == result_of(data)


@pytest.mark.slow
def test_another_process_gives_the_same_bytes_on_shipped_and_synthetic_cases(other_process):
    sample = [json.loads(p.read_text(encoding="utf-8")) for p in case_paths()[::5]]
    sample += list(synth.generate(100, seed=77))
    for data in sample:
        assert other_process(data) == result_of(data), data["id"]


# ------------------------------------------------------------------- an unrelated field, the red flags

READ_BY_RED_FLAGS = ORACLE.fields_read_by(ORACLE.red_flag_rules())


def _related(path: str) -> bool:
    """Whether a red-flag rule (or a rule it depends on) reads this field, a field inside it, or the study
    or section it belongs to."""
    return any(r == path or r.startswith(path + ".") or path.startswith(r + ".") for r in READ_BY_RED_FLAGS)


UNRELATED = sorted(p for p in LEAVES if not _related(p))


def _addable(case: dict, path: str) -> bool:
    """A field can be added alone if every object it must create has only unrelated required fields."""
    parts = path.split(".")
    node = case
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            for j in range(i, len(parts) - 1):
                holder = ".".join(parts[: j + 1])
                if any(_related(f"{holder}.{r}") for r in OBJECTS[holder].get("required", [])):
                    return False
            return True
        node = node[part]
    return True


@st.composite
def case_and_unrelated_change(draw):
    case = draw(generated_cases())
    changed = copy.deepcopy(case)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in UNRELATED if _addable(changed, p)]))
        parts = path.split(".")
        node = changed
        for i, part in enumerate(parts[:-1]):
            if part not in node:
                holder = ".".join(parts[: i + 1])
                node[part] = draw(object_strategy(holder, OBJECTS[holder], 0))
            node = node[part]
        node[parts[-1]] = draw(leaf_strategy(path, LEAVES[path]))
    return case, changed


def test_unrelated_fields_are_found():
    assert "patient.age_years" not in UNRELATED and "neuro.saddle_anaesthesia" not in UNRELATED
    assert "spa_features.uveitis" in UNRELATED and len(UNRELATED) >= 20


@pytest.mark.slow
@settings(max_examples=200, **SETTINGS)
@given(pair=case_and_unrelated_change())
def test_an_unrelated_field_never_changes_the_red_flags(pair):
    before, after = (json.loads(result_of(data))["red_flags"] for data in pair)
    flags = lambda result: {(f["code"], f["status"], f["urgency"]) for f in result}  # noqa: E731
    assert flags(before) <= flags(after), f"removed: {flags(before) - flags(after)}"
    assert flags(after) <= flags(before), f"added: {flags(after) - flags(before)}"


# ----------------------------------------------------------------- red-flag actions first, no conflicts

def red_flag_actions_first(result: dict) -> list[str]:
    codes = {f["code"] for f in result["red_flags"]}
    if not codes:
        return []
    serves_flag = [bool(set(r["for"]) & codes) for r in result["recommendations"]]
    problems = []
    if serves_flag != sorted(serves_flag, reverse=True):
        problems.append("a recommendation comes before a red flag's own action")
    ranks = [URGENCY_RANK[r["urgency"]] for r, own in zip(result["recommendations"], serves_flag) if own]
    if ranks != sorted(ranks):
        problems.append(f"the red flags' actions are not in urgency order: {ranks}")
    return problems


@pytest.mark.slow
@settings(max_examples=400, **SETTINGS)
@given(data=generated_cases())
def test_red_flag_actions_come_first_and_no_forbidden_conflict(data):
    result = json.loads(result_of(data))
    problems = red_flag_actions_first(result) + conflicts(result)
    assert not problems, "\n".join(problems) + "\n" + json.dumps(data)


@pytest.mark.slow
def test_properties_hold_on_synthetic_cases():
    """The same two checks on a plain synthetic stream, which reaches the deep ladders more often."""
    for data in synth.generate(500, seed=99):
        result = json.loads(result_of(data))
        problems = red_flag_actions_first(result) + conflicts(result)
        assert not problems, "\n".join(problems) + "\n" + json.dumps(data)
