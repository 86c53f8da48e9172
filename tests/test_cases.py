"""Every shipped case meets its `expected` block, and every result obeys the result contract."""

from __future__ import annotations

import json

import jsonschema
import pytest

from cdss import cases, expectations, render, resources
from cdss.engine import evaluate
from conftest import CASES, case_paths

RESULT_VALIDATOR = jsonschema.Draft202012Validator(resources.schema("result"))


@pytest.mark.parametrize("path", case_paths(), ids=lambda p: str(p.relative_to(CASES)))
def test_case_meets_expectations(path, kb):
    case = cases.read_case(str(path))
    assert case.id == path.stem, "a case file is named after its id"
    assert "expected" in case.data, "every shipped case states what it expects"
    result = evaluate(case, kb).to_dict()
    RESULT_VALIDATOR.validate(result)
    diffs = expectations.differences(case.data["expected"], result)
    assert not diffs, "\n".join(diffs)


@pytest.mark.parametrize("path", case_paths(), ids=lambda p: str(p.relative_to(CASES)))
def test_no_forbidden_conflict(path, kb):
    """pathways.md, 'Conflicts a result must never hold'."""
    result = evaluate(cases.read_case(str(path)), kb).to_dict()
    imaging_for = {t for r in result["recommendations"] if r["kind"] == "imaging" for t in r["for"]}
    for item in result["do_not"]:
        if item["code"] == "routine_imaging":
            assert not set(item["for"]) & imaging_for, f"imaging recommended beside do_not routine_imaging: {item}"
    bridged = {t for r in result["recommendations"] if r["code"] == "bridging_glucocorticoid" for t in r["for"]}
    for item in result["do_not"]:
        if item["code"] in ("oral_corticosteroids", "long_term_glucocorticoids"):
            assert not set(item["for"]) & bridged
    flags = {f["code"] for f in result["red_flags"] if f["urgency"] == "emergency"}
    if flags:
        for rec in result["recommendations"]:
            if rec["kind"] == "treatment":
                assert set(rec["for"]) & flags, f"treatment {rec['code']} beside an emergency red flag"


def test_evaluation_is_byte_identical(kb):
    for path in case_paths()[:40]:
        case = cases.read_case(str(path))
        first = render.to_json(evaluate(case, kb))
        second = render.to_json(evaluate(cases.read_case(str(path)), kb))
        assert first == second
        assert json.loads(first)["knowledge_base"] == {"version": kb.identity.version, "sha256": kb.identity.sha256}


def test_for_names_only_what_the_result_concludes(kb):
    """A recommendation or do-not serves conditions and red flags that stand in the same result;
    work-up before any diagnosis has an empty `for`."""
    for path in case_paths():
        result = evaluate(cases.read_case(str(path)), kb).to_dict()
        have = {c["code"] for c in result["conditions"]} | {f["code"] for f in result["red_flags"]}
        for item in result["recommendations"] + result["do_not"]:
            assert set(item["for"]) <= have, f"{path.name}: {item['code']} for {item['for']}"
