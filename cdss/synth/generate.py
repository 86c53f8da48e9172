"""Synthetic cases for load tests, benchmarks and rule-coverage hunts: `cdss synth --n N --seed S`.

Each case is built from one or two clinical scenarios (osteoarthritis, osteonecrosis, GTPS, ITBS,
sciatica, spinal stenosis, rheumatoid arthritis, axial SpA, nonspecific pain, the red flags, children),
drawn with weights roughly like a primary-care population, so that a stream reaches every pathway but
looks like a clinic rather than a test matrix. Records are partial, as real ones are: work-ups are done
or not, fields are often absent (unknown), and earlier treatment trials have failed, are still running or
worked.

Numeric fields sometimes take a value exactly at or next to a threshold the rules test (`NEAR_MISS`,
read off the rule files and kept here as data, in one place), because the boundaries are where rule
bugs hide.

Determinism: case i is drawn from its own `random.Random` seeded from (seed, i) alone, so the same
seed gives the same bytes in any process, and the first K cases of a stream of N are the stream of K.
Nothing here iterates a set or depends on hashing or the clock.
"""

from __future__ import annotations

import functools
import json
import math
import random
from bisect import bisect
from typing import IO, Callable, Iterator

from cdss import resources

# ------------------------------------------------------------------------------------------- data

# Values at or next to every numeric threshold in the shipped rules, per case field. With probability
# NEAR_MISS_PROBABILITY a numeric field takes one of them instead of its usual draw (only values inside
# the scenario's plausible range for that field are used). tests/test_synth.py checks that every
# numeric threshold in rules/*.yaml has its value and a neighbour on the other side listed here.
NEAR_MISS: dict[str, tuple] = {
    # derived.adult (>= 16), redflag.paediatric-case (< 16), SCFE band 8-15, derived.age-45-plus,
    # redflag.spinal.new-back-pain-over-50 (> 50), redflag.hip-fracture.fall-older-or-osteoporosis (>= 65)
    "patient.age_years": (7, 8, 15, 16, 44, 45, 50, 51, 64, 65),
    # oa.*.step1-weight-loss (>= 25)
    "patient.bmi_kg_m2": (24.9, 25),
    # redflag.septic.* (<= 2 / > 2), ra score duration (>= 6), oa.knee.mri-after-normal-xray and
    # ra.rheumatology-urgent (>= 12), itbs.step3 (>= 26)
    "pain.duration_weeks": (2, 3, 5, 6, 11, 12, 25, 26),
    # derived.stiffness-short-or-unrecorded (<= 30), derived.stiffness-long (> 30)
    "pain.morning_stiffness_minutes": (30, 31),
    # derived.severe-pain (>= 7)
    "pain.severity_0_10": (6, 7),
    # redflag.spinal.new-back-pain-over-50 (<= 6), sciatica.mri-severe-persistent (> 6),
    # sciatica.acute/chronic and axspa.asas-entry (< 12 / >= 12), axspa.ng65-entry (> 12)
    "back.duration_weeks": (6, 7, 11, 12, 13),
    # axspa NG65 count (< 35), inflammatory back pain (< 40), NG65 and ASAS entry (< 45)
    "back.onset_age_years": (34, 35, 39, 40, 44, 45),
    # derived.fever (>= 38.0)
    "systemic.temperature_c": (37.9, 38.0),
    # avn.risk-corticosteroids (> 2)
    "risk_factors.prednisolone_g_last_3_months": (2, 2.1),
    # avn.risk-alcohol (> 320)
    "risk_factors.alcohol_g_per_week": (320, 321),
    # ra.suspected, ra.rheumatology-*, axspa arthritis (>= 1), and the ACR/EULAR 2010 joint bands of
    # ra.probable-acr-eular, whose "> 10 joints, >= 1 small" arm tests every split of small + large
    "joints.swollen_large_joints": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
    "joints.swollen_small_joints": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
    # oa.*.xray-confirmed and oa.knee.xray-normal-or-effusion (>= 2)
    "imaging.xray_hip.kl_grade": (1, 2),
    "imaging.xray_knee.kl_grade": (1, 2),
    # avn.xray-late-signs (> 2), avn.stage-iiia / stage-pre-collapse (> 0)
    "imaging.xray_hip.collapse_mm": (0, 0.5, 2, 2.5),
    # a failed trial (knowledge_base.yaml failed_trial_min_weeks: 4), ra.biologic (min_weeks 12)
    "treatments.weeks": (3, 4, 11, 12),
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
    "imaging.xray_hip.collapse_mm": 0.3,
}

# Primary scenarios and their weights (per mille, roughly primary-care presentations of combined hip
# and knee pain: osteoarthritis commonest; red flags a few per cent in all; children rare).
SCENARIO_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("knee_osteoarthritis", 250),
    ("hip_osteoarthritis", 170),
    ("greater_trochanteric_pain", 100),
    ("sciatica", 95),
    ("nonspecific", 100),
    ("iliotibial_band", 40),
    ("spinal_stenosis", 30),
    ("rheumatoid_arthritis", 30),
    ("axial_spondyloarthritis", 25),
    ("osteonecrosis", 25),
    ("hip_fracture", 12),
    ("spinal_serious_pathology", 6),
    ("septic_arthritis", 8),
    ("cauda_equina", 4),
    ("child", 6),
)

