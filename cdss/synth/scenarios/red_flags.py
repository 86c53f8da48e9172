"""The red flags: septic arthritis, hip fracture, cauda equina, serious spinal pathology, and children."""

from __future__ import annotations

from cdss.synth.draws import Draw


def septic_arthritis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(18, 62, 95, 0.5, 27)
    if d.chance(0.7):
        d.knee(d.pick(("left", "right")), ["diffuse"] if d.chance(0.5) else [])
    else:
        d.hip(d.pick(("left", "right")), ["groin"] if d.chance(0.6) else [])
    d.put("joints", "hot_swollen_joint", True)
    d.flag("joints", "knee_effusion", 0.5, 0.9)
    if d.chance(0.9):
        usual = d.uniform(0.1, 2.0) if d.chance(0.8) else d.between(3, 6)
        d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 8, usual))
    d.maybe("pain", "onset", 0.6, "sudden")
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(6, 10)))
    if d.chance(0.5):
        temperature = d.near("systemic.temperature_c", 30, 45, d.uniform(36.6, 39.8))
        d.put("systemic", "temperature_c", temperature)
        d.maybe("systemic", "fever", 0.5, temperature >= 38.0)
    else:
        d.flag("systemic", "fever", 0.7, 0.6)
    d.flag("systemic", "diabetes", 0.6, 0.25)
    d.flag("systemic", "immunosuppressed", 0.5, 0.15)
    d.flag("systemic", "iv_drug_use", 0.4, 0.1)
    if d.chance(0.1):
        d.put("joints", "prosthetic_joint", True)
    if d.chance(0.5):
        d.labs(d.chance(0.85))
        d.case["labs"]["wbc_10e9_l"] = d.uniform(6, 22)
    d.maybe("labs", "synovial_culture", 0.25, d.pick(("positive", "positive", "negative", "pending", "pending")))


def hip_fracture(d: Draw, primary: bool) -> None:
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
    d.hip(d.pick(("left", "right")), d.sites((("groin", 0.7), ("thigh", 0.3), ("lateral", 0.2))))
    if d.chance(0.2):
        d.knee(d.pick(("left", "right")), [])
    if d.chance(0.85):
        d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 4, d.uniform(0, 1.5)))
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(5, 10)))
    d.flag("exam", "limp", 0.4, 0.8)
    d.maybe("exam", "hip_internal_rotation", 0.3, "painful")
    u = d.rand()
    if u < 0.5:
        pass
    elif u < 0.7:
        d.study("xray_pelvis", [])
        d.study("xray_hip", [])
        if d.chance(0.25):
            d.study("mri_hip", ["fracture"] if d.chance(0.6) else ["bone_marrow_edema"])
    elif u < 0.95:
        d.study("xray_pelvis", ["fracture"])
        d.study("xray_hip", ["fracture"])
    else:
        d.study("mri_hip", ["fracture", "bone_marrow_edema"])


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
    d.back_history((0, 8), 0.2)
    if d.chance(0.5):
        d.knee("both", ["posterior"])
    else:
        d.hip("both", ["buttock", "thigh"])
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(6, 10)))
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
        elif feature == "fever":
            if d.chance(0.5):
                d.put("systemic", "fever", True)
            else:
                d.put("systemic", "temperature_c", d.near("systemic.temperature_c", 38.0, 45, d.uniform(38.0, 39.5)))
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


def child(d: Draw, primary: bool) -> None:
    """Under 16: the paediatric flag, and in 8- to 15-year-olds with a limp a possible slipped epiphysis."""
    age = d.near("patient.age_years", 2, 15, d.between(8, 15) if d.chance(0.75) else d.between(2, 7))
    d.case["patient"] = {"age_years": age, "sex": "male" if d.chance(0.6) else "female"}
    d.age = age
    if d.chance(0.5):
        d.case["patient"]["bmi_kg_m2"] = d.uniform(14, 32)
    u = d.rand()
    side = d.pick(("left", "right", "left", "right", "both"))
    if u < 0.3:
        d.knee(side, d.sites((("anterior", 0.5), ("medial", 0.2))))  # a slip may show as knee pain alone
    else:
        d.hip(side, d.sites((("groin", 0.5), ("thigh", 0.4))))
        if u > 0.8:
            d.knee(side, [])
    d.pain_course((0, 8, 52), onset=("gradual", "sudden", "after_trauma"), severity=(2, 8))
    d.flag("exam", "limp", 0.8, 0.6)
    if d.chance(0.5):
        d.put("trauma", "can_bear_weight", d.chance(0.75))
    if d.case["pain"].get("onset") == "after_trauma":
        d.put("trauma", "recent", "low_energy")
    d.maybe("trauma", "recent", 0.3, d.pick(("none", "low_energy")))
    if d.chance(0.15):
        d.study("xray_pelvis", [])
