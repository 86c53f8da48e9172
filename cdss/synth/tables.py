"""The synthetic population as data: values at the rules' thresholds, how often each scenario presents and
with what, and the treatment ladders a clinician climbs. (How often a scenario records each finding
stays beside the finding, in its scenario module.)
"""

from __future__ import annotations

# Values at or next to every numeric threshold in the shipped rules, per case field. With probability
# NEAR_MISS_PROBABILITY a numeric field takes one of them instead of its usual draw (only values inside
# the scenario's plausible range for that field are used). tests/test_synth.py checks that every
# numeric threshold in rules/*.yaml has its value and a neighbour on the other side listed here.
NEAR_MISS: dict[str, tuple] = {
    # derived.adult (>= 16), redflag.paediatric-case (< 16), SCFE ages 8-16 inclusive (8 / 17 outside),
    # bone malignancy in the young (< 25), derived.age-45-plus, PMR, GCA and stenosis (>= 50),
    # redflag.spinal.new-back-pain-over-50 (> 50), Ottawa knee rule (>= 55), myeloma and PMR typical age
    # (>= 60), hip fracture after a fall and insufficiency fracture (>= 65), derived.age-75-plus (>= 75),
    # septic arthritis host risk (> 80)
    "patient.age_years": (7, 8, 15, 16, 17, 24, 25, 44, 45, 49, 50, 51, 54, 55, 59, 60, 64, 65, 74, 75, 80, 81),
    # femoral neck stress fracture strengthened by BMI < 18.5; oa.*.step1-weight-loss and SCFE obesity (>= 25)
    "patient.bmi_kg_m2": (18.4, 18.5, 24.9, 25),
    # acute joint pain (<= 2) and PMR (>= 2); ra score duration and bone malignancy in the over-60s (>= 6);
    # oa.knee.mri-after-normal-xray and ra.rheumatology-urgent (>= 12), itbs.step3 (>= 26)
    "pain.duration_weeks": (1, 2, 3, 5, 6, 11, 12, 25, 26),
    # derived.stiffness-short-or-unrecorded (<= 30), derived.stiffness-long (> 30), PMR (> 45)
    "pain.morning_stiffness_minutes": (30, 31, 45, 46),
    # derived.severe-pain (>= 7)
    "pain.severity_0_10": (6, 7),
    # redflag.spinal.new-back-pain-over-50 (<= 6), sciatica.mri-severe-persistent (> 6),
    # sciatica.acute/chronic and axspa.asas-entry (< 12 / >= 12), axspa.ng65-entry (> 12)
    "back.duration_weeks": (6, 7, 11, 12, 13),
    # axspa NG65 count (< 35), inflammatory back pain (< 40), NG65 and ASAS entry (< 45)
    "back.onset_age_years": (34, 35, 39, 40, 44, 45),
    # the stable-stenosis exception to cauda equina (>= 12)
    "back.bilateral_leg_symptoms_weeks": (11, 12),
    # derived.fever (>= 38.0), Kocher criteria (> 38.5)
    "systemic.temperature_c": (37.9, 38.0, 38.5, 38.6),
    # avn.risk-corticosteroids (> 2)
    "risk_factors.prednisolone_g_last_3_months": (2, 2.1),
    # avn.risk-alcohol (> 320)
    "risk_factors.alcohol_g_per_week": (320, 321),
    # ra.suspected, ra.rheumatology-*, axspa arthritis (>= 1), and the ACR/EULAR 2010 joint bands of
    # ra.probable-acr-eular, whose "> 10 joints, >= 1 small" arm tests every split of small + large
    "joints.swollen_large_joints": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
    "joints.swollen_small_joints": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
    # derived.neurological-sign (MRC <= 4), severe motor deficit (MRC <= 3)
    "neuro.motor_power_mrc": (3, 4, 5),
    # derived.crp-above-limit with no limit given (> 5), prosthetic joint infection (CRP > 10, EBJIS),
    # infection-range markers (CRP > 50); the lab's own limit is relative (RELATIVE_NEAR_MISS)
    "labs.crp_mg_l": (5, 5.1, 10, 10.1, 50, 50.1),
    # Kocher criteria (ESR > 40); the ESR's upper limit is relative (RELATIVE_NEAR_MISS)
    "labs.esr_mm_h": (40, 41),
    # derived.infection-range-markers (leucocytes > 11), Kocher criteria (> 12)
    "labs.wbc_10e9_l": (11, 11.1, 12, 12.1),
    # gout: serum urate >= 0.36 mmol/L (NG219: 360 umol/L)
    "labs.urate_mmol_l": (0.35, 0.36),
    # derived.nsaid-contraindicated (eGFR < 30), derived.nsaid-caution (30-59)
    "labs.egfr_ml_min": (29, 30, 59, 60),
    # oa.*.xray-confirmed and oa.knee.xray-normal-or-effusion (>= 2)
    "imaging.xray_hip.kl_grade": (1, 2),
    "imaging.xray_knee.kl_grade": (1, 2),
    # avn.xray-late-signs (> 2), avn.stage-iiia / stage-pre-collapse (> 0)
    "imaging.xray_hip.collapse_mm": (0, 0.5, 2, 2.5),
    # avn pre-collapse: a lesion under 15 % of the head is observed
    "imaging.mri_hip.head_involvement_percent": (14, 15),
    # a failed trial (knowledge_base.yaml failed_trial: 4 weeks, 12 for DMARDs, any duration for PMR
    # prednisolone), ra.biologic (min_weeks 12)
    "treatments.weeks": (0, 3, 4, 11, 12),
}

