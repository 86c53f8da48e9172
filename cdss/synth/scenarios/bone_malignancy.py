"""Bone malignancy (NICE NG12 2015): a metastasis in someone with a cancer history or weight loss, myeloma
in the over-60s (weeks of pain that is not mechanical, tiredness), a primary bone tumour around the knee
in the young (night pain on one side). Near misses: a cancer history with plainly mechanical pain, myeloma's
picture at 59 or after 5 weeks."""

from __future__ import annotations

from cdss.synth.draws import Draw


def bone_malignancy(d: Draw, primary: bool) -> None:
    u = d.rand()
    if u < 0.45:
        _metastasis(d, primary)
    elif u < 0.75:
        _myeloma(d, primary)
    else:
        _primary_tumour(d, primary)
    d.no_fall(0.6)
    if d.chance(0.5):
        d.labs(d.chance(0.6))
    if d.chance(0.35):
        _films(d, lesion=d.chance(0.5))


def _metastasis(d: Draw, primary: bool) -> None:
    """Breast, prostate, lung or kidney cancer treated years ago; new hip, thigh or knee pain at night."""
    if primary:
        d.patient(45, 68, 90, 0.55, 25)
    if d.chance(0.85):
        d.put("systemic", "cancer_history", True)
        d.flag("systemic", "unexplained_weight_loss", 0.6, 0.3)
    else:
        d.put("systemic", "unexplained_weight_loss", True)
        d.flag("systemic", "cancer_history", 0.6, 0.0)
    _site(d)
    d.pain_course((1, 12, 52), p_duration=0.8, onset=("gradual", "gradual", "sudden"), severity=(4, 9))
    if d.chance(0.85):
        _non_mechanical(d)
    else:  # the near miss: plainly mechanical pain
        d.put("pain", "activity_related", True)
        d.maybe("pain", "night_pain", 0.8, False)
    d.flag("systemic", "fatigue", 0.4, 0.5)


def _myeloma(d: Draw, primary: bool) -> None:
    """An older patient with weeks of aching bone pain, worse at rest and at night, tired, with a raised ESR."""
    if primary:
        d.patient(55, 72, 92, 0.45, 25)
    _site(d)
    usual = d.between(6, 30)
    d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 3, 52, usual))
    d.maybe("pain", "onset", 0.6, "gradual")
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(3, 8)))
    _non_mechanical(d)
    d.flag("systemic", "fatigue", 0.6, 0.7)
    d.flag("systemic", "unexplained_weight_loss", 0.5, 0.25)
    d.flag("systemic", "cancer_history", 0.4, 0.0)


def _primary_tumour(d: Draw, primary: bool) -> None:
    """A young adult (osteosarcoma, Ewing's) with night pain around one knee, or in the hip or thigh."""
    if primary:
        d.patient(16, 19, 30, 0.4, 22)
    side = d.pick(("left", "right"))
    if d.chance(0.7):
        d.knee(side, d.sites((("anterior", 0.3), ("medial", 0.3), ("lateral", 0.2), ("diffuse", 0.2))))
    else:
        d.hip(side, d.sites((("thigh", 0.6), ("groin", 0.3))))
    d.pain_course((1, 10, 40), p_duration=0.8, onset=("gradual",), severity=(3, 8))
    d.flag("pain", "night_pain", 0.85, 0.85)
    d.flag("pain", "activity_related", 0.5, 0.5)
    d.flag("pain", "worse_with_running_or_cycling", 0.3, 0.3)
    d.flag("systemic", "cancer_history", 0.4, 0.0)


def _site(d: Draw) -> None:
    """Where a metastasis or myeloma hurts: the hip or thigh mostly, the knee sometimes, one side or both."""
    side = d.pick(("left", "right", "left", "right", "both"))
    if d.chance(0.7):
        d.hip(side, d.sites((("groin", 0.5), ("thigh", 0.5), ("buttock", 0.2))))
    else:
        d.knee(side, [] if d.chance(0.6) else ["diffuse"])


def _non_mechanical(d: Draw) -> None:
    """Pain at night, or pain that does not come with use (recorded either way, or one of them unrecorded)."""
    if d.chance(0.7):
        d.put("pain", "night_pain", True)
        d.maybe("pain", "activity_related", 0.5, d.chance(0.3))
    else:
        d.put("pain", "activity_related", False)
        d.maybe("pain", "night_pain", 0.5, d.chance(0.5))


def _films(d: Draw, lesion: bool) -> None:
    """The X-ray of the painful region, a lytic lesion on it or not."""
    found = ["bone_lesion"] if lesion else []
    pain = d.case.get("pain", {})
    if pain.get("hip", "none") != "none":
        if "thigh" in pain.get("hip_sites", ()) and d.chance(0.5):
            d.study("xray_femur", found)
        else:
            d.study("xray_hip", found)
            d.study("xray_pelvis", found if d.chance(0.5) else [])
    if pain.get("knee", "none") != "none":
        d.study("xray_knee", found)
