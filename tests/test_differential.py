"""The engine against the oracle (tests/helpers/oracle.py, with its own policies) on thousands of generated cases.

Two sources of cases: hypothesis strategies built from the case schema's own vocabulary (every field,
most of them absent, numbers weighted toward the thresholds the rule files test), with or without a
synthetic case (cdss/synth/) underneath that they perturb; and a stream of plain synthetic cases. For
each case the engine (compiler + durable-rules) and the oracle must fire the same rules and reach the
same conditions, red flags, recommendations, do-nots and warnings. The default run is bounded (about
2,000 + 2,000 cases); CDSS_DIFF_EXAMPLES=N raises both counts to N.
"""

from __future__ import annotations

import functools
import json
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdss.io import cases, expectations
from cdss import load_knowledge
from cdss.engine import policies
from cdss import resources
from cdss.synth import generate as synth
from cdss.engine import evaluator_for
from tests.helpers.oracle import Oracle
from tests.helpers.oracle_policies import act_group

EXAMPLES = int(os.environ.get("CDSS_DIFF_EXAMPLES", "2000"))
SYNTH_SEED = 20260611
ORACLE = Oracle()
TESTED = ORACLE.tested_values()
SCHEMA = resources.schema("case")
NOT_GENERATED = ("id", "expected")


# ------------------------------------------------------------------------------ case strategies

def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bounds(spec: dict):
    low = spec.get("minimum", spec.get("exclusiveMinimum"))
    return low, spec.get("maximum"), "exclusiveMinimum" in spec


def _in_range(value, spec: dict) -> bool:
    low, high, exclusive = _bounds(spec)
    if low is not None and (value < low or (exclusive and value == low)):
        return False
    return high is None or value <= high


def number_strategy(path: str, spec: dict) -> st.SearchStrategy:
    """Values at and next to every threshold the rules test on this field, clinically plausible whole
    numbers, and any float the schema allows (huge, tiny, integral floats such as 16.0)."""
    integer = spec.get("type") == "integer"
    low, high, exclusive = _bounds(spec)
    near = set()
    for threshold in (v for v in TESTED.get(path, []) if _is_number(v)):
        steps = (0, -1, 1) if integer else (0, -1, 1, -0.5, 0.5, -0.1, 0.1)
        for step in steps:
            near.add(int(threshold + step) if integer else round(threshold + step, 10))
        if not integer:  # one float step either side: 11.999999999999998, 12.000000000000002
            near |= {math.nextafter(threshold, -math.inf), math.nextafter(threshold, math.inf)}
    if not integer and _in_range(0, spec):
        near |= {0.0, -0.0, 1e-05, 5e-324}  # -0.0 >= 0 to JSON Schema; 1e-05 is written with an exponent
    near = sorted(v for v in near if _in_range(v, spec))
    start = low if low is not None else 0
    least = math.ceil(start) + (1 if exclusive and start == math.ceil(start) else 0)
    whole = st.integers(min_value=least, max_value=high if high is not None else max(start + 150, 150))
    options = [whole]
    if high is None:  # whole numbers beyond 64 bits, and floats that Python writes with an exponent
        options += [st.integers(min_value=least, max_value=2**70), st.sampled_from([1e16, 1e22, 2.5e16, 1e300])]
    if near:
        options.insert(0, st.sampled_from(near))
    if integer:
        options.append(whole.map(float))  # 16.0 is an integer to JSON Schema
    else:
        options.append(st.floats(min_value=low, max_value=high, exclude_min=exclusive,
                                 allow_nan=False, allow_infinity=False))
    return st.one_of(options)


def list_strategy(spec: dict) -> st.SearchStrategy:
    items = spec["items"]["enum"]
    low = spec.get("minItems", 0)

    def alone(values):  # 'normal' stands alone
        return values if "normal" not in values or len(values) == 1 else [v for v in values if v != "normal"]

    return st.lists(st.sampled_from(items), unique=True, min_size=low, max_size=min(len(items), 4)).map(alone)


