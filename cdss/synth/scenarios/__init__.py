"""The scenarios a synthetic case is drawn from, one module per pathway: each scenario is a function
`(draw, primary)` that writes what a clinician would record for that picture (a `primary` one also sets
the patient); probabilities of "recorded" keep records partial, as real ones are.

A new scenario joins by its entry in `SCENARIOS` and its weight in `tables.SCENARIO_WEIGHTS`.
"""

from __future__ import annotations

from typing import Callable

from cdss.synth.draws import Draw
from cdss.synth.scenarios.axial_spondyloarthritis import axial_spondyloarthritis
from cdss.synth.scenarios.iliotibial_band import iliotibial_band
from cdss.synth.scenarios.nonspecific import nonspecific
from cdss.synth.scenarios.osteoarthritis import hip_osteoarthritis, knee_osteoarthritis
from cdss.synth.scenarios.osteonecrosis import osteonecrosis
from cdss.synth.scenarios.red_flags import cauda_equina, child, hip_fracture, septic_arthritis, spinal_serious_pathology
from cdss.synth.scenarios.rheumatoid_arthritis import rheumatoid_arthritis
from cdss.synth.scenarios.sciatica import sciatica, spinal_stenosis
from cdss.synth.scenarios.trochanteric import greater_trochanteric_pain

SCENARIOS: dict[str, Callable[[Draw, bool], None]] = {
    "knee_osteoarthritis": knee_osteoarthritis,
    "hip_osteoarthritis": hip_osteoarthritis,
    "greater_trochanteric_pain": greater_trochanteric_pain,
    "sciatica": sciatica,
    "nonspecific": nonspecific,
    "iliotibial_band": iliotibial_band,
    "spinal_stenosis": spinal_stenosis,
    "rheumatoid_arthritis": rheumatoid_arthritis,
    "axial_spondyloarthritis": axial_spondyloarthritis,
    "osteonecrosis": osteonecrosis,
    "hip_fracture": hip_fracture,
    "spinal_serious_pathology": spinal_serious_pathology,
    "septic_arthritis": septic_arthritis,
    "cauda_equina": cauda_equina,
    "child": child,
}
