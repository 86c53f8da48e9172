"""Sciatica, lumbar spinal stenosis and referred back pain (seed §4; NICE NG59; NHG LRS 2015 and
Aspecifieke lagerugpijn 2017): low back pain running into the leg, root signs or none, neurogenic
claudication, lumbar MRI."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.tables import LADDERS


def sciatica(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(20, 43, 80, 0.5, 27)
    # sudden onset is common in sciatica, but rarely recorded as such in the old (where it would suggest
    # a fracture with no fall)
    onset = ("gradual", "sudden") if d.age < 65 else ("gradual",) * 4 + ("sudden",)
    # a first, acute sciatica is commoner before 50; alongside another picture it is mostly long-standing
    back_and_leg(d, acute_share=(0.35 if d.age < 50 else 0.2) if primary else 0.15, onset=onset)
    if d.case.get("back", {}).get("radiating_leg_pain"):
        d.flag("back", "radiates_below_knee", 0.7, 0.8)
    d.maybe("exam", "straight_leg_raise", 0.6, "positive" if d.chance(0.65) else "negative")
    d.maybe("neuro", "deficit", 0.5, d.pick(("none", "none", "none", "unilateral", "unilateral")))
    d.flag("neuro", "reflexes_reduced", 0.4, 0.4)
    d.flag("neuro", "dermatomal_sensory_loss", 0.4, 0.45)
    # MRC 4 (a sign) now and then; a severe paresis (3 or less) is the severe_motor_deficit scenario's
    d.maybe("neuro", "motor_power_mrc", 0.3, d.near("neuro.motor_power_mrc", 4, 5, d.pick((5, 5, 5, 5, 4, 4))))
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
    """Neurogenic claudication after 50: legs heavy or numb on walking, eased by sitting or bending forward.
    Some have had bilateral symptoms for years, stable, with an MRI showing the stenosis (not cauda
    equina when every sign of it was asked about and is absent); others have the same symptoms with the
    record incomplete or new (still an emergency)."""
    if primary:
        d.patient(48, 71, 92, 0.5, 28)
    d.flag("back", "neurogenic_claudication", 0.92, 0.92)
    bilateral = d.chance(0.2)
    if bilateral:
        d.put("back", "bilateral_leg_symptoms", True)
        long_standing = d.chance(0.85)
        if long_standing:
            d.back_history((26, 520), 0.25)
        if d.chance(0.92):
            back_weeks = d.case["back"].get("duration_weeks", 520)
            usual = d.between(12, max(12, int(back_weeks))) if long_standing else d.between(1, 11)
            d.put("back", "bilateral_leg_symptoms_weeks",
                  d.weeks("back.bilateral_leg_symptoms_weeks", 0, 1040, usual))
        d.flag("neuro", "saddle_anaesthesia", 0.93, 0.0)
        d.flag("neuro", "bladder_or_bowel_dysfunction", 0.93, 0.0)
        d.flag("pain", "rapidly_worsening", 0.6, 0.05)
    back_and_leg(d, acute_share=0.1, onset=("gradual",))
    back = d.case["back"]
    if back.get("bilateral_leg_symptoms_weeks", 0) > back.get("duration_weeks", 10**6):
        back["bilateral_leg_symptoms_weeks"] = back["duration_weeks"]  # the legs since the back pain at most
    d.flag("pain", "activity_related", 0.6, 0.9)  # neurogenic claudication: walking brings it on
    d.maybe("neuro", "deficit", 0.4, d.pick(("none", "none", "unilateral")))
    d.flag("neuro", "reflexes_reduced", 0.3, 0.4)
    if d.chance(0.85 if bilateral else 0.5):
        found = ["spinal_stenosis"] + d.sites((("degenerative_disc_disease", 0.6), ("disc_herniation", 0.15)))
        extra = {"matches_symptoms": d.chance(0.85)} if d.chance(0.7) else {}
        d.study("mri_lumbar_spine", found, **extra)
    d.trials(LADDERS["stenosis"] if d.chance(0.5) else LADDERS["sciatica"], "back", 0.45)


def referred_back_pain(d: Draw, primary: bool) -> None:
    """Low back pain whose leg pain stops above the knee, with no root sign: referred (somatic) pain of
    non-specific low back pain, not sciatica. Now and then a reduced reflex or a weak muscle makes the same
    pain radicular after all (an upper lumbar root)."""
    if primary:
        d.patient(18, 42, 80, 0.5, 27)
    d.put("back", "low_back_pain", True)
    d.put("back", "radiating_leg_pain", True)
    d.put("back", "radiates_below_knee", False)
    d.back_history((1, 11) if d.chance(0.35) else (12, 260), 0.25)
    d.flag("back", "buttock_pain", 0.5, 0.7)
    d.flag("back", "night_pain", 0.3, 0.03)
    d.flag("back", "bilateral_leg_symptoms", 0.3, 0.0)
    d.maybe("back", "start_back_risk", 0.55, d.pick(("low", "low", "medium", "high")))
    d.flag("neuro", "reflexes_reduced", 0.5, 0.06)
    d.flag("neuro", "dermatomal_sensory_loss", 0.5, 0.04)
    d.maybe("neuro", "deficit", 0.4, "none")
    d.maybe("neuro", "motor_power_mrc", 0.25, d.near("neuro.motor_power_mrc", 3, 5, 5))
    d.maybe("exam", "straight_leg_raise", 0.5, "negative" if d.chance(0.9) else "positive")
    d.flag("neuro", "saddle_anaesthesia", 0.3, 0.0)
    d.flag("neuro", "bladder_or_bowel_dysfunction", 0.3, 0.0)
    d.hip(d.one_side(), d.sites((("buttock", 0.8), ("thigh", 0.35), ("lateral", 0.15))))
    weeks = d.case["back"].get("duration_weeks")
    if weeks is not None and d.chance(0.5):
        d.put("pain", "duration_weeks", weeks)
    d.pain_course((1, 26, 260), p_duration=0.3, onset=("gradual", "sudden"), severity=(2, 8))
    d.flag("pain", "activity_related", 0.5, 0.8)
    d.trials(LADDERS["referred_back_pain"], "back", 0.35)


def back_and_leg(d: Draw, acute_share: float, onset: tuple[str, ...] = ("gradual", "sudden")) -> None:
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
    d.pain_course((1, 52, 520), p_duration=0.3, onset=onset, severity=(4, 9))