def leaf_strategy(path: str, spec: dict) -> st.SearchStrategy:
    if "enum" in spec:
        return st.sampled_from(spec["enum"])
    kind = spec.get("type")
    if kind == "boolean":
        return st.sampled_from([True, False])
    if kind in ("number", "integer"):
        return number_strategy(path, spec)
    if kind == "array" and path == "treatments":
        return st.lists(trial_strategy(spec["items"]), max_size=4)
    if kind == "array":
        return list_strategy(spec)
    raise AssertionError(f"no strategy for {path}: {spec}")


def trial_strategy(spec: dict) -> st.SearchStrategy:
    props = spec["properties"]
    codes = resources.schema("case")["$defs"]["treatment_code"]["enum"]  # generated from the vocabulary
    tested = sorted(set(TESTED.get("treatments", [])))
    return st.fixed_dictionaries(
        {"code": st.one_of(st.sampled_from(tested), st.sampled_from(codes)),
         "weeks": number_strategy("treatments.weeks", props["weeks"]),
         "response": st.sampled_from(props["response"]["enum"])},
        optional={"joint": st.sampled_from(props["joint"]["enum"])})


def leaves(node: dict, prefix: str = "") -> dict[str, dict]:
    """Every field the generator may set: dotted path -> schema (objects are walked, not leaves)."""
    out = {}
    for name, spec in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        if path in NOT_GENERATED:
            continue
        if spec.get("type") == "object":
            out.update(leaves(spec, path))
        else:
            out[path] = spec
    return out


LEAVES = leaves(SCHEMA)
OBJECTS = {}


def _objects(node: dict, prefix: str = "") -> None:
    for name, spec in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        if spec.get("type") == "object" and path not in NOT_GENERATED:
            OBJECTS[path] = spec
            _objects(spec, path)


_objects(SCHEMA)
#: fields the rules read come up more often when a synthetic case is perturbed
READ_LEAVES = sorted(p for p in LEAVES if p in TESTED or any(t.startswith(p + ".") for t in TESTED))


def _chance(p: int) -> st.SearchStrategy:
    """True with probability about 1/p; shrinks toward False (absent)."""
    return st.integers(0, p - 1).map(lambda n: n == p - 1)


@st.composite
def object_strategy(draw, path: str, spec: dict, most: int):
    """An object with its required fields and up to `most` others (few, usually: most fields absent)."""
    names = [n for n in spec["properties"] if f"{path}.{n}".lstrip(".") not in NOT_GENERATED]
    required = [n for n in names if n in spec.get("required", [])]
    optional = [n for n in names if n not in required]
    chosen = set(required)
    if optional and most:
        chosen |= set(draw(st.lists(st.sampled_from(optional), unique=True, max_size=min(most, len(optional)))))
    out = {}
    for name in names:  # in schema order, so that equal draws give equal cases
        if name not in chosen:
            continue
        sub, sub_path = spec["properties"][name], f"{path}.{name}".lstrip(".")
        if sub.get("type") == "object":
            out[name] = draw(object_strategy(sub_path, sub, 3 if sub_path.startswith("imaging.") else 6))
        else:
            out[name] = draw(leaf_strategy(sub_path, sub))
    return out


def _relative_labs(draw, case: dict) -> None:
    """CRP and ESR at their case-dependent limits: the lab's own, else 5 mg/l and age/2 (+5)."""
    labs = case.get("labs")
    if not labs or not draw(_chance(2)):
        return
    step = draw(st.sampled_from([0, -1, 1, 0.5, -0.5, 0.1, -0.1]))
    if "crp_mg_l" in labs:
        limit = labs.get("crp_uln_mg_l", 5)
        labs["crp_mg_l"] = max(0, limit + step)
    if "esr_mm_h" in labs:
        age = case["patient"]["age_years"]
        male = case["patient"].get("sex") == "male"
        limit = labs.get("esr_uln_mm_h", age * 0.5 + (0 if male else 5))
        labs["esr_mm_h"] = max(0, limit + step)


@st.composite
def schema_cases(draw):
    """A case drawn field by field from the case schema: a few sections, a few fields in each."""
    case = {"id": "hyp-case", "patient": draw(object_strategy("patient", SCHEMA["properties"]["patient"], 2))}
    case.update(draw(object_strategy("", {"properties": {k: v for k, v in SCHEMA["properties"].items()
                                                           if k != "patient"}}, 8)))
    _relative_labs(draw, case)
    return case


