"""`cdss evaluate CASE --why-not CODE`: every rule that could conclude the code, the first condition that
failed with the case's value (through the facts it needs), or the policy that removed it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cdss import case_from_dict, evaluate, load_knowledge
from cdss.cli import main
from cdss.explain.why_not import why_not
from tests.helpers.rulekit import folder, rule

KNEE = ["left", "right", "both"]


def rules(tmp_path):
    return folder(tmp_path, [
        rule("t.adult", {"field": "patient.age_years", "gte": 16}, [{"assert": "t.adult"}]),
        rule("t.knee", {"all": [{"fact": "t.adult"}, {"field": "pain.knee", "in": KNEE},
                                {"field": "pain.activity_related", "eq": True}]},
             [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}}]),
        rule("t.xray", {"all": [{"condition": "knee_osteoarthritis"}, {"field": "labs.crp_mg_l", "gt": 10}]},
             [{"recommend": {"code": "xray_knee", "urgency": "routine", "for": ["knee_osteoarthritis"]}}]),
        rule("t.exercise", {"condition": "knee_osteoarthritis"},
             [{"recommend": {"code": "exercise_therapy", "urgency": "routine", "for": ["knee_osteoarthritis"],
                             "step": 1}}]),
        rule("t.physio", {"all": [{"condition": "knee_osteoarthritis"},
                                  {"any": [{"field": "pain.severity_0_10", "gte": 7},
                                           {"trial": "exercise_therapy", "outcome": "failed"}]}]},
             [{"recommend": {"code": "physiotherapy", "urgency": "routine", "for": ["knee_osteoarthritis"],
                             "step": 2}}]),
        rule("t.flag", {"field": "joints.hot_swollen_joint", "eq": True},
             [{"red_flag": {"code": "septic_arthritis", "status": "suspected", "urgency": "emergency"}}]),
    ])


def case(**parts):
    data = {"id": "wn", "patient": {"age_years": 60}, "pain": {"hip": "none", "knee": "left", "activity_related": True}}
    for key, value in parts.items():
        data[key] = dict(data.get(key, {}), **value) if isinstance(value, dict) else value
    return data


def ask(tmp_path, data, code, *extra):
    path = tmp_path / f"{data['id']}.json"
    path.write_text(json.dumps(data))
    return CliRunner().invoke(main, ["evaluate", str(path), "--rules", str(rules(tmp_path)), "--why-not", code, *extra])


def test_the_first_failing_condition_with_the_case_value_or_not_recorded(tmp_path):
    done = ask(tmp_path, case(), "xray_knee", "--format", "json")
    assert done.exit_code == 0, done.output
    answer = json.loads(done.output)
    assert answer["in_result"] is False and answer["kind"] == "recommendation"
    [xray] = answer["rules"]
    assert xray["rule"] == "t.xray" and xray["fired"] is False
    assert xray["failed"] == {"kind": "field", "test": "labs.crp_mg_l > 10", "detail": "labs.crp_mg_l is not recorded",
                              "field": "labs.crp_mg_l", "value": None, "recorded": False, "line": xray["failed"]["line"]}
    assert xray["failed"]["line"] > 0
    recorded = json.loads(ask(tmp_path, case(labs={"crp_mg_l": 4}), "xray_knee", "--format", "json").output)
    assert recorded["rules"][0]["failed"]["value"] == 4
    text = ask(tmp_path, case(labs={"crp_mg_l": 4}), "xray_knee").output
    assert "t.xray (test.yaml:" in text and "did not fire" in text
    assert "first failing condition: labs.crp_mg_l > 10" in text and "the case has labs.crp_mg_l = 4" in text


def test_through_the_facts_it_needs(tmp_path):
    """A child: the x-ray needs the condition, which needs the adult fact, which needs age >= 16."""
    answer = json.loads(ask(tmp_path, case(patient={"age_years": 12}), "xray_knee", "--format", "json").output)
    failed = answer["rules"][0]["failed"]
    assert failed["kind"] == "condition" and failed["test"].startswith("condition knee_osteoarthritis")
    [knee] = failed["needs"]
    assert knee["rule"] == "t.knee" and knee["failed"]["test"] == "fact t.adult"
    [adult] = knee["failed"]["needs"]
    assert adult["rule"] == "t.adult"
    assert adult["failed"]["test"] == "patient.age_years >= 16" and adult["failed"]["value"] == 12
    text = ask(tmp_path, case(patient={"age_years": 12}), "xray_knee").output
    assert text.index("t.xray") < text.index("t.knee") < text.index("t.adult")
    assert "the case has patient.age_years = 12" in text


def test_any_lists_each_alternative_and_a_trial_shows_what_is_recorded(tmp_path):
    data = case(treatments=[{"code": "exercise_therapy", "weeks": 2, "response": "none"}])
    answer = json.loads(ask(tmp_path, data, "physiotherapy", "--format", "json").output)
    failed = answer["rules"][0]["failed"]
    assert failed["kind"] == "any"
    severity, trial = failed["alternatives"]
    assert severity["test"] == "pain.severity_0_10 >= 7" and severity["recorded"] is False
    assert trial["kind"] == "trial" and "exercise_therapy 2 weeks, response none" in trial["detail"]


def test_a_policy_that_removed_it_after_it_fired(tmp_path):
    data = case(pain={"severity_0_10": 8}, joints={"hot_swollen_joint": True})
    answer = json.loads(ask(tmp_path, data, "physiotherapy", "--format", "json").output)
    [physio] = answer["rules"]
    assert physio["fired"] is True and "failed" not in physio
    [removal] = physio["removed_by"]
    assert removal["policy"] == "policy.red-flag-withholds-treatment"
    assert "removed:physiotherapy" in removal["removed"]
    assert {"red_flag": "septic_arthritis", "value": "emergency"} in removal["because"]
    text = ask(tmp_path, data, "physiotherapy").output
    assert "t.physio (test.yaml:" in text and "but a policy removed it" in text
    assert "policy.red-flag-withholds-treatment" in text and "septic_arthritis = emergency" in text


def test_a_study_already_done(tmp_path):
    data = case(labs={"crp_mg_l": 20}, imaging={"xray_knee": {"findings": ["normal"]}})
    answer = json.loads(ask(tmp_path, data, "xray_knee", "--format", "json").output)
    assert answer["rules"][0]["removed_by"][0]["policy"] == "policy.study-already-done"


def test_a_code_the_result_holds_shows_the_explain_chain(tmp_path):
    done = ask(tmp_path, case(), "exercise_therapy")
    assert done.exit_code == 0
    assert "exercise_therapy is in the result" in done.output
    assert "<- t.exercise" in done.output and "<- t.knee" in done.output and "<- t.adult" in done.output
    answer = json.loads(ask(tmp_path, case(), "knee_osteoarthritis", "--format", "json").output)
    assert answer["in_result"] is True and answer["item"]["status"] == "suspected"
    assert [step["rule"] for step in answer["chain"]] == ["t.knee", "t.adult"]


def test_no_rule_concludes_it_and_unknown_codes(tmp_path):
    done = ask(tmp_path, case(), "mri_hip")
    assert done.exit_code == 0 and "No rule in this knowledge base (profile nice) concludes mri_hip" in done.output
    bad = ask(tmp_path, case(), "xray_kne")
    assert bad.exit_code == 2 and "did you mean 'xray_knee'" in bad.output


def test_the_library_function_serves_other_callers(tmp_path):
    """What the service will call: case, result and knowledge base in, a WhyNot out."""
    kb = load_knowledge(rules(tmp_path))
    data = case(patient={"age_years": 12})
    c = case_from_dict(data, "wn.json")
    answer = why_not(c, evaluate(c, kb), kb, "knee_osteoarthritis")
    assert answer.direct == ("t.knee",)
    assert answer.rules["t.adult"].failure.value == 12
    assert answer.to_dict()["rules"][0]["failed"]["needs"][0]["rule"] == "t.adult"
