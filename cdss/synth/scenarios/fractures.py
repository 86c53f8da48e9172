"""Fractures: the hip after a fall (ACR 2013, NICE CG124), the hip with no fall (insufficiency fracture of
osteoporotic bone, femoral neck stress fracture in runners and recruits, atypical femoral fracture on a
bisphosphonate; ACR stress fracture 2019, MHRA 2011) and the knee after trauma with the Ottawa knee rule's
findings (Stiell 1996). Each has its near misses: a sprain with a negative Ottawa rule, a normal femur
X-ray, a runner of 45 with no rise in training load."""

from __future__ import annotations

from cdss.synth.draws import Draw


def hip_fracture(d: Draw, primary: bool) -> None:
    """A fall (or, in the young, high-energy trauma); now and then an older patient who reports only knee
    pain (a hip fracture can refer pain to the knee)."""
    high_energy = d.chance(0.12)
    if primary and high_energy:
        d.patient(16, 35, 70, 0.45, 25)
    elif primary:
        d.patient(60, 82, 100, 0.72, 23)
    d.put("trauma", "recent", "high_energy" if high_energy else "low_energy")
    d.maybe("pain", "onset", 0.6, "after_trauma")
    u = d.rand()
    if u < 0.5:
        d.put("trauma", "can_bear_weight", False)
    elif u < 0.8:
        d.put("trauma", "can_bear_weight", True)
    d.flag("systemic", "osteoporosis", 0.5, 0.5)
    if d.case.get("systemic", {}).get("osteoporosis"):
        d.flag("systemic", "bisphosphonate_use", 0.5, 0.5)
    side = d.pick(("left", "right"))
    if d.chance(0.12):
        d.knee(side, ["anterior"] if d.chance(0.5) else [])  # knee pain only
    else:
        d.hip(side, d.sites((("groin", 0.7), ("thigh", 0.3), ("lateral", 0.2))))
        if d.chance(0.2):
            d.knee(d.pick(("left", "right")), [])
    if d.chance(0.85):
        d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 4, d.uniform(0, 1.5)))
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(5, 10)))
    d.flag("exam", "limp", 0.4, 0.8)
    d.maybe("exam", "hip_internal_rotation", 0.3, "painful")
    _hip_films(d, p_none=0.5, p_fracture_on_xray=0.5)


def insufficiency_fracture(d: Draw, primary: bool) -> None:
    """A hip that breaks with no fall: osteoporotic bone (age 65 or over, osteoporosis, long-term steroids)
    and sudden groin or thigh pain in ordinary walking, often still weight-bearing. Near miss: sudden hip
    pain at 60-64 with no bone risk recorded."""
    if primary:
        d.patient(58, 79, 98, 0.78, 23)
    if d.chance(0.8 if d.age < 65 else 0.35):
        d.put("systemic", "osteoporosis", True)
        d.flag("systemic", "bisphosphonate_use", 0.6, 0.5)
    if d.chance(0.12):
        d.put("risk_factors", "corticosteroids", "long_term")
    d.no_fall(0.7)
    side = d.pick(("left", "right"))
    d.hip(side, d.sites((("groin", 0.65), ("thigh", 0.3))))
    d.maybe("pain", "onset", 0.85, "sudden" if d.chance(0.8) else "gradual")
    d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 6, d.uniform(0, 2)))
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(5, 9)))
    d.flag("pain", "activity_related", 0.5, 0.9)
    u = d.rand()
    if u < 0.45:
        d.put("trauma", "can_bear_weight", False)
    elif u < 0.8:
        d.put("trauma", "can_bear_weight", True)
    d.flag("exam", "limp", 0.5, 0.85)
    d.maybe("exam", "hip_internal_rotation", 0.3, d.pick(("painful", "reduced_and_painful", "normal")))
    _hip_films(d, p_none=0.55, p_fracture_on_xray=0.3)


def femoral_neck_stress_fracture(d: Draw, primary: bool) -> None:
    """Groin or thigh pain that comes with running or marching: a recruit or an endurance runner with a recent
    rise in load, or a thin athlete with the female athlete triad; X-rays early on are normal. Near misses:
    a runner of 45 or over with no rise in load; an MRI that shows neither oedema nor a fracture."""
    if primary:
        d.patient(17, 24, 50, 0.55, 21)
    side = d.pick(("left", "right"))
    sites = d.sites((("groin", 0.75), ("thigh", 0.4)))
    d.hip(side, sites or ["groin"])
    d.pain_course((1, 8, 16), p_duration=0.8, onset=("gradual", "gradual", "sudden"), severity=(3, 8))
    d.flag("pain", "activity_related", 0.7, 0.9)
    d.flag("pain", "worse_with_running_or_cycling", 0.75, 0.9)
    d.flag("pain", "night_pain", 0.35, 0.35)
    d.flag("risk_factors", "high_load_training", 0.8, 0.75 if d.age < 45 else 0.3)
    if d.female:
        d.flag("risk_factors", "female_athlete_triad", 0.5, 0.35)
    d.no_fall(0.6)
    d.flag("trauma", "can_bear_weight", 0.5, 0.9)
    d.flag("exam", "limp", 0.5, 0.5)
    d.maybe("exam", "hip_internal_rotation", 0.4, d.pick(("painful", "normal", "normal")))
    u = d.rand()
    if u < 0.45:
        pass  # not imaged yet
    elif u < 0.85:
        d.study("xray_pelvis", [])
        d.study("xray_hip", [])
        if d.chance(0.5):
            d.study("mri_hip", d.pick((["bone_marrow_edema"], ["bone_marrow_edema", "fracture"], [])))
    else:
        d.study("xray_hip", ["fracture"])
    if d.chance(0.2):
        d.case.setdefault("treatments", []).append(
            {"code": "physiotherapy", "weeks": d.weeks("treatments.weeks", 0, 8, d.between(1, 6)),
             "response": d.pick(("none", "partial")), "joint": "hip"})


