"""The schemas themselves: valid draft 2020-12, and faithful to the contract's vocabulary."""

from __future__ import annotations

import json

import jsonschema
import pytest

from cdss.io import cases
from cdss import resources
from cdss.errors import CaseError
from tests.helpers.paths import ROOT, case_paths

SCHEMAS = sorted((ROOT / "schemas").glob("*.schema.json"))


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path):
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_every_shipped_case_is_valid():
    paths = case_paths()
    assert len(paths) >= 80
    for path in paths:
        cases.read_case(str(path))


def test_case_schema_requires_only_id_and_age():
    schema = resources.schema("case")
    assert schema["required"] == ["id", "patient"]
    assert schema["properties"]["patient"]["required"] == ["age_years"]
    cases.case_from_dict({"id": "min", "patient": {"age_years": 0}}, "t")


@pytest.mark.parametrize("bad", [
    {"id": "../../etc/x", "patient": {"age_years": 40}},
    {"id": "x", "patient": {"age_years": 40, "sex": "F"}},
    {"id": "x", "patient": {"age_years": 40.5}},
    {"id": "x", "patient": {"age_years": 40}, "treatments": [{"code": "aspirin", "weeks": 2, "response": "good"}]},
    {"id": "x", "patient": {"age_years": 40}, "labs": {"crp_uln_mg_l": 0}},
    {"id": "x", "patient": {"age_years": 40}, "imaging": {"mri_hip": {"findings": ["avn"], "arco_stage": "V"}}},
])
def test_case_schema_refuses(bad):
    with pytest.raises(CaseError):
        cases.case_from_dict(bad, "t")


# The schemas' code lists are generated from the vocabulary: tests/test_vocabulary.py.


def _mutations(case: dict):
    """Valid and invalid variants of a case: each field set to a wrong type, out of range, or unknown."""
    import copy
    yield case
    for section, body in case.items():
        if not isinstance(body, dict):
            continue
        for name, value in body.items():
            for wrong in ("x", -1, 999, True, None, [], {}, 3.5):
                changed = copy.deepcopy(case)
                changed[section][name] = wrong
                yield changed
        changed = copy.deepcopy(case)
        changed[section]["unknown_field"] = 1
        yield changed


@pytest.mark.slow
def test_the_fast_validator_agrees_with_jsonschema():
    """The product validates with fastjsonschema first (speed) and explains with jsonschema (2020-12, the
    authority): the two must agree on every verdict."""
    check, refused = cases._fast_check()
    validator = cases._validator()
    compared = 0
    for path in case_paths():
        for variant in _mutations(json.loads(path.read_text())):
            try:
                check(variant)
                fast = True
            except refused:
                fast = False
            assert fast == validator.is_valid(variant), (path.name, variant)
            compared += 1
    assert compared > 10000
