"""Hip osteonecrosis: its risk factors (corticosteroids, alcohol and the rarer causes) and imaging at each
stage, from not yet imaged to collapse."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.tables import LADDERS

# The rarer causes of osteonecrosis, each with the value of the risk draw it stays below (a draw of 0.6 or
# more that no earlier cause took).
RARER_CAUSES = (
    (0.68, "sickle_cell_disease"),
    (0.76, "lupus"),
    (0.82, "organ_transplant"),
    (0.87, "clotting_disorder"),
    (0.88, "gaucher_disease"),
    (0.9, "decompression_exposure"),
    (1.0, "prior_hip_trauma_or_dislocation"),
)


def osteonecrosis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(18, 42, 75, 0.4, 25)
    d.hip(d.pick(("left", "right", "left", "right", "both", "both")),
          d.sites((("groin", 0.8), ("thigh", 0.3), ("buttock", 0.1))) if d.chance(0.8) else [])
    d.pain_course((1, 40, 260), onset=("gradual", "gradual", "sudden"), severity=(4, 9))
    d.maybe("trauma", "recent", 0.4, "none")
    d.flag("pain", "activity_related", 0.6, 0.8)
    d.flag("pain", "night_pain", 0.4, 0.4)
    d.maybe("exam", "hip_internal_rotation", 0.5, d.pick(("painful", "reduced_and_painful", "normal")))
    d.flag("exam", "limp", 0.3, 0.6)
    d.stiffness(0.3, 0, 30)
    risks = 1 if d.chance(0.8) else 2
    if d.chance(0.15):
        risks = 0  # idiopathic: no cause found
    for _ in range(risks):
        _osteonecrosis_risk(d)
    if d.chance(0.1):  # exposure just under a threshold
        if d.chance(0.5):
            d.put("risk_factors", "corticosteroids", "short_course")
            d.put("risk_factors", "prednisolone_g_last_3_months",
                  d.near("risk_factors.prednisolone_g_last_3_months", 0, 2, d.uniform(0.3, 1.9)))
        else:
            alcohol = d.near("risk_factors.alcohol_g_per_week", 0, 320, d.between(100, 300))
            d.put("risk_factors", "alcohol_g_per_week", alcohol)
    u = d.rand()
    if u < 0.35:
        pass  # not imaged yet
    elif u < 0.55:
        d.study("xray_hip", [])
        if d.chance(0.6):
            d.study("xray_pelvis", [])
    elif u < 0.75:
        d.study("xray_hip", [])
        extra = {}
        if d.chance(0.6):
            extra["arco_stage"] = d.pick(("I", "II", "II"))
        if d.chance(0.4):
            extra["head_involvement_percent"] = d.near("imaging.mri_hip.head_involvement_percent", 5, 60,
                                                       d.between(5, 60))
        d.study("mri_hip", ["avn"] + (["bone_marrow_edema"] if d.chance(0.5) else []), **extra)
    elif u < 0.86:
        extra = {}
        if d.chance(0.7):
            extra["collapse_mm"] = d.near("imaging.xray_hip.collapse_mm", 0, 2, d.uniform(0.5, 2.0))
        d.study("xray_hip", ["crescent_sign"] + (["subchondral_sclerosis"] if d.chance(0.4) else []), **extra)
        if d.chance(0.3):
            d.study("mri_hip", ["avn"], arco_stage="IIIA")
    elif u < 0.95:
        extra = {}
        if d.chance(0.6):
            extra["collapse_mm"] = d.near("imaging.xray_hip.collapse_mm", 2, 10, d.uniform(2.5, 8.0))
        d.study("xray_hip", ["femoral_head_collapse"] + (["joint_space_narrowing"] if d.chance(0.5) else []), **extra)
        if d.chance(0.3):
            d.study("mri_hip", ["avn"], arco_stage=d.pick(("IIIB", "IV")))
    else:
        d.study("xray_hip", [])
        d.study("mri_hip", [])  # a normal MRI lifts the suspicion
    d.trials(LADDERS["osteonecrosis"], "hip", 0.25)


def _osteonecrosis_risk(d: Draw) -> None:
    u = d.rand()
    if u < 0.35:
        if d.chance(0.6):
            d.put("risk_factors", "corticosteroids", "long_term")
        else:
            d.put("risk_factors", "corticosteroids", d.pick(("short_course", "long_term")))
            d.put("risk_factors", "prednisolone_g_last_3_months",
                  d.near("risk_factors.prednisolone_g_last_3_months", 0, 30, d.uniform(2.2, 12)))
    elif u < 0.6:
        alcohol = d.near("risk_factors.alcohol_g_per_week", 200, 2000, d.between(330, 900))
        d.put("risk_factors", "alcohol_g_per_week", alcohol)
    else:
        cause = next(name for below, name in RARER_CAUSES if u < below)
        d.put("risk_factors", cause, True)
        if cause == "organ_transplant":
            d.put("systemic", "immunosuppressed", True)
