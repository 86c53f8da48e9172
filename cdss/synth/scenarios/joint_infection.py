"""Joint infection: septic arthritis of a native joint and infection of a joint replacement (BSR/BOA 2006,
EBJIS 2021). Records as a GP has them: before aspiration mostly, with a temperature, CRP and white cell
count or without; a host risk or not; after aspiration now and then (a negative culture in a patient with
no fever and normal markers takes the flag away: the near miss)."""

from __future__ import annotations

from cdss.synth.draws import Draw


def septic_arthritis(d: Draw, primary: bool) -> None:
    """A native joint infection: the hot swollen knee of the textbook, or the case that has no joint ticked as
    hot (a deep hip): fever, high CRP and white cells, and a patient who cannot bear weight."""
    if primary:
        d.patient(18, 62, 95, 0.5, 27)
    knee = d.chance(0.65)
    side = d.pick(("left", "right"))
    if knee:
        d.knee(side, ["diffuse"] if d.chance(0.5) else [])
        d.flag("joints", "knee_effusion", 0.6, 0.9)
    else:
        d.hip(side, ["groin"] if d.chance(0.6) else [])
    hot = d.chance(0.75 if knee else 0.4)
    if hot:
        d.put("joints", "hot_swollen_joint", True)
    else:
        d.maybe("joints", "hot_swollen_joint", 0.4, False)
    if d.chance(0.9):
        usual = d.uniform(0.1, 2.0) if d.chance(0.8) else d.between(3, 6)
        d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 8, usual))
    d.maybe("pain", "onset", 0.6, "sudden")
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(6, 10)))
    d.no_fall(0.5)
    febrile = d.chance(0.6 if hot else 0.85)
    if d.chance(0.6):
        d.temperature(febrile, p_tick=0.5)
    else:
        d.maybe("systemic", "fever", 0.7, febrile)
    if not knee or d.chance(0.3):
        d.maybe("trauma", "can_bear_weight", 0.7, d.chance(0.3))
    d.flag("systemic", "diabetes", 0.6, 0.25)
    d.flag("systemic", "immunosuppressed", 0.5, 0.15)
    d.flag("systemic", "iv_drug_use", 0.5, 0.3 if d.age < 50 else 0.05)
    d.flag("systemic", "known_rheumatoid_arthritis", 0.4, 0.15)
    d.flag("systemic", "recent_bacterial_infection", 0.3, 0.3)
    if d.chance(0.2):
        d.prosthesis("hip" if knee else "knee", d.pick(("left", "right")))  # an old replacement elsewhere
    if d.chance(0.65 if hot else 0.85):
        d.labs(True, infection=d.chance(0.85))
    _aspirate(d, d.pick(("positive", "positive", "negative", "pending", "pending")), p=0.25)


def prosthetic_joint_infection(d: Draw, primary: bool) -> None:
    """Pain in a replaced joint: an acute (early or blood-borne) infection, hot and febrile, or the low-grade
    infection of months of pain with a CRP just above 10; the replaced joint named per side, or only by the
    old case-wide tick. A CRP at 10 with nothing else is the near miss (a painful prosthesis, not infected)."""
    if primary:
        d.patient(50, 72, 95, 0.55, 29)
    joint = "knee" if d.chance(0.55) else "hip"
    side = d.pick(("left", "right", "left", "right", "both"))
    if joint == "knee":
        d.knee(side, ["diffuse"] if d.chance(0.4) else [])
    else:
        d.hip(side, d.sites((("groin", 0.6), ("thigh", 0.3), ("lateral", 0.2))))
    if d.chance(0.75):
        replaced = side if side != "both" or d.chance(0.6) else d.pick(("left", "right"))  # or one native side
        d.prosthesis(joint, replaced)
        if d.chance(0.15):
            d.prosthesis("hip" if joint == "knee" else "knee", d.pick(("left", "right", "both")))
        d.maybe("joints", "prosthetic_joint", 0.3, True)
    else:
        d.put("joints", "prosthetic_joint", True)  # the old form: which joint is not said
    acute = d.chance(0.5)
    if acute:
        d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 4, d.uniform(0.1, 2)))
        d.maybe("pain", "onset", 0.7, "sudden")
        if d.chance(0.7):
            d.put("joints", "hot_swollen_joint", True)
        d.temperature(d.chance(0.6), p_tick=0.5)
        if d.chance(0.8):
            d.labs(True, infection=True)
    else:
        d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 3, 208, d.between(8, 104)))
        d.maybe("pain", "onset", 0.6, "gradual")
        d.flag("joints", "hot_swollen_joint", 0.5, 0.05)
        d.flag("pain", "activity_related", 0.6, 0.8)
        d.flag("pain", "night_pain", 0.4, 0.2)
        if d.chance(0.5):
            d.temperature(False)
        if d.chance(0.85):
            _low_grade_labs(d)
    if joint == "knee":
        d.flag("joints", "knee_effusion", 0.5, 0.7 if acute else 0.3)
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(4, 10)))
    d.no_fall(0.5)
    d.flag("systemic", "diabetes", 0.5, 0.2)
    d.flag("systemic", "immunosuppressed", 0.4, 0.08)
    if d.chance(0.3):
        if joint == "knee":
            d.study("xray_knee", [])
        else:
            d.study("xray_hip", [])
            d.study("xray_pelvis", [])
    _aspirate(d, d.pick(("positive", "positive", "negative", "pending")), p=0.25)


def _low_grade_labs(d: Draw) -> None:
    """A CRP around 10 (EBJIS: > 10 suggests infection of a replaced joint), a white cell count mostly normal."""
    labs = d.case.setdefault("labs", {})
    if "crp_mg_l" in labs:
        return
    labs["crp_mg_l"] = d.near("labs.crp_mg_l", 1, 60, d.uniform(3, 40))
    if d.chance(0.6):
        labs["wbc_10e9_l"] = d.near("labs.wbc_10e9_l", 3, 20, d.uniform(5, 11.5))


def _aspirate(d: Draw, culture: str, p: float) -> None:
    """With probability p the joint has been aspirated: a culture result and now and then the crystals seen."""
    if d.chance(p):
        d.put("labs", "synovial_culture", culture)
        d.maybe("labs", "synovial_crystals", 0.5, d.pick(("none", "none", "none", "monosodium_urate",
                                                          "calcium_pyrophosphate")))
