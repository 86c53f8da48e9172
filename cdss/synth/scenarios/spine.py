"""The spinal red flags: cauda equina syndrome, a possible serious spinal cause (tumour, infection,
fracture; and new back pain after 50), and severe or progressive leg weakness (NHG LRS 2015: MRC 3 or
less)."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.scenarios.sciatica import back_and_leg


def cauda_equina(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(25, 48, 82, 0.5, 27)
    d.put("back", "low_back_pain", True)
    d.put("back", "radiating_leg_pain", True)
    d.flag("back", "bilateral_leg_symptoms", 0.8, 0.6)
    d.flag("neuro", "saddle_anaesthesia", 0.8, 0.5)
    d.flag("neuro", "bladder_or_bowel_dysfunction", 0.8, 0.5)
    if d.chance(0.4):
        d.put("neuro", "deficit", d.pick(("bilateral", "progressive")))
    block, neuro = d.case["back"], d.case.get("neuro", {})
    if not (block.get("bilateral_leg_symptoms") or neuro.get("saddle_anaesthesia")
            or neuro.get("bladder_or_bowel_dysfunction") or neuro.get("deficit") in ("bilateral", "progressive")):
        d.case.setdefault("neuro", {})["saddle_anaesthesia"] = True
    if block.get("bilateral_leg_symptoms"):
        d.maybe("back", "bilateral_leg_symptoms_weeks", 0.5, d.pick((0.5, 1, 2, 3)))
        d.flag("pain", "rapidly_worsening", 0.4, 0.6)
    d.back_history((0, 8), 0.2)
    if d.chance(0.5):
        d.knee("both", ["posterior"])
    else:
        d.hip("both", ["buttock", "thigh"])
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(6, 10)))
    d.maybe("neuro", "motor_power_mrc", 0.3, d.near("neuro.motor_power_mrc", 0, 5, d.between(2, 5)))
    if d.chance(0.2):
        d.study("mri_lumbar_spine", ["cauda_equina_compression", "disc_herniation"], matches_symptoms=True)


def spinal_serious_pathology(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(30, 64, 92, 0.5, 25)
    d.put("back", "low_back_pain", True)
    u = d.rand()
    if u < 0.3 and d.age > 50:
        d.back_history((0, 6), 0.2)  # new back pain after 50
    else:
        d.back_history((0, 26), 0.2)
        feature = d.pick(("cancer_history", "cancer_history", "unexplained_weight_loss", "fever", "iv_drug_use",
                          "immunosuppressed", "recent_bacterial_infection", "night_pain"))
        if feature == "night_pain":
            d.put("back", "night_pain", True)
        elif feature == "fever":  # discitis or an epidural abscess
            if d.chance(0.4):
                d.put("systemic", "fever", True)
            else:
                d.put("systemic", "temperature_c", d.near("systemic.temperature_c", 38.0, 41, d.uniform(38.0, 39.5)))
            if d.chance(0.6):
                d.labs(True, infection=True)
        else:
            d.put("systemic", feature, True)
    side = d.side()
    if d.chance(0.6):
        d.hip(side, d.sites((("buttock", 0.6), ("lateral", 0.2), ("groin", 0.2))))
    if d.chance(0.5) or not d.has("pain", "hip"):
        d.knee(side, [])
    d.flag("back", "radiating_leg_pain", 0.5, 0.4)
    d.pain_course((0, 12, 52), p_duration=0.5, onset=("gradual", "sudden"), severity=(4, 9))
    if d.chance(0.3):
        d.labs(d.chance(0.5))


def severe_motor_deficit(d: Draw, primary: bool) -> None:
    """Sciatica with a foot drop or a weak quadriceps (MRC 3 or less), or weakness that is getting worse;
    an MRC of 4 now and then (a neurological sign, not a severe paresis: the near miss)."""
    if primary:
        d.patient(25, 50, 80, 0.45, 27)
    d.maybe("neuro", "deficit", 0.8, "progressive" if d.chance(0.2) else "unilateral")
    d.put("neuro", "motor_power_mrc", d.near("neuro.motor_power_mrc", 0, 5, d.pick((1, 2, 3, 3, 3))))
    d.flag("neuro", "saddle_anaesthesia", 0.7, 0.0)
    d.flag("neuro", "bladder_or_bowel_dysfunction", 0.7, 0.0)
    back_and_leg(d, acute_share=0.7)
    if d.case.get("back", {}).get("radiating_leg_pain"):
        d.flag("back", "radiates_below_knee", 0.8, 0.9)
    d.flag("neuro", "reflexes_reduced", 0.6, 0.7)
    d.flag("neuro", "dermatomal_sensory_loss", 0.6, 0.7)
    d.maybe("exam", "straight_leg_raise", 0.6, "positive" if d.chance(0.8) else "negative")
    if d.chance(0.2):
        d.study("mri_lumbar_spine", ["disc_herniation", "nerve_root_compression"], matches_symptoms=True)