def atypical_femoral_fracture(d: Draw, primary: bool) -> None:
    """Thigh pain with no fall in someone on a bisphosphonate for years: a dull prodromal ache, sometimes both
    thighs; the whole-femur X-ray shows cortical thickening, a fracture, or nothing (then no flag)."""
    if primary:
        d.patient(55, 74, 92, 0.88, 24)
    d.flag("systemic", "osteoporosis", 0.9, 0.95)
    d.put("systemic", "bisphosphonate_use", True)
    side = d.pick(("left", "right", "left", "right", "both"))
    d.hip(side, ["thigh"] + d.sites((("groin", 0.2),)) if d.chance(0.9) else ["groin"])
    d.pain_course((2, 40, 80), p_duration=0.8, onset=("gradual",), severity=(3, 7))
    d.flag("pain", "activity_related", 0.6, 0.85)
    d.flag("pain", "night_pain", 0.3, 0.15)
    d.no_fall(0.7)
    d.flag("trauma", "can_bear_weight", 0.4, 0.95)
    d.flag("exam", "limp", 0.3, 0.4)
    if d.chance(0.4):
        d.study("xray_femur", d.pick((["cortical_thickening"], ["cortical_thickening"], ["fracture"], [], [])))
    if d.chance(0.15):
        d.study("xray_hip", [])
    d.maybe("risk_factors", "corticosteroids", 0.2, d.pick(("none", "none", "long_term")))


def knee_fracture(d: Draw, primary: bool) -> None:
    """Knee pain after a fall, a twist or a blow, with the Ottawa knee rule's findings recorded or not: most
    are sprains (every finding negative: no X-ray, no flag), some break (a tender patella or fibular head, a
    knee that will not bend to 90 degrees, four steps impossible)."""
    if primary:
        d.patient(16, 42, 92, 0.5, 26)
    d.put("trauma", "recent", "low_energy" if d.chance(0.88) else "high_energy")
    d.maybe("pain", "onset", 0.8, "after_trauma")
    side = d.pick(("left", "right"))
    d.knee(side, d.sites((("anterior", 0.4), ("medial", 0.3), ("lateral", 0.25), ("diffuse", 0.15))))
    d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 6, d.uniform(0, 2)))
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(3, 9)))
    broken = d.chance(0.25 if d.age < 55 else 0.4)
    d.flag("joints", "knee_effusion", 0.6, 0.8 if broken else 0.4)  # a haemarthrosis
    d.flag("exam", "patellar_tenderness_isolated", 0.75, 0.5 if broken else 0.04)
    d.flag("exam", "fibular_head_tenderness", 0.75, 0.3 if broken else 0.03)
    d.flag("exam", "knee_flexes_to_90", 0.75, 0.4 if broken else 0.93)
    d.flag("trauma", "can_bear_weight", 0.8, 0.35 if broken else 0.95)
    d.flag("joints", "knee_locking", 0.2, 0.1)
    if d.chance(0.25):
        d.study("xray_knee", ["fracture", "effusion"] if broken and d.chance(0.85) else [])
    if d.chance(0.1):
        d.case.setdefault("treatments", []).append(
            {"code": "ice", "weeks": d.pick((0.5, 1, 1.5)), "response": d.pick(("partial", "good")), "joint": "knee"})


def _hip_films(d: Draw, p_none: float, p_fracture_on_xray: float) -> None:
    """Hip imaging after a possible fracture: none yet; X-rays that show it; X-rays read as normal, with or
    without the MRI that followed (which shows the occult fracture, oedema only, or nothing)."""
    if d.chance(p_none):
        return
    if d.chance(p_fracture_on_xray):
        d.study("xray_pelvis", ["fracture"])
        d.study("xray_hip", ["fracture"])
        return
    d.study("xray_pelvis", [])
    d.study("xray_hip", [])
    if d.chance(0.35):
        d.study("mri_hip", d.pick((["fracture", "bone_marrow_edema"], ["fracture"], ["bone_marrow_edema"], [])))