def _set(draw, case: dict, path: str) -> None:
    parts = path.split(".")
    node = case
    for i, part in enumerate(parts[:-1]):
        if part not in node:
            parent = ".".join(parts[: i + 1])
            node[part] = draw(object_strategy(parent, OBJECTS[parent], 0))  # its required fields only
        node = node[part]
    node[parts[-1]] = draw(leaf_strategy(path, LEAVES[path]))


def _delete(case: dict, path: str) -> None:
    parts = path.split(".")
    node = case
    for part in parts[:-1]:
        if part not in node:
            return
        node = node[part]
    parent_path = ".".join(parts[:-1])
    if parts[-1] in OBJECTS.get(parent_path, {}).get("required", []):
        if parent_path == "patient":
            return  # a case always has an age
        _delete(case, parent_path)
    else:
        node.pop(parts[-1], None)


@st.composite
def perturbed_synthetic_cases(draw):
    """A synthetic case with a few fields set, changed or removed: realistic cases, pushed over the edges."""
    index = draw(st.integers(0, 10**6))
    case = synth.make_case(SYNTH_SEED, index)
    case["id"] = "hyp-synth"
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.one_of(st.sampled_from(READ_LEAVES), st.sampled_from(sorted(LEAVES))))
        if draw(_chance(3)):
            _delete(case, path)
        else:
            _set(draw, case, path)
    _relative_labs(draw, case)
    return case


def _consistent(case: dict) -> dict:
    """The contract calls `prosthetic_joint: false` beside a non-empty `prostheses` a contradiction (an
    invalid case): generated cases keep the finer field then."""
    joints = case.get("joints")
    if isinstance(joints, dict) and joints.get("prosthetic_joint") is False and joints.get("prostheses"):
        del joints["prosthetic_joint"]
    return case


def generated_cases() -> st.SearchStrategy:
    return st.one_of(schema_cases(), perturbed_synthetic_cases()).map(_consistent)


# -------------------------------------------------------------------------------------- comparing

@functools.cache
def engine():
    """The shipped knowledge base and its process-wide evaluator (not a fixture: hypothesis would print it)."""
    kb = load_knowledge(resources.DEFAULT_RULES_DIR)
    return kb, evaluator_for(kb)


def summary(result) -> dict:
    """What the two evaluators must agree on: the result's lists in their order, but recommendations by
    code (their act order is checked on its own: the oracle does not restate every tie-break)."""
    return {
        "red_flags": [(f.code, f.status, f.urgency) for f in result.red_flags],
        "conditions": [(c.code, c.status, c.icd10) for c in result.conditions],
        "recommendations": sorted((r.code, r.urgency, tuple(r.for_)) for r in result.recommendations),
        "do_not": [(d.code, tuple(d.for_)) for d in result.do_not],
        "warnings": [w.code for w in result.warnings],
    }


def out_of_act_order(result) -> list[str]:
    """cases-and-results.md: red-flag actions, then diagnostics, then treatment, then advice."""
    flags = [f.code for f in result.red_flags]
    groups = [(act_group(r.kind, r.for_, flags), r.code) for r in result.recommendations]
    return [f"{b[1]} (group {b[0]}) after {a[1]} (group {a[0]})" for a, b in zip(groups, groups[1:]) if b[0] < a[0]]


def disagreement(data: dict) -> str | None:
    kb, evaluator = engine()
    case = cases.case_from_dict(data, "<generated>")
    try:
        run = evaluator.run(case)
    except Exception as error:  # an engine fault is a disagreement too, with its case
        return f"the engine failed ({type(error).__name__}: {error}) on\n{json.dumps(data, indent=1)}"
    result = policies.build_result(run, kb, evaluator.stratum_of)
    fired, oracle_result = ORACLE.evaluate(data)
    problems = []
    if set(run.fired) != fired:
        problems.append(f"engine only: {sorted(set(run.fired) - fired)}; oracle only: {sorted(fired - set(run.fired))}")
    ours, theirs = summary(result), summary(oracle_result)
    for key in ours:
        if ours[key] != theirs[key]:
            problems.append(f"{key}:\n  engine {ours[key]}\n  oracle {theirs[key]}")
    problems += [f"recommendations out of act order: {p}" for p in out_of_act_order(result)]
    if not problems:
        return None
    return "engine and oracle disagree on\n" + json.dumps(data, indent=1) + "\n" + "\n".join(problems)


