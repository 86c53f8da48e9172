"""Case facts in rule texts (docs/rule-format.md, "Case facts in rule texts"): a rationale or warning names
a case value, a count, a score's points or a lookup by a declarative placeholder, filled per case in the
output language; anything else in braces is a load error; nothing from the case is read as a template."""

from __future__ import annotations

import pytest

from cdss.engine import evaluate
from cdss.errors import RuleFileError
from cdss.io.cases import case_from_dict
from cdss.kb import phrases
from cdss.kb.loader import load
from tests.helpers import rulekit

KOCHER_STEPS = [{"at_least": 0, "en": "under 0.2%", "nl": "minder dan 0,2%"},
                {"at_least": 1, "en": "3%", "nl": "3%"}, {"at_least": 2, "en": "40%", "nl": "40%"},
                {"at_least": 3, "en": "93%", "nl": "93%"}, {"at_least": 4, "en": "99.6%", "nl": "99,6%"}]


def kocher() -> dict:
    return rulekit.rule(
        "t.kocher",
        {"all": [{"field": "patient.age_years", "lt": 16},
                 {"count": {"at_least": 1, "of": [{"field": "trauma.can_bear_weight", "eq": False},
                                                  {"field": "systemic.temperature_c", "gt": 38.5},
                                                  {"field": "labs.esr_mm_h", "gt": 40},
                                                  {"field": "labs.wbc_10e9_l", "gt": 12}]}}]},
        [{"red_flag": {"code": "septic_arthritis", "status": "suspected", "urgency": "emergency"}},
         {"warn": {"code": "red_flag", "for": ["septic_arthritis"],
                   "en": "Septic arthritis: {labs.esr_mm_h}.", "nl": "Bacteriële artritis: {labs.esr_mm_h}."}}],
        rationale={"en": "{count} of {count_total} Kocher criteria ({systemic.temperature_c}): a septic hip in about "
                         "{lookup:risk} of such children.",
                   "nl": "{count} van de {count_total} criteria van Kocher ({systemic.temperature_c}): bij ongeveer "
                         "{lookup:risk} van zulke kinderen een bacteriële artritis van de heup."},
        lookups={"risk": {"of": "count", "steps": KOCHER_STEPS}})


def acr() -> dict:
    return rulekit.rule(
        "t.acr",
        {"score": {"at_least": 2, "domains": [
            {"name": "joints", "options": [{"points": 1, "when": {"field": "joints.swollen_large_joints", "gte": 2}},
                                           {"points": 3, "when": {"field": "joints.swollen_small_joints", "gte": 4}}]},
            {"name": "serology", "options": [{"points": 2, "when": {"field": "labs.rf", "eq": "low_positive"}}]}]}},
        [{"condition": {"code": "rheumatoid_arthritis", "status": "probable"}}],
        rationale={"en": "ACR/EULAR {points} points (joints {points:joints}).",
                   "nl": "ACR/EULAR {points} punten (gewrichten {points:joints})."})


def _evaluate(tmp_path, rule, case):
    kb = load(rulekit.folder(tmp_path, [rule]))
    return evaluate(case_from_dict(dict(case, id="c1"), "t"), kb)


def test_a_count_its_lookup_and_case_values_fill_in_each_language(tmp_path):
    result = _evaluate(tmp_path, kocher(), {"patient": {"age_years": 9}, "trauma": {"can_bear_weight": False},
                                            "systemic": {"temperature_c": 38.9}, "labs": {"esr_mm_h": 25}})
    flag = result.red_flags[0]
    assert flag.rationale.en == ("2 of 4 Kocher criteria (temperature 38.9 °C): a septic hip in about 40% of such "
                                 "children.")
    assert flag.rationale.nl.startswith("2 van de 4 criteria van Kocher (temperatuur 38,9 °C)")
    warning = result.to_dict("nl")["warnings"][0]
    assert warning["message"] == "Bacteriële artritis: BSE 25 mm/uur."
    assert warning["for"] == ["septic_arthritis"] and warning["label"] == "Alarmsymptoom: eerst hierop handelen"


def test_an_absent_field_is_said_as_not_recorded(tmp_path):
    result = _evaluate(tmp_path, kocher(), {"patient": {"age_years": 9}, "labs": {"esr_mm_h": 41, "wbc_10e9_l": 13}})
    assert "(not recorded: temperature)" in result.red_flags[0].rationale.en
    assert "2 of 4" in result.red_flags[0].rationale.en


def test_a_scores_points_fill(tmp_path):
    result = _evaluate(tmp_path, acr(), {"patient": {"age_years": 50}, "joints": {"swollen_small_joints": 5},
                                         "labs": {"rf": "low_positive"}})
    assert result.conditions[0].rationale.en == "ACR/EULAR 5 points (joints 3)."
    assert result.conditions[0].rationale.nl == "ACR/EULAR 5 punten (gewrichten 3)."


@pytest.mark.parametrize("text, message", [
    ("{pain.kneee}", "unknown placeholder {pain.kneee}"),
    ("{id}", "unknown placeholder {id}"),
    ("{__class__}", "unknown placeholder {__class__}"),
    ("{0}", "unknown placeholder {0}"),
    ("{count} criteria", "needs exactly one `count`"),
    ("{points:joints}", "needs exactly one `score`"),
    ("{lookup:risk}", "defines no lookup 'risk'"),
    ("a { brace", "a brace that is not a placeholder"),
    ("{pain.hip!r}", "unknown placeholder"),
])
def test_what_cannot_be_filled_is_a_load_error(tmp_path, text, message):
    rule = rulekit.rule("t.bad", {"field": "pain.knee", "eq": "left"},
                        [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}}],
                        rationale={"en": text, "nl": "tekst"})
    with pytest.raises(RuleFileError, match=message.replace("{", r"\{").replace("}", r"\}").replace("(", r"\(")):
        load(rulekit.folder(tmp_path, [rule]))


def test_filling_is_one_pass():
    """A filled-in value is never scanned for placeholders again."""
    assert phrases.fill("{items}", {"items": "{value}", "value": "x"}) == "{value}"

