"""Sciatica and spinal stenosis: low back pain running into the leg, root signs, lumbar MRI."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.tables import LADDERS


def sciatica(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(20, 46, 82, 0.5, 27)
    _back_and_leg(d, acute_share=0.35 if primary else 0.15)  # alongside another picture: mostly long-standing
    if d.case.get("back", {}).get("radiating_leg_pain"):
        d.flag("back", "radiates_below_knee", 0.7, 0.7)
    d.maybe("exam", "straight_leg_raise", 0.6, "positive" if d.chance(0.65) else "negative")
    d.maybe("neuro", "deficit", 0.5, d.pick(("none", "none", "none", "unilateral", "unilateral")))
    d.flag("neuro", "reflexes_reduced", 0.4, 0.4)
    d.flag("neuro", "dermatomal_sensory_loss", 0.4, 0.45)
    d.maybe("neuro", "motor_power_mrc", 0.3, d.near("neuro.motor_power_mrc", 0, 5, d.pick((5, 5, 5, 4, 4, 3))))
    if d.chance(0.2):
        u = d.rand()
        if u < 0.55:
            found = ["disc_herniation"] + (["nerve_root_compression"] if d.chance(0.5) else [])
        elif u < 0.85:
            found = ["degenerative_disc_disease"]
        else:
            found = []
        extra = {"matches_symptoms": d.chance(0.8 if found else 0.1)} if d.chance(0.7) else {}
        d.study("mri_lumbar_spine", found, **extra)
        if d.chance(0.2):
            d.study("emg", ["radiculopathy"] if d.chance(0.5) else [])
    d.trials(LADDERS["sciatica"], "back", 0.4)


def spinal_stenosis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(55, 71, 92, 0.5, 28)
    _back_and_leg(d, acute_share=0.1)
    d.flag("pain", "activity_related", 0.6, 0.9)  # neurogenic claudication: walking brings it on
    d.maybe("neuro", "deficit", 0.4, d.pick(("none", "none", "unilateral")))
    d.flag("neuro", "reflexes_reduced", 0.3, 0.4)
    if d.chance(0.5):
        found = ["spinal_stenosis"] + d.sites((("degenerative_disc_disease", 0.6), ("disc_herniation", 0.15)))
        extra = {"matches_symptoms": d.chance(0.85)} if d.chance(0.7) else {}
        d.study("mri_lumbar_spine", found, **extra)
    d.trials(LADDERS["sciatica"], "back", 0.45)


def _back_and_leg(d: Draw, acute_share: float) -> None:
    """Low back pain running into the leg: buttock, thigh, sometimes behind the knee."""
    if d.chance(0.9):
        d.put("back", "low_back_pain", True)
    if d.chance(0.93):
        d.put("back", "radiating_leg_pain", True)
    else:
        d.put("neuro", "dermatomal_sensory_loss", True)
    d.back_history((1, 11) if d.chance(acute_share) else (12, 260), 0.25)
    d.flag("back", "bilateral_leg_symptoms", 0.4, 0.03)
    d.flag("back", "buttock_pain", 0.4, 0.7)
    d.flag("back", "night_pain", 0.3, 0.06)
    d.maybe("back", "start_back_risk", 0.4, d.pick(("low", "medium", "medium", "high")))
    d.flag("neuro", "saddle_anaesthesia", 0.3, 0.0)
    d.flag("neuro", "bladder_or_bowel_dysfunction", 0.3, 0.0)
    side = d.one_side()
    if d.chance(0.6):
        d.hip(side, d.sites((("buttock", 0.7), ("thigh", 0.5), ("lateral", 0.1))))
    if d.chance(0.45) or not d.has("pain", "hip"):
        d.knee(side, d.sites((("posterior", 0.5), ("lateral", 0.15), ("diffuse", 0.2))))
    weeks = d.case["back"].get("duration_weeks")
    if weeks is not None and d.chance(0.6):
        d.put("pain", "duration_weeks", weeks)
    d.pain_course((1, 52, 520), p_duration=0.3, onset=("gradual", "sudden"), severity=(4, 9))