def test_oracle_reads_the_same_rules():
    assert [r.id for r in ORACLE.rules] == [r.id for r in engine()[0].rules]


def test_oracle_meets_every_shipped_expectation():
    """The oracle is checked against the hand-written cases on its own, not only against the engine."""
    from tests.helpers.paths import case_paths

    oracles = {"nice": ORACLE}
    for path in case_paths():
        data = json.loads(path.read_text(encoding="utf-8"))
        profile = expectations.profile_of(data["expected"])  # each case in the profile it is written for
        if profile not in oracles:  # one oracle per profile (reading the rules takes seconds)
            oracles[profile] = Oracle(profile=profile)
        oracle = oracles[profile]
        diffs = expectations.differences(data["expected"], oracle.evaluate(data)[1].to_dict())
        assert not diffs, f"{path}: " + "; ".join(diffs)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(data=generated_cases())
def test_engine_agrees_with_oracle_on_generated_cases(data):
    problem = disagreement(data)
    assert problem is None, problem


@pytest.mark.slow
def test_engine_agrees_with_oracle_on_synthetic_cases():
    failures, fired = [], set()
    for data in synth.generate(EXAMPLES, seed=SYNTH_SEED):
        problem = disagreement(data)
        if problem:
            failures.append(problem)
        fired |= ORACLE.evaluate(data)[0]
    assert not failures, f"{len(failures)} of {EXAMPLES} synthetic cases disagree; the first:\n{failures[0]}"
    # The stream is only a useful oracle test if it reaches most of the rule base.
    assert len(fired) >= 0.8 * len(ORACLE.rules), f"synthetic cases fired only {len(fired)} rules"


EXPONENT_CASES = [(p, v) for p in sorted(TESTED) if p in LEAVES and LEAVES[p].get("type") == "number"
                  for v in (1e-05, 2e-07, 1e16, 3e22) if _in_range(v, LEAVES[p])]


def _a_finding(study: str) -> str:
    """A finding the study allows (osteophytes where it may hold them), so that the case stays valid."""
    allowed = LEAVES[f"{study}.findings"]["items"]["enum"]
    return "osteophytes" if "osteophytes" in allowed else next(f for f in allowed if f != "normal")


@pytest.mark.parametrize("path, value", EXPONENT_CASES)
def test_numbers_that_python_writes_with_an_exponent(path, value):
    """Regression (cases/regressions/reg-number-written-with-exponent.json): durable-rules' JSON reader
    took "1e-05" for the integer 1 followed by garbage; the case faulted or the process crashed."""
    data = {"id": "exponent", "patient": {"age_years": 60, "sex": "male"},
            "pain": {"hip": "left", "knee": "right", "activity_related": True}, "back": {"low_back_pain": True}}
    node = data
    parts = path.split(".")
    for i, part in enumerate(parts[:-1]):
        holder = ".".join(parts[: i + 1])
        node = node.setdefault(part, {"findings": [_a_finding(holder)]} if holder.startswith("imaging.") else {})
    node[parts[-1]] = value
    problem = disagreement(data)
    assert problem is None, problem


def test_engine_agrees_with_oracle_on_shipped_cases():
    from tests.helpers.paths import case_paths

    for path in case_paths():
        data = json.loads(path.read_text(encoding="utf-8"))
        problem = disagreement(data)
        assert problem is None, f"{path}: {problem}"


def test_the_oracle_shares_no_code_with_cdss():
    """An oracle that imported cdss's policies or conditions would repeat their bugs instead of finding
    them (issue: the oracle must not share `policies` with the engine)."""
    import ast
    from pathlib import Path

    for name in ("oracle.py", "oracle_policies.py"):
        tree = ast.parse((Path(__file__).parent / "helpers" / name).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not {m for m in imported if m and m.split(".")[0] == "cdss"}, f"{name} imports cdss"
