"""Children and adolescents: the paediatric flag (adult pathways do not run under 16), a slipped capital
femoral epiphysis (AAFP 2017: 8 to 16, often overweight, a limp, sometimes knee pain only), a septic hip by
the Kocher criteria (Kocher 1999) and its near miss, transient synovitis, and the other aches of childhood."""

from __future__ import annotations

from cdss.synth.draws import Draw


def child(d: Draw, primary: bool) -> None:
    u = d.rand()
    if u < 0.4:
        _slipped_epiphysis(d)
    elif u < 0.7:
        _irritable_hip(d, septic=d.chance(0.4))
    else:
        _other_pain(d)


def _patient(d: Draw, age: int, p_male: float, bmi: tuple[float, float] | None) -> None:
    d.case["patient"] = {"age_years": age, "sex": "male" if d.chance(p_male) else "female"}
    d.age = age
    d.female = d.case["patient"]["sex"] == "female"
    if bmi is not None and d.chance(0.5):
        d.case["patient"]["bmi_kg_m2"] = d.near("patient.bmi_kg_m2", 14, 40, d.uniform(*bmi))


def _slipped_epiphysis(d: Draw) -> None:
    """An adolescent with weeks of groin, thigh or only knee pain and a limp; the hip will not rotate
    inwards; an unstable slip cannot bear weight. Ages 7 and 17 now and then (outside the band)."""
    _patient(d, d.near("patient.age_years", 7, 17, d.between(9, 15)), 0.65, (19, 32))
    side = d.pick(("left", "right", "left", "right", "both"))
    if d.chance(0.2):
        d.knee(side, d.sites((("anterior", 0.5), ("medial", 0.3))))  # up to one in seven: knee pain only
    else:
        d.hip(side, d.sites((("groin", 0.6), ("thigh", 0.5))))
        if d.chance(0.2):
            d.knee(side, [])
    d.pain_course((0, 12, 40), onset=("gradual", "gradual", "sudden"), severity=(2, 8))
    d.flag("exam", "limp", 0.75, 0.8)
    d.maybe("exam", "hip_internal_rotation", 0.45, d.pick(("reduced", "reduced_and_painful", "painful", "normal")))
    u = d.rand()
    if u < 0.15:
        d.put("trauma", "can_bear_weight", False)
    elif u < 0.7:
        d.put("trauma", "can_bear_weight", True)
    d.maybe("trauma", "recent", 0.3, d.pick(("none", "none", "low_energy")))
    if d.chance(0.12):
        d.study("xray_pelvis", [])


def _irritable_hip(d: Draw, septic: bool) -> None:
    """A young child who will not walk on one leg: a septic hip (high fever, ESR and white cells) or, far more
    often, transient synovitis after a cold (a low temperature, near-normal blood), with values on each side
    of the Kocher thresholds (38.5 degrees, ESR 40, WBC 12)."""
    _patient(d, d.near("patient.age_years", 1, 15, d.between(2, 10)), 0.6, None)
    d.hip(d.pick(("left", "right")), ["groin"] if d.chance(0.5) else [])
    d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 3, d.pick((0.1, 0.2, 0.3, 0.5, 1))))
    d.maybe("pain", "onset", 0.7, "sudden")
    d.put("trauma", "can_bear_weight", not d.chance(0.8 if septic else 0.3))
    d.maybe("trauma", "recent", 0.6, "none")
    d.flag("exam", "limp", 0.7, 0.9)
    d.flag("systemic", "recent_bacterial_infection", 0.3, 0.2 if septic else 0.05)
    if d.chance(0.85):
        usual = d.uniform(38.6, 40.2) if septic else d.uniform(36.6, 38.4)
        d.put("systemic", "temperature_c", d.near("systemic.temperature_c", 36, 41, usual))
    if d.chance(0.6):
        labs = d.case.setdefault("labs", {})
        labs["esr_mm_h"] = d.near("labs.esr_mm_h", 1, 120, d.between(42, 100) if septic else d.between(3, 38))
        labs["wbc_10e9_l"] = d.near("labs.wbc_10e9_l", 3, 30, d.uniform(12.5, 24) if septic else d.uniform(5, 11.8))
        labs["crp_mg_l"] = d.uniform(40, 200) if septic else d.uniform(0.5, 30)
    if septic and d.chance(0.1):
        d.put("labs", "synovial_culture", d.pick(("positive", "pending")))


def _other_pain(d: Draw) -> None:
    """Growing pains, Osgood-Schlatter, a sprain: the flag for children, little else."""
    _patient(d, d.near("patient.age_years", 2, 15, d.between(8, 15) if d.chance(0.75) else d.between(2, 7)), 0.6, (14, 30))
    u = d.rand()
    side = d.pick(("left", "right", "left", "right", "both"))
    if u < 0.6:
        d.knee(side, d.sites((("anterior", 0.6), ("medial", 0.2))))
    else:
        d.hip(side, d.sites((("groin", 0.3), ("thigh", 0.4))))
        if u > 0.9:
            d.knee(side, [])
    d.pain_course((0, 8, 52), onset=("gradual", "sudden", "after_trauma"), severity=(1, 7))
    d.flag("exam", "limp", 0.6, 0.2)
    d.flag("pain", "activity_related", 0.5, 0.7)
    if d.chance(0.5):
        d.put("trauma", "can_bear_weight", d.chance(0.9))
    if d.case["pain"].get("onset") == "after_trauma":
        d.put("trauma", "recent", "low_energy")
    d.maybe("trauma", "recent", 0.3, "none")
    if d.chance(0.1):
        d.study("xray_knee" if d.has("pain", "knee") else "xray_pelvis", [])