# Second scenarios that travel with a primary one: (probability of a second, ((name, weight), ...)).
COMBINATIONS: dict[str, tuple[float, tuple[tuple[str, int], ...]]] = {
    "knee_osteoarthritis": (0.25, (("hip_osteoarthritis", 5), ("greater_trochanteric_pain", 3), ("sciatica", 2))),
    "hip_osteoarthritis": (0.3, (("knee_osteoarthritis", 5), ("sciatica", 4), ("greater_trochanteric_pain", 1))),
    "greater_trochanteric_pain": (0.25, (("knee_osteoarthritis", 4), ("iliotibial_band", 3), ("sciatica", 1))),
    "iliotibial_band": (0.2, (("greater_trochanteric_pain", 1),)),
    "sciatica": (0.2, (("hip_osteoarthritis", 3), ("knee_osteoarthritis", 2))),
    "spinal_stenosis": (0.3, (("hip_osteoarthritis", 1), ("knee_osteoarthritis", 1))),
    "rheumatoid_arthritis": (0.1, (("knee_osteoarthritis", 1),)),
    "osteonecrosis": (0.1, (("knee_osteoarthritis", 1),)),
    "hip_fracture": (0.35, (("hip_osteoarthritis", 2), ("knee_osteoarthritis", 1))),
    "septic_arthritis": (0.3, (("knee_osteoarthritis", 3), ("rheumatoid_arthritis", 1))),
    "cauda_equina": (0.4, (("sciatica", 3), ("spinal_stenosis", 1))),
    "spinal_serious_pathology": (0.35, (("sciatica", 2), ("hip_osteoarthritis", 1), ("knee_osteoarthritis", 1))),
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
}

SIDES = ("left", "right", "left", "right", "both")
HIP_SITES = ("groin", "lateral", "buttock", "thigh")
KNEE_SITES = ("anterior", "medial", "lateral", "posterior", "diffuse")
MAX_SEED = 2**63 - 1

# ------------------------------------------------------------------------------------------- drawing


_NEAR_RATE = NEAR_MISS_PROBABILITY_FOR


@functools.cache
def _near_options(field: str, low: float, high: float) -> tuple:
    return tuple(v for v in NEAR_MISS.get(field, ()) if low <= v <= high)


