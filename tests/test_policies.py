"""Each result-level policy (cdss/engine/policies.py), when it changes a result, leaves exactly the
`policy.*` trace entry expected: what it matched and what it changed. And when it has nothing to do, none.

Every test runs the real engine on a small rule folder: the shipped manifest (rules/knowledge_base.yaml,
where the policy is data), the shipped definitions (rules/derived.yaml) and a few rules of its own that
conclude exactly what the policy acts on.
"""

from __future__ import annotations

import shutil

import pytest
import yaml

from cdss import load_knowledge, resources
from cdss.engine import evaluate
from cdss.io import cases
from tests.helpers.rulekit import rule

ADULT = {"fact": "derived.adult"}


def kb_with(tmp_path, rules, manifest_changes=None):
    directory = tmp_path / "rules"
    directory.mkdir(parents=True)
    shipped = resources.DEFAULT_RULES_DIR
    manifest = yaml.safe_load((shipped / "knowledge_base.yaml").read_text(encoding="utf-8"))
    manifest.update(manifest_changes or {})
    (directory / "knowledge_base.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    shutil.copy(shipped / "derived.yaml", directory / "derived.yaml")
    (directory / "test.yaml").write_text(yaml.safe_dump(
        {"pathway": "test", "title": {"en": "t", "nl": "t"}, "rules": rules},
        sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load_knowledge(directory)


def run(kb, **data):
    body = {"id": "t1", "patient": {"age_years": 50}}
    body.update(data)
    return evaluate(cases.case_from_dict(body, "test"), kb).to_dict()


def entries(result, name):
    return [t for t in result["trace"] if t["rule"] == f"policy.{name}"]


def entry(result, name):
    found = entries(result, name)
    assert len(found) == 1, f"policy.{name}: {found}"
    return found[0]


def codes(result, key="recommendations"):
    return [item["code"] for item in result[key]]


def recommend(code, urgency="routine", for_=("knee_osteoarthritis",), step=1):
    return {"recommend": {"code": code, "urgency": urgency, "for": list(for_), "step": step}}


def knee_oa(*then, when=None):
    return rule("t.knee-oa", when or {"all": [ADULT, {"fact": "derived.knee_pain"}]},
                [{"condition": {"code": "knee_osteoarthritis", "status": "probable"}}] + list(then))


def flag(code, urgency, when, *then):
    return rule(f"t.flag.{code}.{urgency}", when, [{"red_flag": {"code": code, "status": "suspected", "urgency": urgency}}]
                + list(then))


HOT = {"field": "joints.hot_swollen_joint", "eq": True}
KNEE = {"pain": {"knee": "left"}}


# ---------------------------------------------------------------- studies done, failed trials

def test_study_already_done_is_removed_with_its_trace(tmp_path):
    kb = kb_with(tmp_path, [knee_oa(recommend("xray_knee"))])
    result = run(kb, **KNEE, imaging={"xray_knee": {"findings": ["normal"]}})
    assert "xray_knee" not in codes(result)
    assert entry(result, "study-already-done") == {
        "rule": "policy.study-already-done", "matched": [{"field": "/imaging/xray_knee"}], "asserted": ["removed:xray_knee"]}
    assert entries(run(kb, **KNEE), "study-already-done") == []


def test_an_emergency_mri_is_recommended_again_unless_it_shows_the_finding(tmp_path):
    kb = kb_with(tmp_path, [flag("cauda_equina_syndrome", "emergency", {"field": "neuro.saddle_anaesthesia", "eq": True},
                                 recommend("mri_lumbar_spine", "emergency", ["cauda_equina_syndrome"]))])
    earlier = run(kb, neuro={"saddle_anaesthesia": True}, imaging={"mri_lumbar_spine": {"findings": ["disc_herniation"]}})
    assert "mri_lumbar_spine" in codes(earlier) and entries(earlier, "study-already-done") == []
    shown = run(kb, neuro={"saddle_anaesthesia": True}, imaging={"mri_lumbar_spine": {"findings": ["cauda_equina_compression"]}})
    assert "mri_lumbar_spine" not in codes(shown)
    assert entry(shown, "study-already-done")["asserted"] == ["removed:mri_lumbar_spine"]


@pytest.mark.parametrize("trial, removed", [
    ({"code": "topical_nsaid", "weeks": 4, "response": "none"}, True),  # failed at 4 weeks
    ({"code": "topical_nsaid", "weeks": 3, "response": "good"}, True),  # still running
    ({"code": "topical_nsaid", "weeks": 4, "response": "good"}, False),  # worked: recommended again
    ({"code": "topical_nsaid", "weeks": 6, "response": "none", "joint": "hip"}, False),  # another joint's trial
])
def test_failed_or_running_trial_is_not_repeated(tmp_path, trial, removed):
    kb = kb_with(tmp_path, [knee_oa(recommend("topical_nsaid", step=2), recommend("exercise_therapy"))])
    result = run(kb, **KNEE, treatments=[trial])
    assert ("topical_nsaid" not in codes(result)) == removed
    found = entries(result, "failed-trial-not-repeated")
    if removed:
        assert found == [{"rule": "policy.failed-trial-not-repeated",
                          "matched": [{"trial": "/treatments/0",
                                       "value": f"topical_nsaid {trial['weeks']:g} weeks, response {trial['response']}"}],
                          "asserted": ["removed:topical_nsaid"]}]
    else:
        assert found == []


@pytest.mark.parametrize("trial, removed", [
    ({"code": "conventional_dmard", "weeks": 11, "response": "none"}, True),  # a DMARD under 12 weeks is running
    ({"code": "conventional_dmard", "weeks": 12, "response": "good"}, False),
    ({"code": "pmr_glucocorticoid", "weeks": 0.5, "response": "partial"}, True),  # PMR fails on any poor response
    ({"code": "pmr_glucocorticoid", "weeks": 0.5, "response": "good"}, False),
])
def test_the_failed_trial_definition_per_treatment_comes_from_the_knowledge_base(tmp_path, trial, removed):
    kb = kb_with(tmp_path, [rule("t.ra", ADULT, [
        {"condition": {"code": "polymyalgia_rheumatica", "status": "probable"}},
        recommend(trial["code"], for_=["polymyalgia_rheumatica"])])])
    result = run(kb, treatments=[trial])
    assert (trial["code"] not in codes(result)) == removed


# ---------------------------------------------------------------- bans and withholding

def test_infection_ban_removes_injections_nsaids_and_the_imaging_do_not(tmp_path):
    kb = kb_with(tmp_path, [
        flag("septic_arthritis", "urgent", HOT),
        knee_oa(recommend("corticosteroid_injection", step=4), recommend("topical_nsaid", step=2),
                {"advise_against": {"code": "routine_imaging", "for": ["knee_osteoarthritis"]}})])
    result = run(kb, **KNEE, joints={"hot_swollen_joint": True})
    assert not {"corticosteroid_injection", "topical_nsaid"} & set(codes(result))
    assert "routine_imaging" not in codes(result, "do_not")
    assert entry(result, "infection-ban") == {
        "rule": "policy.infection-ban", "matched": [{"red_flag": "septic_arthritis"}],
        "asserted": ["removed:corticosteroid_injection", "removed:topical_nsaid", "removed:do_not:routine_imaging",
                     "warning:treatment_withheld"]}
    withheld = next(w for w in result["warnings"] if w["code"] == "treatment_withheld")
    assert withheld["for"] == ["septic_arthritis"]


def test_malignancy_ban_removes_any_injection(tmp_path):
    kb = kb_with(tmp_path, [
        flag("bone_malignancy", "soon", {"field": "systemic.cancer_history", "eq": True}),
        knee_oa(recommend("corticosteroid_injection", step=4), recommend("exercise_therapy"))])
    result = run(kb, **KNEE, systemic={"cancer_history": True})
    assert "corticosteroid_injection" not in codes(result) and "exercise_therapy" in codes(result)
    assert entry(result, "malignancy-ban")["asserted"] == ["removed:corticosteroid_injection", "warning:treatment_withheld"]
    assert entries(result, "red-flag-withholds-treatment") == []  # a soon flag withholds nothing else


def test_an_emergency_flag_keeps_only_red_flags_own_treatment(tmp_path):
    kb = kb_with(tmp_path, [
        flag("hip_fracture", "emergency", {"field": "trauma.recent", "eq": "high_energy"},
             recommend("protected_weight_bearing", "emergency", ["hip_fracture"])),
        knee_oa(recommend("exercise_therapy"), recommend("education_self_management"))])
    result = run(kb, **KNEE, trauma={"recent": "high_energy"})
    assert [c for c in codes(result) if c in ("exercise_therapy", "education_self_management",
                                              "protected_weight_bearing")] == ["protected_weight_bearing"]
    assert entry(result, "red-flag-withholds-treatment") == {
        "rule": "policy.red-flag-withholds-treatment", "matched": [{"red_flag": "hip_fracture", "value": "emergency"}],
        "asserted": ["removed:exercise_therapy", "removed:education_self_management", "warning:treatment_withheld"]}


def test_an_urgent_flag_keeps_education_and_stay_active_but_a_fracture_flag_not_stay_active(tmp_path):
    rules = [knee_oa(recommend("exercise_therapy"), recommend("education_self_management"),
                     recommend("stay_active"))]
    kb = kb_with(tmp_path, rules + [flag("spinal_serious_pathology", "urgent", {"field": "back.night_pain", "eq": True})])
    result = run(kb, **KNEE, back={"night_pain": True})
    assert {"education_self_management", "stay_active"} <= set(codes(result)) and "exercise_therapy" not in codes(result)
    assert entry(result, "red-flag-withholds-treatment")["asserted"] == ["removed:exercise_therapy", "warning:treatment_withheld"]

    kb = kb_with(tmp_path / "b", rules + [flag("knee_fracture", "urgent", {"field": "trauma.recent", "eq": "low_energy"})])
    result = run(kb, **KNEE, trauma={"recent": "low_energy"})
    assert "education_self_management" in codes(result) and "stay_active" not in codes(result)
    assert entry(result, "red-flag-withholds-treatment")["asserted"] == [
        "removed:exercise_therapy", "removed:stay_active", "warning:treatment_withheld"]


def test_stay_active_goes_under_bone_malignancy_only_once_an_xray_shows_a_lesion(tmp_path):
    kb = kb_with(tmp_path, [
        flag("bone_malignancy", "soon", {"field": "systemic.cancer_history", "eq": True}),
        knee_oa(recommend("stay_active"))])
    assert "stay_active" in codes(run(kb, **KNEE, systemic={"cancer_history": True}))
    result = run(kb, **KNEE, systemic={"cancer_history": True}, imaging={"xray_femur": {"findings": ["bone_lesion"]}})
    assert "stay_active" not in codes(result)
    assert entry(result, "red-flag-withholds-treatment") == {
        "rule": "policy.red-flag-withholds-treatment", "matched": [{"red_flag": "bone_malignancy", "value": "soon"}],
        "asserted": ["removed:stay_active", "warning:treatment_withheld"]}


def test_each_urgent_flag_adds_pain_relief_and_safety_netting_advice(tmp_path):
    kb = kb_with(tmp_path, [flag("knee_fracture", "urgent", {"field": "trauma.recent", "eq": "low_energy"}),
                            flag("giant_cell_arteritis", "emergency", {"field": "systemic.new_headache", "eq": True})])
    result = run(kb, **KNEE, trauma={"recent": "low_energy"}, systemic={"new_headache": True})
    advice = {r["code"]: r for r in result["recommendations"] if r["kind"] == "advice"}
    assert set(advice) == {"analgesic_safety_advice", "safety_netting"}
    assert all(r["for"] == ["knee_fracture"] and r["urgency"] == "urgent" for r in advice.values())
    assert entry(result, "urgent-flag-advice") == {
        "rule": "policy.urgent-flag-advice", "matched": [{"red_flag": "knee_fracture", "value": "urgent"}],
        "asserted": ["recommend:analgesic_safety_advice:urgent:for:knee_fracture",
                     "recommend:safety_netting:urgent:for:knee_fracture"]}
    assert codes(result)[-2:] == ["analgesic_safety_advice", "safety_netting"]  # after the flags' own actions


def test_crystal_arthritis_beside_a_joint_infection_flag_says_treatment_is_withheld(tmp_path):
    kb = kb_with(tmp_path, [flag("septic_arthritis", "emergency", HOT),
                            rule("t.gout", ADULT, [{"condition": {"code": "gout", "status": "suspected"}}])])
    result = run(kb, **KNEE, joints={"hot_swollen_joint": True})
    assert entry(result, "treated-only-without-red-flag") == {
        "rule": "policy.treated-only-without-red-flag",
        "matched": [{"condition": "gout"}, {"red_flag": "septic_arthritis"}], "asserted": ["warning:treatment_withheld"]}


# ---------------------------------------------------------------- NSAID safety

NSAID_RULES = [knee_oa(recommend("oral_nsaid_with_ppi", step=3), recommend("topical_nsaid", step=2))]
KNOWN_SAFE = {"nsaid_contraindicated": False, "anticoagulant_use": False, "gi_bleed_history": False,
              "cardiovascular_disease": False}


def test_nsaid_contraindicated_removes_the_oral_nsaid_with_a_warning(tmp_path):
    kb = kb_with(tmp_path, NSAID_RULES)
    result = run(kb, **KNEE, systemic=dict(KNOWN_SAFE, gi_bleed_history=True), labs={"egfr_ml_min": 80})
    assert "oral_nsaid_with_ppi" not in codes(result) and "topical_nsaid" in codes(result)
    assert entry(result, "nsaid-contraindicated") == {
        "rule": "policy.nsaid-contraindicated", "matched": [{"fact": "derived.nsaid_contraindicated"}],
        "asserted": ["removed:oral_nsaid_with_ppi", "warning:nsaid_contraindicated"]}
    assert next(w for w in result["warnings"] if w["code"] == "nsaid_contraindicated")["for"] == ["knee_osteoarthritis"]
    assert entries(result, "nsaid-safety-check") == [] and entries(result, "nsaid-caution") == []


def test_nsaid_status_unknown_adds_a_safety_check_for_the_same_conditions(tmp_path):
    kb = kb_with(tmp_path, NSAID_RULES)
    result = run(kb, **KNEE)
    check = next(r for r in result["recommendations"] if r["code"] == "nsaid_safety_check")
    assert check["for"] == ["knee_osteoarthritis"] and check["kind"] == "exam"
    assert entry(result, "nsaid-safety-check") == {
        "rule": "policy.nsaid-safety-check", "matched": [{"fact": "derived.nsaid_status_unknown"}],
        "asserted": ["recommend:nsaid_safety_check:routine"]}
    known = run(kb, **KNEE, systemic=KNOWN_SAFE, labs={"egfr_ml_min": 80})
    assert "nsaid_safety_check" not in codes(known) and entries(known, "nsaid-safety-check") == []


@pytest.mark.parametrize("egfr, caution", [(59, True), (60, False), (30, True), (29, False)])
def test_nsaid_caution_warns_at_egfr_30_to_59(tmp_path, egfr, caution):
    kb = kb_with(tmp_path, NSAID_RULES)
    result = run(kb, **KNEE, systemic=KNOWN_SAFE, labs={"egfr_ml_min": egfr})
    assert bool(entries(result, "nsaid-caution")) == caution
    if caution:
        assert entry(result, "nsaid-caution") == {"rule": "policy.nsaid-caution",
                                                  "matched": [{"fact": "derived.nsaid_caution"}],
                                                  "asserted": ["warning:nsaid_caution"]}


def test_at_75_no_oral_nsaid_for_a_crystal_arthritis_flare(tmp_path):
    kb = kb_with(tmp_path, [rule("t.gout", ADULT, [
        {"condition": {"code": "gout", "status": "suspected"}},
        recommend("oral_nsaid_with_ppi", "urgent", ["gout"]), recommend("colchicine", "urgent", ["gout"])])])
    old = run(kb, patient={"age_years": 75}, systemic=KNOWN_SAFE, labs={"egfr_ml_min": 80})
    assert "oral_nsaid_with_ppi" not in codes(old) and "colchicine" in codes(old)
    assert entry(old, "nsaid-dropped-by-age") == {"rule": "policy.nsaid-dropped-by-age",
                                                  "matched": [{"fact": "derived.age_75_plus"}],
                                                  "asserted": ["removed:oral_nsaid_with_ppi"]}
    younger = run(kb, patient={"age_years": 74}, systemic=KNOWN_SAFE, labs={"egfr_ml_min": 80})
    assert "oral_nsaid_with_ppi" in codes(younger) and entries(younger, "nsaid-dropped-by-age") == []


# ---------------------------------------------------------------- do-nots

def test_no_imaging_do_not_for_a_condition_that_gets_imaging(tmp_path):
    kb = kb_with(tmp_path, [
        knee_oa({"advise_against": {"code": "routine_imaging", "for": ["knee_osteoarthritis"]}}),
        rule("t.xray", {"field": "pain.rapidly_worsening", "eq": True}, [recommend("xray_knee")])])
    assert "routine_imaging" in codes(run(kb, **KNEE), "do_not")
    result = run(kb, pain={"knee": "left", "rapidly_worsening": True})
    assert "routine_imaging" not in codes(result, "do_not")
    assert entry(result, "no-routine-imaging-do-not-beside-imaging") == {
        "rule": "policy.no-routine-imaging-do-not-beside-imaging", "matched": [],
        "asserted": ["removed:do_not:routine_imaging"]}


def test_the_imaging_do_not_goes_beside_an_urgent_spinal_flag_but_stays_beside_a_soon_one(tmp_path):
    do_not = {"advise_against": {"code": "routine_imaging", "for": ["lumbar_radiculopathy"]}}
    kb = kb_with(tmp_path, [
        rule("t.sciatica", ADULT, [{"condition": {"code": "lumbar_radiculopathy", "status": "suspected"}}, do_not]),
        flag("spinal_serious_pathology", "urgent", {"field": "back.night_pain", "eq": True}),
        flag("spinal_serious_pathology", "soon", {"field": "back.duration_weeks", "lte": 6})])
    urgent = run(kb, back={"night_pain": True})
    assert "routine_imaging" not in codes(urgent, "do_not")
    assert entry(urgent, "no-routine-imaging-do-not-beside-imaging")["matched"] == [{"red_flag": "spinal_serious_pathology"}]
    soon = run(kb, back={"duration_weeks": 3})
    assert "routine_imaging" in codes(soon, "do_not")


def test_no_glucocorticoid_do_not_beside_a_bridging_glucocorticoid(tmp_path):
    kb = kb_with(tmp_path, [rule("t.ra", ADULT, [
        {"condition": {"code": "rheumatoid_arthritis", "status": "probable"}},
        recommend("bridging_glucocorticoid", for_=["rheumatoid_arthritis"]),
        {"advise_against": {"code": "long_term_glucocorticoids", "for": ["rheumatoid_arthritis"]}}])])
    result = run(kb)
    assert "long_term_glucocorticoids" not in codes(result, "do_not")
    assert entry(result, "no-glucocorticoid-do-not-beside-bridging") == {
        "rule": "policy.no-glucocorticoid-do-not-beside-bridging", "matched": [],
        "asserted": ["removed:do_not:long_term_glucocorticoids"]}


# ---------------------------------------------------------------- the red flag warning and the safety net

def test_every_red_flag_gets_the_red_flag_warning(tmp_path):
    kb = kb_with(tmp_path, [flag("knee_fracture", "urgent", {"field": "trauma.recent", "eq": "low_energy"}),
                            flag("giant_cell_arteritis", "emergency", {"field": "systemic.new_headache", "eq": True})])
    result = run(kb, **KNEE, trauma={"recent": "low_energy"}, systemic={"new_headache": True})
    warning = next(w for w in result["warnings"] if w["code"] == "red_flag")
    assert warning["for"] == ["giant_cell_arteritis", "knee_fracture"]
    assert warning["message"].index("giant cell arteritis") < warning["message"].index("Ottawa")  # most urgent first
    assert entry(result, "red-flag-warning") == {
        "rule": "policy.red-flag-warning",
        "matched": [{"red_flag": "giant_cell_arteritis", "value": "emergency"}, {"red_flag": "knee_fracture", "value": "urgent"}],
        "asserted": ["warning:red_flag"]}


def test_safety_net_when_nothing_is_reached(tmp_path):
    kb = kb_with(tmp_path, [knee_oa(when={"all": [ADULT, {"field": "pain.activity_related", "eq": True}]}),
                            rule("t.exam", {"field": "exam.limp", "eq": True},
                                 [recommend("hip_examination", for_=())])])
    alone = run(kb, **KNEE)
    assert codes(alone) == ["safety_netting"] and alone["recommendations"][0]["urgency"] == "routine"
    warning = next(w for w in alone["warnings"] if w["code"] == "no_pathway_matched")
    assert "No pathway" in warning["message"] and warning["for"] == []
    assert entry(alone, "safety-net") == {"rule": "policy.safety-net", "matched": [],
                                          "asserted": ["warning:no_pathway_matched", "recommend:safety_netting:routine"]}
    with_work_up = run(kb, **KNEE, exam={"limp": True})
    assert codes(with_work_up) == ["hip_examination", "safety_netting"]
    message = next(w for w in with_work_up["warnings"] if w["code"] == "no_pathway_matched")["message"]
    assert "No condition is reached yet" in message and "No pathway" not in message
    reached = run(kb, pain={"knee": "left", "activity_related": True})
    assert entries(reached, "safety-net") == [] and "safety_netting" not in codes(reached)


# ---------------------------------------------------------------- the policy data itself

def test_a_manifest_naming_an_unknown_code_or_fact_does_not_load(tmp_path):
    from cdss.errors import RuleFileError
    with pytest.raises(RuleFileError, match=r"/bans/infection/treatments: 'topical_nsiad' is not a treatment code"):
        kb_with(tmp_path / "a", [knee_oa()], {"bans": {"infection": {"flags": ["septic_arthritis"], "treatments": ["topical_nsiad"],
                                                            "sources": ["test"]}}})
    shipped = yaml.safe_load((resources.DEFAULT_RULES_DIR / "knowledge_base.yaml").read_text(encoding="utf-8"))
    nsaid = dict(shipped["nsaid"], caution=dict(shipped["nsaid"]["caution"], fact="derived.nsaid_cuation"))
    with pytest.raises(RuleFileError, match=r"/nsaid/caution/fact: fact 'derived.nsaid_cuation' is asserted by no rule"):
        kb_with(tmp_path / "b", [knee_oa()], {"nsaid": nsaid})


def test_the_failed_trial_definition():
    from cdss.kb.policy import TrialDefinition
    trials = TrialDefinition(4, ("none", "partial"), {"conventional_dmard": 12, "pmr_glucocorticoid": 0})
    trial = lambda code, weeks, response: {"code": code, "weeks": weeks, "response": response}
    assert trials.failed(trial("topical_nsaid", 4, "partial")) and not trials.failed(trial("topical_nsaid", 3.9, "none"))
    assert trials.running(trial("topical_nsaid", 3.9, "good")) and not trials.running(trial("topical_nsaid", 4, "good"))
    assert not trials.failed(trial("conventional_dmard", 11, "none")) and trials.running(trial("conventional_dmard", 11, "none"))
    assert trials.failed(trial("conventional_dmard", 12, "none"))
    assert trials.failed(trial("pmr_glucocorticoid", 0, "none")) and not trials.running(trial("pmr_glucocorticoid", 0, "good"))
    assert trials.failed(trial("conventional_dmard", 6, "none"), override=6)  # a rule's min_weeks overrides
    assert trials.used_up(trial("topical_nsaid", 2, "good")) and not trials.used_up(trial("topical_nsaid", 8, "good"))


# ---------------------------------------------------------------- merged items kept per knowledge base

def test_a_code_several_rules_give_is_merged_alike_in_every_case_and_a_policy_never_changes_it_for_the_next(tmp_path):
    """Two rules recommend topical NSAIDs (one for the knee, one for the hip): the merged recommendation is
    kept once per combination (policies.Prepared.group_item). It must be the same in a case that meets
    it again and in a fresh knowledge base, and a policy that narrows it in one case (a failed knee trial
    takes the knee away) must leave it whole for the next."""
    rules = [knee_oa(recommend("topical_nsaid", "routine", ["knee_osteoarthritis"], step=2)),
             rule("t.hip", {"all": [{"fact": "derived.adult"}, {"field": "patient.age_years", "gte": 60}]},
                  [recommend("topical_nsaid", "soon", ["hip_osteoarthritis"], step=3)])]
    kb = kb_with(tmp_path / "a", rules)
    both = dict(KNEE, patient={"age_years": 70})
    first = run(kb, **both)
    [merged] = [r for r in first["recommendations"] if r["code"] == "topical_nsaid"]
    assert merged["urgency"] == "soon" and merged["for"] == ["hip_osteoarthritis", "knee_osteoarthritis"]
    assert merged["rules"] == ["t.knee-oa", "t.hip"]  # in rule-base order
    narrowed = run(kb, **both, treatments=[{"code": "topical_nsaid", "weeks": 4, "response": "none", "joint": "knee"}])
    [kept] = [r for r in narrowed["recommendations"] if r["code"] == "topical_nsaid"]
    assert kept["for"] == ["hip_osteoarthritis"]
    assert run(kb, **KNEE)["recommendations"] != first["recommendations"]  # the knee rule alone
    assert run(kb, **both) == first
    assert run(kb_with(tmp_path / "b", rules), **both) == first
