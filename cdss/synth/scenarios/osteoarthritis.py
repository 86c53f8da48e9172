"""Osteoarthritis of the knee and of the hip: wear pain, little morning stiffness, X-ray findings, the
osteoarthritis ladder."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.tables import LADDERS


def knee_osteoarthritis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(40, 67, 95, 0.62, 29)
    side = d.side()
    sites = (("medial", 0.55), ("anterior", 0.3), ("diffuse", 0.2), ("lateral", 0.08), ("posterior", 0.05))
    d.knee(side, d.sites(sites) if d.chance(0.7) else [])
    d.pain_course((1, 260, 1040), onset=("gradual", "gradual", "gradual", "sudden"))
    _wear_pattern(d, 0.65)
    d.quality_of_life(0.5)
    d.flag("pain", "rapidly_worsening", 0.3, 0.05)
    d.flag("pain", "night_pain", 0.3, 0.2)
    d.flag("joints", "knee_crepitus", 0.5, 0.7)
    d.flag("joints", "knee_bony_enlargement", 0.4, 0.4)
    d.flag("joints", "knee_effusion", 0.4, 0.2)
    d.flag("joints", "hot_swollen_joint", 0.25, 0.0)
    if d.chance(0.04):
        d.put("joints", "prosthetic_joint", True)
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


def _wear_pattern(d: Draw, p_stiffness: float) -> None:
    """Pain with use, eased by rest, little morning stiffness; now and then the atypical long stiffness."""
    if d.chance(0.9):
        d.put("pain", "activity_related", True)
    else:
        d.maybe("pain", "activity_related", 0.4, False)
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
    d.pain_course((1, 260, 1040), onset=("gradual", "gradual", "gradual", "sudden"))
    _wear_pattern(d, 0.6)
    d.quality_of_life(0.5)
    d.flag("pain", "rapidly_worsening", 0.3, 0.05)
    d.flag("pain", "night_pain", 0.3, 0.25)
    if d.chance(0.55):
        rotation = d.pick(("reduced", "painful", "reduced_and_painful", "reduced", "normal"))
        d.put("exam", "hip_internal_rotation", rotation)
    d.flag("exam", "limp", 0.25, 0.5)
    if d.chance(0.03):
        d.put("joints", "prosthetic_joint", True)
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
