"""`Draw`: one case being drawn, with its random source and small helpers in clinic terms (a flag that is
recorded or not, a side, a pain course, a study, a ladder of treatment trials, labs), so that a scenario
reads like what a clinician records."""

from __future__ import annotations

import functools
import math
import random
from bisect import bisect

from cdss.synth.tables import (HIP_SITES, KNEE_SITES, NEAR_MISS, NEAR_MISS_PROBABILITY, NEAR_MISS_PROBABILITY_FOR,
                               PROSTHESES, QUALITY_OF_LIFE, RELATIVE_NEAR_MISS, SIDES, cumulative)

_NEAR_RATE = NEAR_MISS_PROBABILITY_FOR
_QUALITY_OF_LIFE = cumulative(QUALITY_OF_LIFE)


@functools.cache
def _near_options(field: str, low: float, high: float) -> tuple:
    return tuple(v for v in NEAR_MISS.get(field, ()) if low <= v <= high)


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

    def labs(self, inflamed: bool, p_esr: float = 0.7, infection: bool = False, p_wbc: float = 0.5) -> None:
        """CRP, (often) ESR and (sometimes) the white cell count, raised or not, now and then exactly at a
        limit: the lab's upper limit, or a fixed threshold (CRP 10 and 50, WBC 11 and 12, ESR 40). An
        `infection` draws the high CRP and leucocytosis of a bacterial infection."""
        if self.has("labs", "crp_mg_l"):
            return
        labs = self.case.setdefault("labs", {})
        if self.rand() < 0.25:
            labs["crp_uln_mg_l"] = self.pick((3, 5, 8, 10))
        limit = labs.get("crp_uln_mg_l", 5)
        if infection:
            low, high = 20, 320
        elif inflamed:
            low, high = limit + 1, limit * 12
        else:
            low, high = 0.2, limit
        crp = self.uniform(low, high)
        if self.rand() < NEAR_MISS_PROBABILITY:
            crp = round(limit + self.pick(RELATIVE_NEAR_MISS["labs.crp_mg_l"][1]), 1)
        else:
            crp = self.near("labs.crp_mg_l", low, high, crp)
        labs["crp_mg_l"] = crp
        if self.rand() < (0.9 if infection else p_wbc):
            if infection:
                usual, high = self.uniform(9, 24), 30
            elif inflamed:
                usual, high = self.uniform(7, 13), 15
            else:
                usual, high = self.uniform(4, 10.5), 11.1
            labs["wbc_10e9_l"] = self.near("labs.wbc_10e9_l", 2, high, usual)
        if self.rand() < p_esr:
            if self.rand() < 0.2:
                labs["esr_uln_mm_h"] = self.pick((15, 20, 25, 30))
            if "esr_uln_mm_h" in labs:
                limit = labs["esr_uln_mm_h"]
            else:
                limit = self.age / 2 if self.case["patient"].get("sex") == "male" else (self.age + 10) / 2
            base = math.floor(limit)
            if inflamed or infection:
                low, high = base + 2, base * 3 + 20 + (40 if infection else 0)
            else:
                low, high = 1, max(1, base)
            esr = self.between(low, high)
            if self.rand() < NEAR_MISS_PROBABILITY:
                esr = base + self.pick(RELATIVE_NEAR_MISS["labs.esr_mm_h"][1])
            else:
                esr = self.near("labs.esr_mm_h", low, high, esr)
            labs["esr_mm_h"] = esr

    def temperature(self, febrile: bool, p_tick: float = 0.4) -> None:
        """A measured temperature, febrile or not (now and then at a threshold), and sometimes the fever
        tick that goes with it; nothing when the record already says."""
        if self.has("systemic", "temperature_c") or self.has("systemic", "fever"):
            return
        if febrile:
            value = self.near("systemic.temperature_c", 37.9, 41, self.uniform(38.0, 39.9))
        else:
            value = self.near("systemic.temperature_c", 35.5, 38.0, self.uniform(36.2, 37.7))
        self.put("systemic", "temperature_c", value)
        self.maybe("systemic", "fever", p_tick, value >= 38.0)

    def prosthesis(self, joint: str, side: str) -> None:
        """A joint replacement of `joint` on `side` (both: each side), in the per-side list; nothing when the
        record already says there is none."""
        joints = self.case.setdefault("joints", {})
        have = joints.get("prostheses")
        if joints.get("prosthetic_joint") is False or have == []:
            return
        have = joints.setdefault("prostheses", [])
        for one in (("left", "right") if side == "both" else (side,)):
            code = f"{joint}_{one}"
            if code not in have:
                have.append(code)
        have.sort(key=PROSTHESES.index)

    def no_fall(self, p_recorded: float) -> None:
        """No recent trauma, recorded as such with p_recorded (absent also means no fall)."""
        self.maybe("trauma", "recent", p_recorded, "none")
