"""What any adult's record may hold besides the presenting picture: comorbidities and what decides NSAID
safety, a temperature, no recent trauma, an incidental lab, and a joint recorded as not painful."""

from __future__ import annotations

from cdss.synth.draws import Draw


def background(d: Draw) -> None:
    """What any record may hold besides the presenting picture."""
    old = d.age >= 60
    d.flag("systemic", "diabetes", 0.3, 0.18 if old else 0.06)
    d.flag("systemic", "nsaid_contraindicated", 0.2, 0.3 if old else 0.08)
    # what decides NSAID safety (pathways.md Definitions: contraindicated, caution, status unknown)
    d.flag("systemic", "anticoagulant_use", 0.3, 0.15 if old else 0.03)
    d.flag("systemic", "gi_bleed_history", 0.3, 0.08 if old else 0.03)
    d.flag("systemic", "cardiovascular_disease", 0.3, 0.25 if old else 0.05)
    if d.chance(0.25):
        d.put("labs", "egfr_ml_min", d.near("labs.egfr_ml_min", 5, 120, d.between(25 if d.age >= 75 else 45 if old else 65, 110)))
    d.flag("systemic", "osteoporosis", 0.1, 0.3 if old and d.female else 0.03)
    if d.case.get("systemic", {}).get("osteoporosis"):
        d.flag("systemic", "bisphosphonate_use", 0.6, 0.6)
    d.flag("systemic", "cancer_history", 0.1, 0.05 if old else 0.01)
    d.flag("systemic", "gout_history", 0.05, 0.1 if d.female else 0.2)
    d.flag("systemic", "known_rheumatoid_arthritis", 0.08, 0.05)
    d.flag("systemic", "immunosuppressed", 0.08, 0.04)
    if d.chance(0.03):
        d.temperature(False)
    if not d.has("systemic", "temperature_c"):
        d.flag("systemic", "fever", 0.1, 0.0)
    d.maybe("trauma", "recent", 0.2, "none")
    if d.chance(0.05):
        d.labs(False)
    pain = d.case.setdefault("pain", {})
    for joint in ("hip", "knee"):
        if joint not in pain and d.rand() < 0.55:
            pain[joint] = "none"
