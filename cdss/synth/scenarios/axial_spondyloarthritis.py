"""Axial spondyloarthritis: inflammatory back pain from a young age, SpA features, HLA-B27, sacroiliac
imaging."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.tables import LADDERS


def axial_spondyloarthritis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(18, 34, 62, 0.4, 25)
    d.put("back", "low_back_pain", True)
    d.back_history((12, 520), 0.85, (14, 44))
    d.flag("back", "wakes_second_half_of_night", 0.6, 0.7)
    d.flag("back", "buttock_pain", 0.6, 0.6)
    d.flag("back", "night_pain", 0.15, 0.5)
    d.flag("pain", "better_with_movement", 0.6, 0.8)
    d.stiffness(0.6, 30, 120)
    for key, p_true in (("psoriasis", 0.1), ("uveitis", 0.1), ("inflammatory_bowel_disease", 0.05),
                        ("enthesitis", 0.25), ("dactylitis", 0.05), ("family_history_spa", 0.2)):
        d.flag("spa_features", key, 0.5, p_true)
    d.maybe("spa_features", "nsaid_response_48h", 0.4, d.pick(("good", "good", "good", "partial", "none")))
    if d.chance(0.15):
        d.put("joints", "swollen_large_joints", d.near("joints.swollen_large_joints", 0, 3, 1))
    side = d.side()
    d.hip(side, d.sites((("groin", 0.5), ("buttock", 0.6))))
    if d.chance(0.3):
        d.knee(side, ["diffuse"] if d.chance(0.5) else [])
    d.pain_course((1, 260, 1040), p_duration=0.85, onset=("gradual",))
    d.maybe("labs", "hla_b27", 0.45, "positive" if d.chance(0.75) else "negative")
    if d.chance(0.5):
        d.labs(d.chance(0.5))
    if d.chance(0.25):
        d.study("mri_sacroiliac", ["sacroiliitis"] if d.chance(0.65) else [])
    if d.chance(0.2):
        if d.chance(0.5):
            d.study("xray_pelvis", ["sacroiliitis"], si_grade=d.between(2, 4))
        else:
            d.study("xray_pelvis", [], si_grade=d.between(0, 1))
    d.trials(LADDERS["axial_spondyloarthritis"], "back", 0.35, p_joint=0.4)
