"""Rheumatoid arthritis: swollen small and large joints, long morning stiffness, serology, DMARD
courses."""

from __future__ import annotations

from cdss.synth.draws import Draw


def rheumatoid_arthritis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(22, 55, 88, 0.7, 26)
    if d.chance(0.85):
        small = d.near("joints.swollen_small_joints", 0, 50, d.between(0, 12))
        large = d.near("joints.swollen_large_joints", 0, 20, d.between(0, 4))
        if small + large == 0 and d.chance(0.8):
            small = 2
        if d.chance(0.9):
            d.put("joints", "swollen_small_joints", small)
        d.put("joints", "swollen_large_joints", large)
    d.knee(d.pick(("both", "both", "left", "right")), ["diffuse"] if d.chance(0.5) else [])
    if d.chance(0.25):
        d.hip(d.side(), ["groin"] if d.chance(0.6) else [])
    d.pain_course((1, 60, 520), onset=("gradual", "gradual", "sudden"))
    if d.chance(0.85):
        d.stiffness(0.8, 35, 180)
    else:
        d.stiffness(0.8, 0, 30)
    d.flag("pain", "better_with_movement", 0.5, 0.8)
    d.flag("pain", "activity_related", 0.3, 0.5)
    d.flag("joints", "knee_effusion", 0.4, 0.5)
    d.flag("systemic", "fatigue", 0.4, 0.7)
    d.flag("systemic", "known_rheumatoid_arthritis", 0.3, 0.3)
    if d.age >= 50:
        d.flag("pain", "shoulder_girdle_pain", 0.2, 0.3)  # late-onset RA can look like polymyalgia
    if d.chance(0.6):
        serology = ("negative", "low_positive", "high_positive", "high_positive")
        d.maybe("labs", "rf", 0.7, d.pick(serology))
        d.maybe("labs", "anti_ccp", 0.5, d.pick(serology))
        d.labs(d.chance(0.6))
    if d.chance(0.25):
        d.study("xray_hands_feet", d.sites((("erosions", 0.35), ("periarticular_osteopenia", 0.4))))
    if d.chance(0.25):
        treatments = d.case.setdefault("treatments", [])
        courses = 2 if d.chance(0.35) else 1
        for index in range(courses):
            last = index == courses - 1
            if not last or d.chance(0.5):
                trial = {"code": "conventional_dmard", "weeks": d.weeks("treatments.weeks", 4, 104, d.between(12, 40)),
                         "response": d.pick(("none", "partial"))}
            elif d.chance(0.5):
                trial = {"code": "conventional_dmard", "weeks": d.weeks("treatments.weeks", 0, 3.9, d.between(1, 3)),
                         "response": "partial"}
            else:
                trial = {"code": "conventional_dmard", "weeks": d.between(12, 104), "response": "good"}
            trial["weeks"] = min(trial["weeks"], d.pain_weeks("pain"))
            treatments.append(trial)
        if d.chance(0.3):
            treatments.append({"code": "bridging_glucocorticoid", "weeks": d.between(4, 12), "response": "partial"})