# Thresholds that depend on other fields of the case: (the limit, offsets from it). CRP: above
# `crp_uln_mg_l`, or 5 when absent (derived.crp-above-limit); the values are the limit and 0.1 above.
# ESR: above `esr_uln_mm_h`, or age/2 for men and (age+10)/2 otherwise (derived.esr-above-limit); the
# values are the whole number at or just below the limit and the next one up.
RELATIVE_NEAR_MISS: dict[str, tuple] = {
    "labs.crp_mg_l": ("crp limit", (0, 0.1)),
    "labs.esr_mm_h": ("esr limit", (0, 1)),
}

NEAR_MISS_PROBABILITY = 0.1
# Fields that few cases hold get their boundary values more often, so that a stream of some thousands
# still crosses each of their thresholds.
NEAR_MISS_PROBABILITY_FOR: dict[str, float] = {
    "systemic.temperature_c": 0.3,
    "risk_factors.prednisolone_g_last_3_months": 0.3,
    "risk_factors.alcohol_g_per_week": 0.3,
    "joints.swollen_large_joints": 0.2,
    "joints.swollen_small_joints": 0.2,
    "back.onset_age_years": 0.2,
    "back.bilateral_leg_symptoms_weeks": 0.15,
    "imaging.xray_hip.collapse_mm": 0.5,
    "imaging.mri_hip.head_involvement_percent": 0.3,
    "labs.crp_mg_l": 0.15,
    "labs.urate_mmol_l": 0.25,
    "neuro.motor_power_mrc": 0.3,
}

# Primary scenarios and their weights (per mille, roughly primary-care presentations of combined hip
# and knee pain: osteoarthritis commonest; red flags a few per cent in all; children rare). The red-flag
# pictures below are about 6 % of draws; other pictures raise a flag now and then too (a cancer history
# with night pain, new back pain after 50), and some red-flag draws are near misses that raise none.
SCENARIO_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("knee_osteoarthritis", 270),
    ("hip_osteoarthritis", 170),
    ("greater_trochanteric_pain", 95),
    ("nonspecific", 100),
    ("sciatica", 90),
    ("referred_back_pain", 40),
    ("iliotibial_band", 40),
    ("spinal_stenosis", 35),
    ("rheumatoid_arthritis", 25),
    ("axial_spondyloarthritis", 22),
    ("osteonecrosis", 20),
    ("polymyalgia_rheumatica", 18),
    ("gout", 13),
    ("cppd_arthritis", 10),
    # red flags
    ("hip_fracture", 6),
    ("knee_fracture", 5),
    ("insufficiency_fracture", 3),
    ("femoral_neck_stress_fracture", 4),
    ("atypical_femoral_fracture", 3),
    ("septic_arthritis", 4),
    ("prosthetic_joint_infection", 5),
    ("bone_malignancy", 4),
    ("giant_cell_arteritis", 3),
    ("spinal_serious_pathology", 3),
    ("cauda_equina", 3),
    ("severe_motor_deficit", 3),
    ("child", 6),
)

