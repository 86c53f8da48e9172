"""Iliotibial band syndrome: lateral knee pain in runners and cyclists."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.tables import LADDERS


def iliotibial_band(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(16, 32, 60, 0.45, 23)
    d.knee(d.pick(("left", "right")), ["lateral"] + d.sites((("anterior", 0.1),)))
    d.pain_course((1, 40, 156), onset=("gradual", "sudden"), severity=(2, 7))
    d.flag("pain", "worse_with_running_or_cycling", 0.7, 0.9)
    d.flag("risk_factors", "high_load_training", 0.3, 0.4)
    d.flag("pain", "activity_related", 0.6, 0.9)
    d.flag("exam", "lateral_femoral_epicondyle_tenderness", 0.7, 0.8)
    d.maybe("exam", "noble_test", 0.4, "positive" if d.chance(0.7) else "negative")
    d.maybe("exam", "ober_test", 0.4, "positive" if d.chance(0.65) else "negative")
    d.flag("joints", "knee_effusion", 0.3, 0.03)
    if d.chance(0.1):
        d.study("mri_knee", d.sites((("itb_edema", 0.6), ("meniscal_tear", 0.1))))
    if d.chance(0.02):
        d.study("ultrasound_hip", ["itb_thickening"])
    d.trials(LADDERS["itbs"], "knee", 0.4)
