"""Crystal arthritis (NICE NG219 gout 2022; EULAR CPPD 2011; NHG-Standaard Artritis): an acute, swollen
knee (rarely a hip) with earlier gout flares or a high urate, or with chondrocalcinosis on the X-ray;
seen before aspiration (a hot swollen joint stands as possible infection until the aspirate says
otherwise) or after it (crystals, a culture). Near misses: a urate of 0.35 with no gout history, an
effusion that came on slowly over three weeks, chondrocalcinosis with no acute arthritis."""

from __future__ import annotations

from cdss.synth.draws import Draw
from cdss.synth.tables import LADDERS


def gout(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(30, 60, 90, 0.2, 30)
    d.flag("systemic", "gout_history", 0.85, 0.75)
    knee = d.chance(0.9)
    _acute_arthritis(d, knee, acute=d.chance(0.88), p_hot=0.35)
    if d.chance(0.55):
        usual = d.uniform(0.28, 0.62, digits=2)
        d.put("labs", "urate_mmol_l", d.near("labs.urate_mmol_l", 0.2, 0.8, usual))
    _aspirate(d, "monosodium_urate", p=0.3)
    if d.chance(0.25):
        d.trials(LADDERS["crystal_flare"], "knee" if knee else "hip", 1.0, p_joint=0.4)
    if d.case.get("systemic", {}).get("gout_history") and d.chance(0.2):
        d.case.setdefault("treatments", []).append(
            {"code": "urate_lowering_therapy", "weeks": d.between(4, 200), "response": d.pick(("partial", "good"))})


def cppd_arthritis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(60, 78, 96, 0.6, 27)
    knee = d.chance(0.95)
    _acute_arthritis(d, knee, acute=d.chance(0.75 if primary else 0.3), p_hot=0.35)
    if d.chance(0.8):
        found = ["chondrocalcinosis"] + d.sites((("joint_space_narrowing", 0.6), ("osteophytes", 0.5)))
        if knee:
            d.study("xray_knee", found + (["effusion"] if d.chance(0.2) else []))
        else:
            d.study("xray_pelvis" if d.chance(0.5) else "xray_hip", found)
    _aspirate(d, "calcium_pyrophosphate", p=0.25)
    if d.chance(0.15):
        d.trials(LADDERS["crystal_flare"], "knee" if knee else "hip", 1.0, p_joint=0.4)


def _acute_arthritis(d: Draw, knee: bool, acute: bool, p_hot: float) -> None:
    """The flare: a swollen joint within a day or two, hot (ticked as such) or only with an effusion; or, not
    acute, an effusion that built up over weeks."""
    side = d.one_side()
    if knee:
        d.knee(side, ["diffuse"] if d.chance(0.5) else d.sites((("anterior", 0.5), ("medial", 0.3))))
    else:
        d.hip(side, ["groin"] if d.chance(0.6) else [])
    if acute:
        d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 2, d.pick((0.1, 0.3, 0.5, 1, 1.5))))
        d.maybe("pain", "onset", 0.8, "sudden")
        d.maybe("pain", "severity_0_10", 0.7, d.near("pain.severity_0_10", 0, 10, d.between(6, 10)))
        if d.chance(p_hot if knee else 0.9):
            d.put("joints", "hot_swollen_joint", True)
        if knee:
            d.put("joints", "knee_effusion", True)
        if d.chance(0.5):
            d.temperature(d.chance(0.15))
        if d.chance(0.6):
            d.labs(True, p_esr=0.5)
    else:
        d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 3, 520, d.between(3, 200)))
        d.maybe("pain", "onset", 0.7, "gradual")
        if knee:
            d.flag("joints", "knee_effusion", 0.8, 0.6)
        d.flag("joints", "hot_swollen_joint", 0.4, 0.0)
        d.flag("pain", "activity_related", 0.6, 0.8)
        if d.chance(0.3):
            d.labs(False)
    d.no_fall(0.5)


def _aspirate(d: Draw, crystal: str, p: float) -> None:
    """With probability p the joint has been aspirated: the crystals seen (mostly this kind), the culture."""
    if d.chance(p):
        d.put("labs", "synovial_crystals", crystal if d.chance(0.8) else "none")
        d.put("labs", "synovial_culture", "negative" if d.chance(0.7) else "pending")