# Second scenarios that travel with a primary one: (probability of a second, ((name, weight), ...)).
COMBINATIONS: dict[str, tuple[float, tuple[tuple[str, int], ...]]] = {
    "knee_osteoarthritis": (0.25, (("hip_osteoarthritis", 5), ("greater_trochanteric_pain", 3), ("sciatica", 2),
                                   ("cppd_arthritis", 1))),
    "hip_osteoarthritis": (0.3, (("knee_osteoarthritis", 5), ("sciatica", 4), ("greater_trochanteric_pain", 1),
                                 ("spinal_stenosis", 1))),
    "greater_trochanteric_pain": (0.25, (("knee_osteoarthritis", 4), ("iliotibial_band", 3), ("sciatica", 1),
                                         ("referred_back_pain", 1))),
    "iliotibial_band": (0.2, (("greater_trochanteric_pain", 1),)),
    "sciatica": (0.2, (("hip_osteoarthritis", 3), ("knee_osteoarthritis", 2))),
    "referred_back_pain": (0.2, (("hip_osteoarthritis", 2), ("greater_trochanteric_pain", 1))),
    "spinal_stenosis": (0.3, (("hip_osteoarthritis", 1), ("knee_osteoarthritis", 1))),
    "rheumatoid_arthritis": (0.1, (("knee_osteoarthritis", 1),)),
    "osteonecrosis": (0.1, (("knee_osteoarthritis", 1),)),
    "polymyalgia_rheumatica": (0.15, (("knee_osteoarthritis", 2), ("hip_osteoarthritis", 1))),
    "gout": (0.15, (("knee_osteoarthritis", 1),)),
    "cppd_arthritis": (0.3, (("knee_osteoarthritis", 3), ("hip_osteoarthritis", 1))),
    "hip_fracture": (0.35, (("hip_osteoarthritis", 2), ("knee_osteoarthritis", 1))),
    "insufficiency_fracture": (0.3, (("hip_osteoarthritis", 1), ("knee_osteoarthritis", 1))),
    "atypical_femoral_fracture": (0.3, (("knee_osteoarthritis", 1), ("hip_osteoarthritis", 1))),
    "knee_fracture": (0.15, (("knee_osteoarthritis", 1),)),
    "septic_arthritis": (0.3, (("knee_osteoarthritis", 3), ("rheumatoid_arthritis", 1), ("gout", 1))),
    "prosthetic_joint_infection": (0.2, (("knee_osteoarthritis", 1), ("hip_osteoarthritis", 1))),
    "bone_malignancy": (0.15, (("knee_osteoarthritis", 1), ("hip_osteoarthritis", 1))),
    "giant_cell_arteritis": (0.5, (("polymyalgia_rheumatica", 1),)),
    "cauda_equina": (0.4, (("sciatica", 3), ("spinal_stenosis", 1))),
    "spinal_serious_pathology": (0.35, (("sciatica", 2), ("hip_osteoarthritis", 1), ("knee_osteoarthritis", 1))),
    "severe_motor_deficit": (0.2, (("hip_osteoarthritis", 1),)),
}

# Treatment ladders per scenario, in the order a clinician climbs them.
LADDERS: dict[str, tuple[str, ...]] = {
    "osteoarthritis": ("education_self_management", "exercise_therapy", "weight_loss", "topical_nsaid",
                       "oral_nsaid_with_ppi", "corticosteroid_injection"),
    "gtps": ("education_self_management", "activity_modification", "physiotherapy", "hip_abductor_strengthening",
             "topical_nsaid", "corticosteroid_injection"),
    "itbs": ("education_self_management", "activity_modification", "ice", "it_band_stretching", "physiotherapy",
             "topical_nsaid", "corticosteroid_injection", "itb_release"),
    "sciatica": ("stay_active", "exercise_therapy", "physiotherapy", "manual_therapy",
                 "epidural_steroid_injection", "spinal_decompression"),
    "osteonecrosis": ("topical_nsaid", "oral_nsaid_with_ppi", "protected_weight_bearing"),
    "axial_spondyloarthritis": ("exercise_therapy", "physiotherapy", "oral_nsaid_with_ppi",
                                "biologic_or_targeted_therapy"),
    "nonspecific": ("education_self_management", "exercise_therapy", "topical_nsaid", "physiotherapy"),
    "referred_back_pain": ("stay_active", "exercise_therapy", "physiotherapy", "manual_therapy"),
    "stenosis": ("exercise_therapy", "physiotherapy", "manual_therapy", "spinal_decompression"),
    "crystal_flare": ("oral_nsaid_with_ppi", "colchicine", "short_oral_corticosteroid"),
}

SIDES = ("left", "right", "left", "right", "both")
HIP_SITES = ("groin", "lateral", "buttock", "thigh")
KNEE_SITES = ("anterior", "medial", "lateral", "posterior", "diffuse")
PROSTHESES = ("hip_left", "hip_right", "knee_left", "knee_right")
QUALITY_OF_LIFE: tuple[tuple[str, int], ...] = (("none", 1), ("mild", 4), ("moderate", 4), ("substantial", 3))


def cumulative(weights: tuple[tuple[str, int], ...]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """(names, running totals) of a weight table, for `Draw.weighted`."""
    names, cum, total = [], [], 0
    for name, weight in weights:
        total += weight
        names.append(name)
        cum.append(total)
    return tuple(names), tuple(cum)
