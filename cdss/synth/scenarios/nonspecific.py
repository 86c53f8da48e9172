"""Hip or knee pain that fits no pathway well."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.tables import LADDERS


def nonspecific(d: Draw, primary: bool) -> None:
    """Hip or knee pain that fits no pathway well: overuse, patellofemoral pain, early days."""
    if primary:
        d.patient(16, 38, 85, 0.55, 26)
    u = d.rand()
    if u < 0.5:
        d.knee(d.side(), d.sites((("anterior", 0.6), ("diffuse", 0.3))))
        d.flag("joints", "knee_locking", 0.15, 0.15)
    elif u < 0.8:
        d.hip(d.side(), d.sites((("buttock", 0.3), ("groin", 0.2), ("thigh", 0.2))))
    else:
        side = d.side()
        d.hip(side, [])
        d.knee(side, [])
    d.pain_course((0, 26, 260), p_duration=0.7, onset=("gradual", "gradual", "gradual", "sudden"), severity=(1, 7))
    d.flag("pain", "activity_related", 0.6, 0.85)
    d.stiffness(0.3, 0, 30)
    if d.chance(0.06):
        d.study("xray_knee" if d.has("pain", "knee") else "xray_hip", [])
    if d.chance(0.06):
        d.labs(False)
    d.trials(LADDERS["nonspecific"], None, 0.2)
