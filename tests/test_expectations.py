"""The contract's `expected` semantics for warnings, urgencies and do-nots that must stay out."""

from __future__ import annotations

from cdss.io.expectations import differences

RESULT = {
    "red_flags": [],
    "conditions": [{"code": "knee_osteoarthritis", "status": "probable"}],
    "recommendations": [{"code": "xray_knee", "urgency": "routine", "for": []},
                        {"code": "exercise_therapy", "urgency": "routine", "for": ["knee_osteoarthritis"]}],
    "do_not": [{"code": "glucosamine", "for": ["knee_osteoarthritis"]}],
    "warnings": [{"code": "nsaid_caution"}],
    "trace": [],
}


def test_a_met_expectation_reports_nothing():
    expected = {"warnings": ["nsaid_caution"], "urgency": {"xray_knee": "routine"},
                "do_not_absent": ["routine_imaging", "xray_knee"]}
    assert differences(expected, RESULT) == []


def test_a_missing_warning_is_reported():
    assert differences({"warnings": ["nsaid_contraindicated"]}, RESULT) == [
        "warnings: expected nsaid_contraindicated, but it is not in the result"]


def test_an_urgency_pair_must_match_and_its_recommendation_must_exist():
    assert differences({"urgency": {"xray_knee": "urgent", "mri_knee": "soon"}}, RESULT) == [
        "urgency: xray_knee expected urgent, got routine",
        "urgency: expected mri_knee at soon, but it is not recommended"]


def test_do_not_absent_looks_only_at_the_do_nots():
    assert differences({"do_not_absent": ["glucosamine"]}, RESULT) == [
        "do_not_absent: glucosamine must not be advised against, but is in do_not"]
    # the same code elsewhere in the result is not a do-not
    assert differences({"do_not_absent": ["exercise_therapy"]}, RESULT) == []
