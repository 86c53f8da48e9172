"""Every shipped case meets its `expected` block, and every result obeys the result contract."""

from __future__ import annotations

import json

import jsonschema
import pytest

from cdss.io import cases, expectations, render
from cdss import resources
from cdss.engine import evaluate
from tests.helpers.paths import CASES, case_paths
from tests.helpers.spec_checks import conflicts

RESULT_VALIDATOR = jsonschema.Draft202012Validator(resources.schema("result"))


@pytest.mark.parametrize("path", case_paths(), ids=lambda p: str(p.relative_to(CASES)))
def test_case_meets_expectations(path, kb_of):
    case = cases.read_case(str(path))
    assert case.id == path.stem, "a case file is named after its id"
    assert "expected" in case.data, "every shipped case states what it expects"
    profile = expectations.profile_of(case.data["expected"])
    result = evaluate(case, kb_of(profile)).to_dict()
    assert result["knowledge_base"]["profile"] == profile
    RESULT_VALIDATOR.validate(result)
    diffs = expectations.differences(case.data["expected"], result)
    assert not diffs, "\n".join(diffs)


@pytest.mark.parametrize("path", case_paths(), ids=lambda p: str(p.relative_to(CASES)))
def test_no_forbidden_conflict(path, kb):
    """pathways.md, 'Conflicts a result must never hold'."""
    assert conflicts(evaluate(cases.read_case(str(path)), kb).to_dict()) == []


def test_evaluation_is_byte_identical(kb):
    for path in case_paths()[:40]:
        case = cases.read_case(str(path))
        first = render.to_json(evaluate(case, kb))
        second = render.to_json(evaluate(cases.read_case(str(path)), kb))
        assert first == second
        assert json.loads(first)["knowledge_base"] == {"version": kb.identity.version, "sha256": kb.identity.sha256,
                                                       "profile": "nice"}


def test_for_names_only_what_the_result_concludes(kb):
    """A recommendation or do-not serves conditions and red flags that stand in the same result;
    work-up before any diagnosis has an empty `for`."""
    for path in case_paths():
        result = evaluate(cases.read_case(str(path)), kb).to_dict()
        have = {c["code"] for c in result["conditions"]} | {f["code"] for f in result["red_flags"]}
        for item in result["recommendations"] + result["do_not"]:
            assert set(item["for"]) <= have, f"{path.name}: {item['code']} for {item['for']}"
