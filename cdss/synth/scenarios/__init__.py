"""The scenarios a synthetic case is drawn from, one module per pathway: each scenario is a function
`(draw, primary)` that writes what a clinician would record for that picture (a `primary` one also sets
the patient); probabilities of "recorded" keep records partial, as real ones are.

A new scenario joins by its entry in `SCENARIOS` and its weight in `tables.SCENARIO_WEIGHTS`.
"""

from __future__ import annotations

from typing import Callable

from cdss.synth.draws import Draw
from cdss.synth.scenarios.axial_spondyloarthritis import axial_spondyloarthritis
from cdss.synth.scenarios.bone_malignancy import bone_malignancy
from cdss.synth.scenarios.children import child
from cdss.synth.scenarios.crystal import cppd_arthritis, gout
from cdss.synth.scenarios.fractures import (atypical_femoral_fracture, femoral_neck_stress_fracture, hip_fracture,
                                            insufficiency_fracture, knee_fracture)
from cdss.synth.scenarios.iliotibial_band import iliotibial_band
from cdss.synth.scenarios.joint_infection import prosthetic_joint_infection, septic_arthritis
from cdss.synth.scenarios.nonspecific import nonspecific
from cdss.synth.scenarios.osteoarthritis import hip_osteoarthritis, knee_osteoarthritis
from cdss.synth.scenarios.osteonecrosis import osteonecrosis
from cdss.synth.scenarios.polymyalgia import giant_cell_arteritis, polymyalgia_rheumatica
from cdss.synth.scenarios.rheumatoid_arthritis import rheumatoid_arthritis
from cdss.synth.scenarios.sciatica import referred_back_pain, sciatica, spinal_stenosis
from cdss.synth.scenarios.spine import cauda_equina, severe_motor_deficit, spinal_serious_pathology
from cdss.synth.scenarios.trochanteric import greater_trochanteric_pain

SCENARIOS: dict[str, Callable[[Draw, bool], None]] = {
    "knee_osteoarthritis": knee_osteoarthritis,
    "hip_osteoarthritis": hip_osteoarthritis,
    "greater_trochanteric_pain": greater_trochanteric_pain,
    "sciatica": sciatica,
    "nonspecific": nonspecific,
    "referred_back_pain": referred_back_pain,
    "iliotibial_band": iliotibial_band,
    "spinal_stenosis": spinal_stenosis,
    "rheumatoid_arthritis": rheumatoid_arthritis,
    "axial_spondyloarthritis": axial_spondyloarthritis,
    "osteonecrosis": osteonecrosis,
    "polymyalgia_rheumatica": polymyalgia_rheumatica,
    "gout": gout,
    "cppd_arthritis": cppd_arthritis,
    "hip_fracture": hip_fracture,
    "knee_fracture": knee_fracture,
    "insufficiency_fracture": insufficiency_fracture,
    "femoral_neck_stress_fracture": femoral_neck_stress_fracture,
    "atypical_femoral_fracture": atypical_femoral_fracture,
    "septic_arthritis": septic_arthritis,
    "prosthetic_joint_infection": prosthetic_joint_infection,
    "bone_malignancy": bone_malignancy,
    "giant_cell_arteritis": giant_cell_arteritis,
    "spinal_serious_pathology": spinal_serious_pathology,
    "cauda_equina": cauda_equina,
    "severe_motor_deficit": severe_motor_deficit,
    "child": child,
}
