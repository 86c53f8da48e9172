"""Osteoarthritis of the knee and of the hip: wear pain, little morning stiffness, X-ray findings, the
osteoarthritis ladder."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.tables import LADDERS

# Osteoarthritis comes on gradually; a sudden onset (an atypical feature: X-ray first; in an older hip, a
# possible insufficiency fracture) is the exception.
_KNEE_ONSET = ("gradual",) * 19 + ("sudden",)
_HIP_ONSET = ("gradual",) * 24 + ("sudden",)


def knee_osteoarthritis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(40, 67, 95, 0.62, 29)
    side = d.side()
    sites = (("medial", 0.55), ("anterior", 0.3), ("diffuse", 0.2), ("lateral", 0.08), ("posterior", 0.05))
    d.knee(side, d.sites(sites) if d.chance(0.7) else [])
    d.pain_course((1, 260, 1040), onset=_KNEE_ONSET)
    _wear_pattern(d, 0.65)
    d.quality_of_life(0.5)
    d.flag("pain", "rapidly_worsening", 0.3, 0.05)
    d.flag("pain", "night_pain", 0.3, 0.2)
    d.flag("joints", "knee_crepitus", 0.5, 0.7)
    d.flag("joints", "knee_bony_enlargement", 0.4, 0.4)
    d.flag("joints", "knee_effusion", 0.4, 0.2)
    d.flag("joints", "hot_swollen_joint", 0.25, 0.0)
    d.flag("joints", "knee_locking", 0.2, 0.12)  # a degenerate meniscus now and then locks the knee
    _replacements(d, "knee", side)
    d.maybe("exam", "hip_internal_rotation", 0.25, "normal" if d.chance(0.8) else "painful")
    if d.chance(0.35):
        if d.chance(0.12):
            d.study("xray_knee", [])
            kl = d.between(0, 1)
        else:
            found = d.sites((("joint_space_narrowing", 0.8), ("osteophytes", 0.75), ("subchondral_sclerosis", 0.4),
                             ("subchondral_cysts", 0.15), ("effusion", 0.1)))
            d.study("xray_knee", found)
            kl = d.between(1, 4) if found else 0
        _kl_grade(d, "xray_knee", kl)
    if d.chance(0.05):
        d.study("mri_knee", d.sites((("cartilage_loss", 0.7), ("meniscal_tear", 0.4), ("bone_marrow_edema", 0.3),
                                     ("effusion", 0.2))))
    if d.chance(0.1):
        d.labs(False)
    d.trials(LADDERS["osteoarthritis"], "knee", 0.4)


def _replacements(d: Draw, joint: str, side: str) -> None:
    """Earlier joint replacements: mostly another joint (the other side, or the other joint), which leaves
    this one native; now and then the painful joint itself (a painful prosthesis, not osteoarthritis);
    and now and then the old case-wide tick with no side."""
    u = d.rand()
    if u < 0.06:
        other = "knee" if joint == "hip" else "hip"
        if side == "both" or d.chance(0.5):
            d.prosthesis(other, d.pick(("left", "right")))
        else:
            d.prosthesis(joint, "right" if side == "left" else "left")
        d.maybe("joints", "prosthetic_joint", 0.2, True)
    elif u < 0.075:
        d.prosthesis(joint, side)
    elif u < 0.09:
        d.put("joints", "prosthetic_joint", True)
    elif u < 0.2:
        d.put("joints", "prostheses", [])  # asked: no joint replacement


def _wear_pattern(d: Draw, p_stiffness: float) -> None:
    """Pain with use, eased by rest, little morning stiffness; now and then the atypical long stiffness, or pain
    recorded as not activity-related (atypical too)."""
    if d.chance(0.9):
        d.put("pain", "activity_related", True)
    else:
        d.maybe("pain", "activity_related", 0.1, False)
    if d.chance(0.93):
        d.stiffness(p_stiffness, 0, 30)
    else:
        d.stiffness(1.0, 35, 90)


def _kl_grade(d: Draw, study: str, kl: int) -> None:
    """Now and then the film's Kellgren-Lawrence grade: 0-1 for a normal film, else 1-4."""
    if d.chance(0.6):
        grades = (0, 1) if kl < 1 else (1, 4)
        d.case["imaging"][study].setdefault("kl_grade", d.near(f"imaging.{study}.kl_grade", *grades, kl))


def hip_osteoarthritis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(40, 68, 95, 0.58, 28)
    side = d.side()
    sites = (("groin", 0.7), ("thigh", 0.35), ("buttock", 0.25), ("lateral", 0.2))
    d.hip(side, d.sites(sites) if d.chance(0.75) else [])
    if primary and d.chance(0.3):
        d.knee(side, ["anterior"] if d.chance(0.5) else [])  # hip osteoarthritis often refers to the knee
    d.pain_course((1, 260, 1040), onset=_HIP_ONSET)
    _wear_pattern(d, 0.6)
    d.quality_of_life(0.5)
    d.flag("pain", "rapidly_worsening", 0.3, 0.05)
    d.flag("pain", "night_pain", 0.3, 0.25)
    if d.chance(0.55):
        rotation = d.pick(("reduced", "painful", "reduced_and_painful", "reduced", "normal"))
        d.put("exam", "hip_internal_rotation", rotation)
    d.flag("exam", "limp", 0.25, 0.5)
    _replacements(d, "hip", side)
    if d.chance(0.35):
        if d.chance(0.12):
            d.study("xray_hip", [])
            if d.chance(0.7):
                d.study("xray_pelvis", [])
            kl = d.between(0, 1)
        else:
            found = d.sites((("joint_space_narrowing", 0.8), ("osteophytes", 0.75), ("subchondral_sclerosis", 0.4),
                             ("subchondral_cysts", 0.15)))
            d.study("xray_hip", found)
            if d.chance(0.7):
                d.study("xray_pelvis", [f for f in found if f != "subchondral_cysts"])
            kl = d.between(1, 4) if found else 0
        _kl_grade(d, "xray_hip", kl)
    if d.chance(0.04):
        d.study("mri_hip", d.sites((("cartilage_loss", 0.8), ("bone_marrow_edema", 0.3), ("effusion", 0.2))))
    if d.chance(0.1):
        d.labs(False)
    d.trials(LADDERS["osteoarthritis"], "hip", 0.4)