def _cumulative(weights: tuple[tuple[str, int], ...]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    names, cum, total = [], [], 0
    for name, weight in weights:
        total += weight
        names.append(name)
        cum.append(total)
    return tuple(names), tuple(cum)


class Draw:
    """One case being drawn: its random source, the case so far, and small helpers in clinic terms."""

    __slots__ = ("rand", "case", "age", "female", "first_side")

    def __init__(self, rng: random.Random, case_id: str):
        self.rand = rng.random
        self.case: dict = {"id": case_id}
        self.age = 0
        self.female = False
        self.first_side: str | None = None

    # -- plain draws
    def chance(self, p: float) -> bool:
        return self.rand() < p

    def pick(self, seq):
        return seq[int(self.rand() * len(seq))]

    def between(self, low: int, high: int) -> int:
        """An integer from low to high inclusive."""
        return low + int(self.rand() * (high - low + 1))

    def uniform(self, low: float, high: float, digits: int = 1) -> float:
        return round(low + (high - low) * self.rand(), digits)

    def triangular(self, low: float, mode: float, high: float) -> float:
        u = self.rand()
        c = (mode - low) / (high - low)
        if u < c:
            return low + math.sqrt(u * (high - low) * (mode - low))
        return high - math.sqrt((1 - u) * (high - low) * (high - mode))

    def weighted(self, table: tuple[tuple[str, ...], tuple[int, ...]]) -> str:
        names, cum = table
        return names[bisect(cum, self.rand() * cum[-1])]

    def near(self, field: str, low: float, high: float, usual):
        """`usual`, or now and then a value at a rule threshold for `field` within [low, high]."""
        if self.rand() < _NEAR_RATE.get(field, NEAR_MISS_PROBABILITY):
            options = _near_options(field, low, high)
            if options:
                return options[int(self.rand() * len(options))]
        return usual

    def weeks(self, field: str, low: float, high: float, usual: float):
        value = self.near(field, low, high, usual)
        return int(value) if value == int(value) else value

    # -- writing the case (the first scenario to set a field keeps it)
    def put(self, section: str, key: str, value) -> None:
        block = self.case.get(section)
        if block is None:
            self.case[section] = {key: value}
        elif key not in block:
            block[key] = value

    def has(self, section: str, key: str) -> bool:
        block = self.case.get(section)
        return block is not None and key in block

    def maybe(self, section: str, key: str, p_recorded: float, value) -> None:
        if self.rand() < p_recorded:
            self.put(section, key, value)

    def flag(self, section: str, key: str, p_recorded: float, p_true: float) -> None:
        """A yes/no finding: recorded (asked or examined) with p_recorded, then true with p_true."""
        if self.rand() < p_recorded:
            self.put(section, key, self.rand() < p_true)

    def sites(self, choices: tuple[tuple[str, float], ...]) -> list[str]:
        return [site for site, p in choices if self.rand() < p]

    def side(self) -> str:
        """A side; a second scenario mostly keeps to the side the first one chose."""
        if self.first_side is not None and self.rand() < 0.8:
            return self.first_side
        side = self.pick(SIDES)
        if self.first_side is None:
            self.first_side = side
        return side

    def one_side(self) -> str:
        """Left or right; the side already in the record when there is one."""
        if self.first_side in ("left", "right") and self.rand() < 0.8:
            return self.first_side
        return self.pick(("left", "right"))

    # -- pieces shared by scenarios
    def patient(self, low: int, mode: int, high: int, p_female: float, bmi_mode: float) -> None:
        usual = int(self.triangular(low, mode, high + 0.999))
        self.age = self.near("patient.age_years", low, high, usual)
        u = self.rand()
        sex = None
        if u < 0.93:
            sex = "female" if self.rand() < p_female else "male"
        elif u < 0.95:
            sex = "other"
        elif u < 0.97:
            sex = "unknown"
        self.female = sex != "male"
        patient: dict = {"age_years": self.age}
        if sex is not None:
            patient["sex"] = sex
        if self.rand() < 0.6:
            spread = (self.rand() + self.rand() + self.rand() - 1.5) * 9  # Irwin-Hall: sd about 4.5
            bmi = min(60.0, max(14.0, round(bmi_mode + spread, 1)))
            patient["bmi_kg_m2"] = self.near("patient.bmi_kg_m2", 14, 60, bmi)
        self.case["patient"] = patient

    def hip(self, side: str, sites: list[str]) -> None:
        self._joint("hip", side, sites, HIP_SITES)

    def knee(self, side: str, sites: list[str]) -> None:
        self._joint("knee", side, sites, KNEE_SITES)

    def _joint(self, joint: str, side: str, sites: list[str], order: tuple[str, ...]) -> None:
        pain = self.case.setdefault("pain", {})
        old = pain.get(joint)
        if old is None or old == "none":
            pain[joint] = side
        elif old != side:
            pain[joint] = "both"
        if sites:
            key = joint + "_sites"
            have = pain.get(key, ())
            pain[key] = [s for s in order if s in have or s in sites]

    def pain_course(self, duration: tuple[float, float, float], p_duration: float = 0.85,
                    onset: tuple[str, ...] = ("gradual",), severity: tuple[int, int] = (3, 8)) -> None:
        low, usual_high, high = duration
        if self.rand() < p_duration:
            usual = self.between(int(low), int(usual_high)) if self.rand() < 0.85 else self.uniform(low, usual_high)
            self.put("pain", "duration_weeks", self.weeks("pain.duration_weeks", low, high, usual))
        self.maybe("pain", "onset", 0.6, self.pick(onset))
        if self.rand() < 0.55:
            self.put("pain", "severity_0_10", self.near("pain.severity_0_10", 0, 10, self.between(*severity)))

    def stiffness(self, p_recorded: float, low: int, high: int) -> None:
        if self.rand() < p_recorded:
            usual = self.pick((0, 5, 10, 15, 20, 30)) if high <= 30 else 5 * self.between(low // 5, high // 5)
            self.put("pain", "morning_stiffness_minutes",
                     self.near("pain.morning_stiffness_minutes", 0, max(high, 45), usual))

    def quality_of_life(self, p_recorded: float) -> None:
        if self.rand() < p_recorded:
            self.put("pain", "quality_of_life_impact", self.weighted(_QUALITY_OF_LIFE))

    def back_history(self, usual_weeks: tuple[int, int], p_onset_age: float,
                     onset_range: tuple[int, int] | None = None) -> None:
        """Back pain's duration and (sometimes) its onset age, kept consistent with each other and the age."""
        if self.has("back", "duration_weeks"):
            return
        if onset_range is not None and self.rand() < p_onset_age:
            low = min(onset_range[0], self.age)
            high = min(onset_range[1], self.age)
            onset = self.near("back.onset_age_years", low, self.age, self.between(low, high))
            years = self.age - onset
            shortest, longest = max(0, (years - 1) * 52 + 1), (years + 1) * 52 - 1
            usual = min(longest, max(shortest, years * 52 + self.between(-20, 20))) if years else self.between(1, 51)
            self.put("back", "onset_age_years", onset)
            self.put("back", "duration_weeks", self.weeks("back.duration_weeks", shortest, longest, usual))
            return
        weeks = self.weeks("back.duration_weeks", 0, 520, self.between(*usual_weeks))
        self.put("back", "duration_weeks", weeks)
        if self.rand() < p_onset_age:
            self.put("back", "onset_age_years", max(0, self.age - int(weeks // 52)))

    def study(self, name: str, findings: list[str], **extra) -> None:
        """Record an imaging study; a study with no finding is normal. Two scenarios imaging the same
        part merge their findings (a normal read gives way to an abnormal one)."""
        imaging = self.case.setdefault("imaging", {})
        old = imaging.get(name)
        if old is None:
            imaging[name] = {"findings": findings or ["normal"], **extra}
            return
        have = [f for f in old["findings"] if f != "normal"]
        merged = have + [f for f in findings if f not in have]
        old["findings"] = merged or ["normal"]
        for key, value in extra.items():
            old.setdefault(key, value)

    def trials(self, ladder: tuple[str, ...], joint: str | None, p: float, p_joint: float = 0.6) -> None:
        """Some of a ladder's steps tried in order: the earlier ones failed, the last one failed, is
        still running (< 4 weeks) or worked."""
        if self.rand() >= p:
            return
        top = self.between(0, len(ladder) - 1) if self.rand() < 0.5 else self.between(0, min(2, len(ladder) - 1))
        steps = [code for code in ladder[:top] if self.rand() < 0.6] + [ladder[top]]
        treatments = self.case.setdefault("treatments", [])
        tagged = joint is not None and self.rand() < p_joint
        cap = self.pain_weeks("back" if joint == "back" else "pain")
        for index, code in enumerate(steps):
            last = index == len(steps) - 1
            u = self.rand()
            if not last or u < 0.5:  # failed
                weeks = self.weeks("treatments.weeks", 0, 104, self.between(4, 26))
                response = self.pick(("none", "partial", "partial"))
            elif u < 0.75:  # still running
                weeks = self.weeks("treatments.weeks", 0, 3.9, self.pick((1, 2, 3, 0.5, 2.5)))
                response = self.pick(("none", "partial", "good"))
            else:  # worked
                weeks, response = self.weeks("treatments.weeks", 4, 104, self.between(4, 52)), "good"
            trial = {"code": code, "weeks": weeks if weeks <= cap else cap, "response": response}
            if tagged:
                trial["joint"] = joint
            treatments.append(trial)

    def pain_weeks(self, section: str) -> float:
        """How long the pain has lasted (no trial can have run longer), or no limit when not recorded."""
        block = self.case.get(section)
        weeks = block.get("duration_weeks") if block is not None else None
        return 10**6 if weeks is None else weeks

    def labs(self, inflamed: bool, p_esr: float = 0.7) -> None:
        """CRP and (often) ESR, raised or not, now and then exactly at their limit."""
        if self.has("labs", "crp_mg_l"):
            return
        labs = self.case.setdefault("labs", {})
        if self.rand() < 0.25:
            labs["crp_uln_mg_l"] = self.pick((3, 5, 8, 10))
        limit = labs.get("crp_uln_mg_l", 5)
        crp = self.uniform(limit + 1, limit * 12) if inflamed else self.uniform(0.2, limit)
        if self.rand() < NEAR_MISS_PROBABILITY:
            crp = round(limit + self.pick(RELATIVE_NEAR_MISS["labs.crp_mg_l"][1]), 1)
        labs["crp_mg_l"] = crp
        if self.rand() < p_esr:
            if self.rand() < 0.2:
                labs["esr_uln_mm_h"] = self.pick((15, 20, 25, 30))
            if "esr_uln_mm_h" in labs:
                limit = labs["esr_uln_mm_h"]
            else:
                limit = self.age / 2 if self.case["patient"].get("sex") == "male" else (self.age + 10) / 2
            base = math.floor(limit)
            esr = self.between(base + 2, base * 3 + 20) if inflamed else self.between(1, max(1, base))
            if self.rand() < NEAR_MISS_PROBABILITY:
                esr = base + self.pick(RELATIVE_NEAR_MISS["labs.esr_mm_h"][1])
            labs["esr_mm_h"] = esr


_QUALITY_OF_LIFE = _cumulative((("none", 1), ("mild", 4), ("moderate", 4), ("substantial", 3)))


# ------------------------------------------------------------------------------------------- scenarios
# Each scenario writes what a clinician would record for that picture; `primary` scenarios also set the
# patient. Probabilities of "recorded" keep records partial, as real ones are.

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
        if d.chance(0.6):
            grades = (0, 1) if kl < 1 else (1, 4)  # a normal film is graded 0-1
            d.case["imaging"]["xray_knee"].setdefault("kl_grade", d.near("imaging.xray_knee.kl_grade", *grades, kl))
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
        if d.chance(0.6):
            grades = (0, 1) if kl < 1 else (1, 4)  # a normal film is graded 0-1
            d.case["imaging"]["xray_hip"].setdefault("kl_grade", d.near("imaging.xray_hip.kl_grade", *grades, kl))
    if d.chance(0.04):
        d.study("mri_hip", d.sites((("cartilage_loss", 0.8), ("bone_marrow_edema", 0.3), ("effusion", 0.2))))
    if d.chance(0.1):
        d.labs(False)
    d.trials(LADDERS["osteoarthritis"], "hip", 0.4)


def osteonecrosis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(18, 42, 75, 0.4, 25)
    d.hip(d.pick(("left", "right", "left", "right", "both", "both")),
          d.sites((("groin", 0.8), ("thigh", 0.3), ("buttock", 0.1))) if d.chance(0.8) else [])
    d.pain_course((1, 40, 260), onset=("gradual", "sudden"), severity=(4, 9))
    d.maybe("trauma", "recent", 0.4, "none")
    d.flag("pain", "activity_related", 0.6, 0.8)
    d.flag("pain", "night_pain", 0.4, 0.4)
    d.maybe("exam", "hip_internal_rotation", 0.5, d.pick(("painful", "reduced_and_painful", "normal")))
    d.flag("exam", "limp", 0.3, 0.6)
    d.stiffness(0.3, 0, 30)
    risks = 1 if d.chance(0.8) else 2
    if d.chance(0.08):
        risks = 0  # idiopathic: no cause found
    for _ in range(risks):
        _osteonecrosis_risk(d)
    if d.chance(0.1):  # exposure just under a threshold
        if d.chance(0.5):
            d.put("risk_factors", "corticosteroids", "short_course")
            d.put("risk_factors", "prednisolone_g_last_3_months",
                  d.near("risk_factors.prednisolone_g_last_3_months", 0, 2, d.uniform(0.3, 1.9)))
        else:
            alcohol = d.near("risk_factors.alcohol_g_per_week", 0, 320, d.between(100, 300))
            d.put("risk_factors", "alcohol_g_per_week", alcohol)
    u = d.rand()
    if u < 0.35:
        pass  # not imaged yet
    elif u < 0.55:
        d.study("xray_hip", [])
        if d.chance(0.6):
            d.study("xray_pelvis", [])
    elif u < 0.75:
        d.study("xray_hip", [])
        extra = {}
        if d.chance(0.6):
            extra["arco_stage"] = d.pick(("I", "II", "II"))
        if d.chance(0.4):
            extra["head_involvement_percent"] = d.between(5, 60)
        d.study("mri_hip", ["avn"] + (["bone_marrow_edema"] if d.chance(0.5) else []), **extra)
    elif u < 0.86:
        extra = {}
        if d.chance(0.5):
            extra["collapse_mm"] = d.near("imaging.xray_hip.collapse_mm", 0, 2, d.uniform(0.5, 2.0))
        d.study("xray_hip", ["crescent_sign"] + (["subchondral_sclerosis"] if d.chance(0.4) else []), **extra)
        if d.chance(0.3):
            d.study("mri_hip", ["avn"], arco_stage="IIIA")
    elif u < 0.95:
        extra = {}
        if d.chance(0.6):
            extra["collapse_mm"] = d.near("imaging.xray_hip.collapse_mm", 2, 10, d.uniform(2.5, 8.0))
        d.study("xray_hip", ["femoral_head_collapse"] + (["joint_space_narrowing"] if d.chance(0.5) else []), **extra)
        if d.chance(0.3):
            d.study("mri_hip", ["avn"], arco_stage=d.pick(("IIIB", "IV")))
    else:
        d.study("xray_hip", [])
        d.study("mri_hip", [])  # a normal MRI lifts the suspicion
    d.trials(LADDERS["osteonecrosis"], "hip", 0.25)


def _osteonecrosis_risk(d: Draw) -> None:
    u = d.rand()
    if u < 0.35:
        if d.chance(0.6):
            d.put("risk_factors", "corticosteroids", "long_term")
        else:
            d.put("risk_factors", "corticosteroids", d.pick(("short_course", "long_term")))
            d.put("risk_factors", "prednisolone_g_last_3_months",
                  d.near("risk_factors.prednisolone_g_last_3_months", 0, 30, d.uniform(2.2, 12)))
    elif u < 0.6:
        alcohol = d.near("risk_factors.alcohol_g_per_week", 200, 2000, d.between(330, 900))
        d.put("risk_factors", "alcohol_g_per_week", alcohol)
    elif u < 0.68:
        d.put("risk_factors", "sickle_cell_disease", True)
    elif u < 0.76:
        d.put("risk_factors", "lupus", True)
    elif u < 0.82:
        d.put("risk_factors", "organ_transplant", True)
        d.put("systemic", "immunosuppressed", True)
    elif u < 0.87:
        d.put("risk_factors", "clotting_disorder", True)
    elif u < 0.88:
        d.put("risk_factors", "gaucher_disease", True)
    elif u < 0.9:
        d.put("risk_factors", "decompression_exposure", True)
    else:
        d.put("risk_factors", "prior_hip_trauma_or_dislocation", True)


def greater_trochanteric_pain(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(30, 58, 88, 0.8, 28)
    d.hip(d.side(), ["lateral"] + d.sites((("buttock", 0.15), ("thigh", 0.15))))
    d.pain_course((1, 104, 520), onset=("gradual", "gradual", "sudden"))
    d.flag("pain", "lying_on_side_painful", 0.6, 0.85)
    d.flag("pain", "activity_related", 0.6, 0.75)
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


def iliotibial_band(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(16, 32, 60, 0.45, 23)
    d.knee(d.pick(("left", "right")), ["lateral"] + d.sites((("anterior", 0.1),)))
    d.pain_course((1, 40, 156), onset=("gradual", "sudden"), severity=(2, 7))
    d.flag("pain", "worse_with_running_or_cycling", 0.7, 0.9)
    d.flag("pain", "activity_related", 0.6, 0.9)
    d.flag("exam", "lateral_femoral_epicondyle_tenderness", 0.7, 0.8)
    d.maybe("exam", "noble_test", 0.4, "positive" if d.chance(0.7) else "negative")
    d.maybe("exam", "ober_test", 0.4, "positive" if d.chance(0.65) else "negative")
    d.flag("joints", "knee_effusion", 0.3, 0.03)
    if d.chance(0.1):
        d.study("mri_knee", d.sites((("itb_edema", 0.6), ("meniscal_tear", 0.1))))
    if d.chance(0.02):
        d.study("ultrasound_hip", ["itb_thickening"])
    d.trials(LADDERS["itbs"], "knee", 0.4)


def sciatica(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(20, 46, 82, 0.5, 27)
    _back_and_leg(d, acute_share=0.35 if primary else 0.15)  # alongside another picture: mostly long-standing
    if d.case.get("back", {}).get("radiating_leg_pain"):
        d.flag("back", "radiates_below_knee", 0.7, 0.7)
    d.maybe("exam", "straight_leg_raise", 0.6, "positive" if d.chance(0.65) else "negative")
    d.maybe("neuro", "deficit", 0.5, d.pick(("none", "none", "none", "unilateral", "unilateral")))
    d.flag("neuro", "reflexes_reduced", 0.4, 0.4)
    d.flag("neuro", "dermatomal_sensory_loss", 0.4, 0.45)
    if d.chance(0.2):
        u = d.rand()
        if u < 0.55:
            found = ["disc_herniation"] + (["nerve_root_compression"] if d.chance(0.5) else [])
        elif u < 0.85:
            found = ["degenerative_disc_disease"]
        else:
            found = []
        extra = {"matches_symptoms": d.chance(0.8 if found else 0.1)} if d.chance(0.7) else {}
        d.study("mri_lumbar_spine", found, **extra)
        if d.chance(0.2):
            d.study("emg", ["radiculopathy"] if d.chance(0.5) else [])
    d.trials(LADDERS["sciatica"], "back", 0.4)


def spinal_stenosis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(55, 71, 92, 0.5, 28)
    _back_and_leg(d, acute_share=0.1)
    d.flag("pain", "activity_related", 0.6, 0.9)  # neurogenic claudication: walking brings it on
    d.maybe("neuro", "deficit", 0.4, d.pick(("none", "none", "unilateral")))
    d.flag("neuro", "reflexes_reduced", 0.3, 0.4)
    if d.chance(0.5):
        found = ["spinal_stenosis"] + d.sites((("degenerative_disc_disease", 0.6), ("disc_herniation", 0.15)))
        extra = {"matches_symptoms": d.chance(0.85)} if d.chance(0.7) else {}
        d.study("mri_lumbar_spine", found, **extra)
    d.trials(LADDERS["sciatica"], "back", 0.45)


def _back_and_leg(d: Draw, acute_share: float) -> None:
    """Low back pain running into the leg: buttock, thigh, sometimes behind the knee."""
    if d.chance(0.9):
        d.put("back", "low_back_pain", True)
    if d.chance(0.93):
        d.put("back", "radiating_leg_pain", True)
    else:
        d.put("neuro", "dermatomal_sensory_loss", True)
    d.back_history((1, 11) if d.chance(acute_share) else (12, 260), 0.25)
    d.flag("back", "bilateral_leg_symptoms", 0.4, 0.03)
    d.flag("back", "buttock_pain", 0.4, 0.7)
    d.flag("back", "night_pain", 0.3, 0.06)
    d.maybe("back", "start_back_risk", 0.4, d.pick(("low", "medium", "medium", "high")))
    d.flag("neuro", "saddle_anaesthesia", 0.3, 0.0)
    d.flag("neuro", "bladder_or_bowel_dysfunction", 0.3, 0.0)
    side = d.one_side()
    if d.chance(0.6):
        d.hip(side, d.sites((("buttock", 0.7), ("thigh", 0.5), ("lateral", 0.1))))
    if d.chance(0.45) or not d.has("pain", "hip"):
        d.knee(side, d.sites((("posterior", 0.5), ("lateral", 0.15), ("diffuse", 0.2))))
    weeks = d.case["back"].get("duration_weeks")
    if weeks is not None and d.chance(0.6):
        d.put("pain", "duration_weeks", weeks)
    d.pain_course((1, 52, 520), p_duration=0.3, onset=("gradual", "sudden"), severity=(4, 9))


def rheumatoid_arthritis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(22, 55, 88, 0.7, 26)
    if d.chance(0.85):
        small = d.near("joints.swollen_small_joints", 0, 50, d.between(0, 12))
        large = d.near("joints.swollen_large_joints", 0, 20, d.between(0, 4))
        if small + large == 0 and d.chance(0.8):
            small = 2
        if d.chance(0.9):
            d.put("joints", "swollen_small_joints", small)
        d.put("joints", "swollen_large_joints", large)
    d.knee(d.pick(("both", "both", "left", "right")), ["diffuse"] if d.chance(0.5) else [])
    if d.chance(0.25):
        d.hip(d.side(), ["groin"] if d.chance(0.6) else [])
    d.pain_course((1, 60, 520), onset=("gradual", "gradual", "sudden"))
    if d.chance(0.85):
        d.stiffness(0.8, 35, 180)
    else:
        d.stiffness(0.8, 0, 30)
    d.flag("pain", "better_with_movement", 0.5, 0.8)
    d.flag("pain", "activity_related", 0.3, 0.3)
    d.flag("joints", "knee_effusion", 0.4, 0.5)
    d.flag("systemic", "fatigue", 0.4, 0.7)
    if d.chance(0.6):
        serology = ("negative", "low_positive", "high_positive", "high_positive")
        d.maybe("labs", "rf", 0.7, d.pick(serology))
        d.maybe("labs", "anti_ccp", 0.5, d.pick(serology))
        d.labs(d.chance(0.6))
    if d.chance(0.25):
        d.study("xray_hands_feet", d.sites((("erosions", 0.35), ("periarticular_osteopenia", 0.4))))
    if d.chance(0.25):
        treatments = d.case.setdefault("treatments", [])
        courses = 2 if d.chance(0.35) else 1
        for index in range(courses):
            last = index == courses - 1
            if not last or d.chance(0.5):
                trial = {"code": "conventional_dmard", "weeks": d.weeks("treatments.weeks", 4, 104, d.between(12, 40)),
                         "response": d.pick(("none", "partial"))}
            elif d.chance(0.5):
                trial = {"code": "conventional_dmard", "weeks": d.weeks("treatments.weeks", 0, 3.9, d.between(1, 3)),
                         "response": "partial"}
            else:
                trial = {"code": "conventional_dmard", "weeks": d.between(12, 104), "response": "good"}
            trial["weeks"] = min(trial["weeks"], d.pain_weeks("pain"))
            treatments.append(trial)
        if d.chance(0.3):
            treatments.append({"code": "bridging_glucocorticoid", "weeks": d.between(4, 12), "response": "partial"})


def axial_spondyloarthritis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(18, 34, 62, 0.4, 25)
    d.put("back", "low_back_pain", True)
    d.back_history((12, 520), 0.85, (14, 44))
    d.flag("back", "wakes_second_half_of_night", 0.6, 0.7)
    d.flag("back", "buttock_pain", 0.6, 0.6)
    d.flag("back", "night_pain", 0.15, 0.5)
    d.flag("pain", "better_with_movement", 0.6, 0.8)
    d.stiffness(0.6, 30, 120)
    for key, p_true in (("psoriasis", 0.1), ("uveitis", 0.1), ("inflammatory_bowel_disease", 0.05),
                        ("enthesitis", 0.25), ("dactylitis", 0.05), ("family_history_spa", 0.2)):
        d.flag("spa_features", key, 0.5, p_true)
    d.maybe("spa_features", "nsaid_response_48h", 0.4, d.pick(("good", "good", "good", "partial", "none")))
    if d.chance(0.15):
        d.put("joints", "swollen_large_joints", d.near("joints.swollen_large_joints", 0, 3, 1))
    side = d.side()
    d.hip(side, d.sites((("groin", 0.5), ("buttock", 0.6))))
    if d.chance(0.3):
        d.knee(side, ["diffuse"] if d.chance(0.5) else [])
    d.pain_course((1, 260, 1040), p_duration=0.5, onset=("gradual",))
    d.maybe("labs", "hla_b27", 0.45, "positive" if d.chance(0.75) else "negative")
    if d.chance(0.5):
        d.labs(d.chance(0.5))
    if d.chance(0.25):
        d.study("mri_sacroiliac", ["sacroiliitis"] if d.chance(0.65) else [])
    if d.chance(0.2):
        if d.chance(0.5):
            d.study("xray_pelvis", ["sacroiliitis"], si_grade=d.between(2, 4))
        else:
            d.study("xray_pelvis", [], si_grade=d.between(0, 1))
    d.trials(LADDERS["axial_spondyloarthritis"], "back", 0.35, p_joint=0.4)


def nonspecific(d: Draw, primary: bool) -> None:
    """Hip or knee pain that fits no pathway well: overuse, patellofemoral pain, early days."""
    if primary:
        d.patient(16, 38, 85, 0.55, 26)
    u = d.rand()
    if u < 0.5:
        d.knee(d.side(), d.sites((("anterior", 0.6), ("diffuse", 0.3))))
    elif u < 0.8:
        d.hip(d.side(), d.sites((("buttock", 0.3), ("groin", 0.2), ("thigh", 0.2))))
    else:
        side = d.side()
        d.hip(side, [])
        d.knee(side, [])
    d.pain_course((0, 26, 260), p_duration=0.7, onset=("gradual", "sudden"), severity=(1, 7))
    d.flag("pain", "activity_related", 0.6, 0.7)
    d.stiffness(0.3, 0, 30)
    if d.chance(0.06):
        d.study("xray_knee" if d.has("pain", "knee") else "xray_hip", [])
    if d.chance(0.06):
        d.labs(False)
    d.trials(LADDERS["nonspecific"], None, 0.2)


def septic_arthritis(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(18, 62, 95, 0.5, 27)
    if d.chance(0.7):
        d.knee(d.pick(("left", "right")), ["diffuse"] if d.chance(0.5) else [])
    else:
        d.hip(d.pick(("left", "right")), ["groin"] if d.chance(0.6) else [])
    d.put("joints", "hot_swollen_joint", True)
    d.flag("joints", "knee_effusion", 0.5, 0.9)
    if d.chance(0.9):
        usual = d.uniform(0.1, 2.0) if d.chance(0.8) else d.between(3, 6)
        d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 8, usual))
    d.maybe("pain", "onset", 0.6, "sudden")
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(6, 10)))
    if d.chance(0.5):
        temperature = d.near("systemic.temperature_c", 30, 45, d.uniform(36.6, 39.8))
        d.put("systemic", "temperature_c", temperature)
        d.maybe("systemic", "fever", 0.5, temperature >= 38.0)
    else:
        d.flag("systemic", "fever", 0.7, 0.6)
    d.flag("systemic", "diabetes", 0.6, 0.25)
    d.flag("systemic", "immunosuppressed", 0.5, 0.15)
    d.flag("systemic", "iv_drug_use", 0.4, 0.1)
    if d.chance(0.1):
        d.put("joints", "prosthetic_joint", True)
    if d.chance(0.5):
        d.labs(d.chance(0.85))
        d.case["labs"]["wbc_10e9_l"] = d.uniform(6, 22)
    d.maybe("labs", "synovial_culture", 0.25, d.pick(("positive", "positive", "negative", "pending", "pending")))


def hip_fracture(d: Draw, primary: bool) -> None:
    high_energy = d.chance(0.12)
    if primary and high_energy:
        d.patient(16, 35, 70, 0.45, 25)
    elif primary:
        d.patient(60, 82, 100, 0.72, 23)
    d.put("trauma", "recent", "high_energy" if high_energy else "low_energy")
    d.maybe("pain", "onset", 0.6, "after_trauma")
    u = d.rand()
    if u < 0.5:
        d.put("trauma", "can_bear_weight", False)
    elif u < 0.8:
        d.put("trauma", "can_bear_weight", True)
    d.flag("systemic", "osteoporosis", 0.5, 0.5)
    d.hip(d.pick(("left", "right")), d.sites((("groin", 0.7), ("thigh", 0.3), ("lateral", 0.2))))
    if d.chance(0.2):
        d.knee(d.pick(("left", "right")), [])
    if d.chance(0.85):
        d.put("pain", "duration_weeks", d.weeks("pain.duration_weeks", 0, 4, d.uniform(0, 1.5)))
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(5, 10)))
    d.flag("exam", "limp", 0.4, 0.8)
    d.maybe("exam", "hip_internal_rotation", 0.3, "painful")
    u = d.rand()
    if u < 0.5:
        pass
    elif u < 0.7:
        d.study("xray_pelvis", [])
        d.study("xray_hip", [])
        if d.chance(0.25):
            d.study("mri_hip", ["fracture"] if d.chance(0.6) else ["bone_marrow_edema"])
    elif u < 0.95:
        d.study("xray_pelvis", ["fracture"])
        d.study("xray_hip", ["fracture"])
    else:
        d.study("mri_hip", ["fracture", "bone_marrow_edema"])


def cauda_equina(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(25, 48, 82, 0.5, 27)
    d.put("back", "low_back_pain", True)
    d.put("back", "radiating_leg_pain", True)
    d.flag("back", "bilateral_leg_symptoms", 0.8, 0.6)
    d.flag("neuro", "saddle_anaesthesia", 0.8, 0.5)
    d.flag("neuro", "bladder_or_bowel_dysfunction", 0.8, 0.5)
    if d.chance(0.4):
        d.put("neuro", "deficit", d.pick(("bilateral", "progressive")))
    block, neuro = d.case["back"], d.case.get("neuro", {})
    if not (block.get("bilateral_leg_symptoms") or neuro.get("saddle_anaesthesia")
            or neuro.get("bladder_or_bowel_dysfunction") or neuro.get("deficit") in ("bilateral", "progressive")):
        d.case.setdefault("neuro", {})["saddle_anaesthesia"] = True
    d.back_history((0, 8), 0.2)
    if d.chance(0.5):
        d.knee("both", ["posterior"])
    else:
        d.hip("both", ["buttock", "thigh"])
    d.maybe("pain", "severity_0_10", 0.6, d.near("pain.severity_0_10", 0, 10, d.between(6, 10)))
    if d.chance(0.2):
        d.study("mri_lumbar_spine", ["cauda_equina_compression", "disc_herniation"], matches_symptoms=True)


def spinal_serious_pathology(d: Draw, primary: bool) -> None:
    if primary:
        d.patient(30, 64, 92, 0.5, 25)
    d.put("back", "low_back_pain", True)
    u = d.rand()
    if u < 0.3 and d.age > 50:
        d.back_history((0, 6), 0.2)  # new back pain after 50
    else:
        d.back_history((0, 26), 0.2)
        feature = d.pick(("cancer_history", "cancer_history", "unexplained_weight_loss", "fever", "iv_drug_use",
                          "immunosuppressed", "recent_bacterial_infection", "night_pain"))
        if feature == "night_pain":
            d.put("back", "night_pain", True)
        elif feature == "fever":
            if d.chance(0.5):
                d.put("systemic", "fever", True)
            else:
                d.put("systemic", "temperature_c", d.near("systemic.temperature_c", 38.0, 45, d.uniform(38.0, 39.5)))
        else:
            d.put("systemic", feature, True)
    side = d.side()
    if d.chance(0.6):
        d.hip(side, d.sites((("buttock", 0.6), ("lateral", 0.2), ("groin", 0.2))))
    if d.chance(0.5) or not d.has("pain", "hip"):
        d.knee(side, [])
    d.flag("back", "radiating_leg_pain", 0.5, 0.4)
    d.pain_course((0, 12, 52), p_duration=0.5, onset=("gradual", "sudden"), severity=(4, 9))
    if d.chance(0.3):
        d.labs(d.chance(0.5))


def child(d: Draw, primary: bool) -> None:
    """Under 16: the paediatric flag, and in 8- to 15-year-olds with a limp a possible slipped epiphysis."""
    age = d.near("patient.age_years", 2, 15, d.between(8, 15) if d.chance(0.75) else d.between(2, 7))
    d.case["patient"] = {"age_years": age, "sex": "male" if d.chance(0.6) else "female"}
    d.age = age
    if d.chance(0.5):
        d.case["patient"]["bmi_kg_m2"] = d.uniform(14, 32)
    u = d.rand()
    side = d.pick(("left", "right", "left", "right", "both"))
    if u < 0.3:
        d.knee(side, d.sites((("anterior", 0.5), ("medial", 0.2))))  # a slip may show as knee pain alone
    else:
        d.hip(side, d.sites((("groin", 0.5), ("thigh", 0.4))))
        if u > 0.8:
            d.knee(side, [])
    d.pain_course((0, 8, 52), onset=("gradual", "sudden", "after_trauma"), severity=(2, 8))
    d.flag("exam", "limp", 0.8, 0.6)
    if d.chance(0.5):
        d.put("trauma", "can_bear_weight", d.chance(0.75))
    if d.case["pain"].get("onset") == "after_trauma":
        d.put("trauma", "recent", "low_energy")
    d.maybe("trauma", "recent", 0.3, d.pick(("none", "low_energy")))
    if d.chance(0.15):
        d.study("xray_pelvis", [])


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

_PRIMARY = _cumulative(SCENARIO_WEIGHTS)
_SECOND = {name: (p, _cumulative(pairs)) for name, (p, pairs) in COMBINATIONS.items()}


def _background(d: Draw) -> None:
    """What any record may hold besides the presenting picture."""
    old = d.age >= 60
    d.flag("systemic", "diabetes", 0.3, 0.18 if old else 0.06)
    d.flag("systemic", "nsaid_contraindicated", 0.2, 0.3 if old else 0.08)
    d.flag("systemic", "osteoporosis", 0.1, 0.3 if old and d.female else 0.03)
    d.flag("systemic", "cancer_history", 0.1, 0.0)
    if d.chance(0.03) and not d.has("systemic", "fever"):
        d.put("systemic", "temperature_c", d.near("systemic.temperature_c", 35, 45, d.uniform(36.0, 37.6)))
    if not d.has("systemic", "temperature_c"):
        d.flag("systemic", "fever", 0.1, 0.0)
    d.maybe("trauma", "recent", 0.2, "none")
    if d.chance(0.05):
        d.labs(False)
    pain = d.case.setdefault("pain", {})
    for joint in ("hip", "knee"):
        if joint not in pain and d.rand() < 0.55:
            pain[joint] = "none"


# ------------------------------------------------------------------------------------------- cases

@functools.cache
def _key_order() -> tuple:
    """Every object's keys in the order the case schema lists them, so the output order is fixed:
    (rank of a key, {key: the same for a nested object or a list of objects} or None for a flat object)."""
    def order(node: dict) -> tuple:
        props = node.get("properties", {})
        subs = {}
        for name, sub in props.items():
            if sub.get("type") == "object":
                subs[name] = order(sub)
            elif sub.get("type") == "array" and "properties" in sub.get("items", {}):
                subs[name] = order(sub["items"])
        return {name: rank for rank, name in enumerate(props)}.__getitem__, subs or None
    return order(resources.schema("case"))


def _ordered(obj: dict, order: tuple) -> dict:
    rank, subs = order
    if subs is None:
        return obj if len(obj) < 2 else {key: obj[key] for key in sorted(obj, key=rank)}
    out = {}
    for key in sorted(obj, key=rank):
        value = obj[key]
        sub = subs.get(key)
        if sub is not None:
            value = [_ordered(item, sub) for item in value] if type(value) is list else _ordered(value, sub)
        out[key] = value
    return out


def case_seed(seed: int, index: int) -> int:
    """The seed of case `index` of stream `seed`: depends on those two numbers alone."""
    return (seed << 64) | index


def make_case(seed: int, index: int, rng: random.Random | None = None) -> dict:
    """Case `index` of the stream `seed`, as a dict in the contract's key order."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be from 0 to {MAX_SEED} (got {seed})")
    if not 0 <= index < 2**64:
        raise ValueError(f"index must be from 0 to 2**64 - 1 (got {index})")
    rng = rng or random.Random()
    rng.seed(case_seed(seed, index))
    d = Draw(rng, f"syn-{seed}-{index:07d}")
    primary = d.weighted(_PRIMARY)
    SCENARIOS[primary](d, True)
    second = _SECOND.get(primary)
    if second is not None and d.rand() < second[0]:
        SCENARIOS[d.weighted(second[1])](d, False)
    if d.age >= 16:
        _background(d)
    return _ordered(d.case, _key_order())


def generate(n: int, seed: int = 0) -> Iterator[dict]:
    """The first n cases of stream `seed`, one at a time (nothing is held beyond the current case)."""
    if n < 0:
        raise ValueError(f"n must be 0 or more (got {n})")
    rng = random.Random()
    for index in range(n):
        yield make_case(seed, index, rng)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, check_circular=False, allow_nan=False)


def lines(n: int, seed: int = 0) -> Iterator[str]:
    """The same cases as JSONL lines (with their newline)."""
    encode = _ENCODER.encode
    for case in generate(n, seed):
        yield encode(case) + "\n"


def write(stream: IO[str], n: int, seed: int = 0, chunk: int = 512) -> int:
    """Write n cases as JSONL to a text stream, in chunks; returns the number written."""
    buffer: list[str] = []
    count = 0
    for line in lines(n, seed):
        buffer.append(line)
        count += 1
        if len(buffer) >= chunk:
            stream.write("".join(buffer))
            buffer.clear()
    if buffer:
        stream.write("".join(buffer))
    return count
