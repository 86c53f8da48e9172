"""Polymyalgia rheumatica and giant cell arteritis (BSR 2015 and 2020; EULAR/ACR 2012; NHG-Standaard PMR en
arteriitis temporalis): an older patient with aching, stiff hips and shoulders for weeks and raised
markers; the GCA symptoms asked about (all four, some, or none) and now and then present."""

from __future__ import annotations

from cdss.synth.draws import Draw

GCA_SYMPTOMS = ("new_headache", "jaw_claudication", "visual_disturbance", "scalp_tenderness")


def polymyalgia_rheumatica(d: Draw, primary: bool) -> None:
    """Typical (over 60, shoulders and hips) or atypical (younger, no shoulder pain, a swollen knee); near
    misses at 49 years and at 45 minutes of stiffness; prednisolone started, working or not."""
    if primary:
        d.patient(48, 72, 92, 0.66, 26)
    _girdle_pain(d, p_both_hips=0.85)
    d.pain_course((2, 8, 40), p_duration=0.95, onset=("gradual",) * 9 + ("sudden",), severity=(4, 8))
    d.flag("pain", "night_pain", 0.3, 0.15)
    d.flag("pain", "better_with_movement", 0.3, 0.6)
    d.flag("systemic", "fatigue", 0.5, 0.6)
    d.flag("systemic", "unexplained_weight_loss", 0.4, 0.08)
    _gca_questions(d, p_asked=0.65, p_each=0.04)
    if d.chance(0.1):
        d.put("joints", "swollen_large_joints", d.near("joints.swollen_large_joints", 0, 2, 1))
        d.knee(d.pick(("left", "right")), [])
    elif d.chance(0.1):
        d.knee("both", [])
    if d.chance(0.85):
        d.labs(d.chance(0.85), p_esr=0.8)
    if d.chance(0.2):
        d.maybe("labs", "rf", 0.6, "negative" if d.chance(0.9) else "low_positive")
    if d.chance(0.25):
        response = d.pick(("good", "good", "good", "partial", "none"))
        weeks = d.weeks("treatments.weeks", 0, 12, d.pick((0.5, 1, 1, 2, 3, 6)))
        d.case.setdefault("treatments", []).append({"code": "pmr_glucocorticoid", "weeks": weeks, "response": response})


def giant_cell_arteritis(d: Draw, primary: bool) -> None:
    """An older patient seen for aching hips who has a new headache, a tender scalp, jaw claudication or
    blurred vision: often with the polymyalgia picture; now and then under 50 (no flag: the near miss)."""
    if primary:
        d.patient(47, 74, 92, 0.7, 25)
    present = [name for name in GCA_SYMPTOMS if d.chance((0.7, 0.3, 0.2, 0.4)[GCA_SYMPTOMS.index(name)])]
    for name in present or ["new_headache"]:
        d.put("systemic", name, True)
    _gca_questions(d, p_asked=0.5, p_each=0.0)
    if d.chance(0.6):
        _girdle_pain(d, p_both_hips=0.8)
    else:
        d.hip(d.pick(("both", "left", "right")), [])
        d.flag("pain", "shoulder_girdle_pain", 0.5, 0.3)
    d.pain_course((2, 6, 20), p_duration=0.9, onset=("gradual", "sudden"), severity=(3, 8))
    d.flag("systemic", "fatigue", 0.5, 0.6)
    d.flag("systemic", "unexplained_weight_loss", 0.4, 0.1)
    d.temperature(d.chance(0.15))
    if d.chance(0.7):
        d.labs(d.chance(0.9), p_esr=0.9)


def _girdle_pain(d: Draw, p_both_hips: float) -> None:
    """Aching of both hips (buttocks, thighs) and often both shoulders, stiff for an hour or more each morning."""
    side = "both" if d.chance(p_both_hips) else d.pick(("left", "right"))
    d.hip(side, d.sites((("buttock", 0.35), ("lateral", 0.3), ("thigh", 0.3), ("groin", 0.2))))
    d.flag("pain", "shoulder_girdle_pain", 0.85, 0.85)
    d.stiffness(0.92, 50, 180)
    d.flag("pain", "activity_related", 0.3, 0.4)


def _gca_questions(d: Draw, p_asked: float, p_each: float) -> None:
    """The four GCA questions, asked together (the answer is mostly no) or some of them, or none."""
    u = d.rand()
    if u < p_asked:
        for name in GCA_SYMPTOMS:
            d.put("systemic", name, d.chance(p_each))
    elif u < p_asked + (1 - p_asked) / 2:
        for name in GCA_SYMPTOMS:
            d.maybe("systemic", name, 0.5, d.chance(p_each))
