"""Inputs that once crashed the case loader (kept by the fuzz run, .ci/fuzz.sh), plus a quick
hypothesis fuzz of the loader, so the property holds on every test run: any bytes either load as a valid
case or are refused with a CaseError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdss.io import cases
from cdss.engine import evaluate
from cdss.errors import CaseError

REGRESSIONS = sorted((Path(__file__).parent / "fuzz" / "regressions").glob("*"))


def load_or_refuse(data: bytes, kb) -> None:
    try:
        case = cases.case_from_dict(cases.decode(data, "fuzz"), "fuzz")
    except CaseError:
        return
    evaluate(case, kb)


@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda p: p.name)
def test_kept_crash_inputs(path, kb):
    load_or_refuse(path.read_bytes(), kb)


SEED = json.dumps({"id": "f", "patient": {"age_years": 50, "sex": "male"}, "pain": {"hip": "left"},
                   "labs": {"crp_mg_l": 7}, "treatments": [{"code": "topical_nsaid", "weeks": 5, "response": "none"}]})
JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                       max_leaves=20)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | st.builds(lambda i, b: SEED[:i].encode() + b + SEED[i:].encode(),
                                           st.integers(0, len(SEED)), st.binary(max_size=8)))
def test_any_bytes_load_or_are_refused(kb, data):
    load_or_refuse(data, kb)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSONISH, st.sampled_from(["patient", "pain", "labs", "imaging", "treatments", "expected", "joints"]))
def test_any_json_in_any_section_loads_or_is_refused(kb, value, section):
    body = json.loads(SEED)
    body[section] = value
    load_or_refuse(json.dumps(body).encode(), kb)
