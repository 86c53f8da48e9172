"""Greater trochanteric pain syndrome: lateral hip pain, pain lying on that side, tenderness over the
trochanter."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.tables import LADDERS


def greater_trochanteric_pain(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(30, 58, 88, 0.8, 28)
    d.hip(d.side(), ["lateral"] + d.sites((("buttock", 0.15), ("thigh", 0.15))))
    d.pain_course((1, 104, 520), onset=("gradual",) * 5 + ("sudden",))
    d.flag("pain", "lying_on_side_painful", 0.6, 0.85)
    d.flag("pain", "activity_related", 0.6, 0.95)
    d.stiffness(0.3, 0, 30)
    d.quality_of_life(0.35)
    u = d.rand()
    if u < 0.75:
        d.put("exam", "greater_trochanter_tenderness", True)
    elif u < 0.83:
        d.put("exam", "greater_trochanter_tenderness", False)
    d.maybe("exam", "trendelenburg", 0.3, "positive" if d.chance(0.4) else "negative")
    d.maybe("exam", "faber", 0.25, "positive" if d.chance(0.4) else "negative")
    d.flag("exam", "hip_abductor_weakness", 0.3, 0.5)
    d.maybe("exam", "hip_internal_rotation", 0.3, "normal" if d.chance(0.8) else "painful")
    if d.chance(0.15):
        d.study("ultrasound_hip", d.sites((("trochanteric_bursitis", 0.45), ("gluteal_tendinopathy", 0.55))))
    if d.chance(0.04):
        d.study("mri_hip", d.sites((("gluteal_tendinopathy", 0.7), ("trochanteric_bursitis", 0.4))))
    if d.chance(0.1):
        d.study("xray_hip", [] if d.chance(0.7) else ["osteophytes"])
    d.trials(LADDERS["gtps"], "hip", 0.4)
