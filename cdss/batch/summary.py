"""What a batch found, counted as it goes: results and errors, red flags, conditions, recommendations."""

from __future__ import annotations

from collections import Counter

from attrs import define, field

from cdss.batch.worker import Outcome


@define
class Summary:
    cases: int = 0
    ok: int = 0
    errors: int = 0
    checked: int = 0
    failed: int = 0
    duplicate_ids: int = 0
    other_profile: Counter = field(factory=Counter)  # --check: cases whose expectations hold for another profile
    red_flags: Counter = field(factory=Counter)
    conditions: Counter = field(factory=Counter)
    recommendations: Counter = field(factory=Counter)
    ignored_resources: Counter = field(factory=Counter)  # FHIR input: resource types the mapping does not read
    seconds: float = 0.0
    engine: str = "durable"  # the engine that made every result (results are the same bytes on either)

    def add(self, outcome: Outcome) -> None:
        self.cases += 1
        if not outcome.ok:
            self.errors += 1
            return
        self.ok += 1
        self.ignored_resources.update(dict(outcome.ignored))
        self.red_flags.update(outcome.red_flags)
        self.conditions.update(outcome.conditions)
        self.recommendations.update(outcome.recommendations)
        if outcome.checked:
            self.checked += 1
            self.failed += bool(outcome.diffs)
        elif outcome.other_profile:
            self.other_profile[outcome.other_profile] += 1

    def to_dict(self) -> dict:
        conditions: dict = {}
        for (code, status), n in sorted(self.conditions.items()):
            conditions.setdefault(code, {})[status] = n
        return {
            "engine": self.engine, "cases": self.cases, "ok": self.ok, "errors": self.errors, "duplicate_ids": self.duplicate_ids,
            "checked": self.checked, "check_failed": self.failed,
            "check_other_profile": dict(sorted(self.other_profile.items())),
            "red_flags": dict(sorted(self.red_flags.items())), "conditions": conditions,
            "recommendations": dict(sorted(self.recommendations.items())),
            **({"ignored_fhir_resources": dict(sorted(self.ignored_resources.items()))}
               if self.ignored_resources else {}),
            "seconds": round(self.seconds, 3),
            "cases_per_second": round(self.cases / self.seconds, 1) if self.seconds > 0 else None,
        }

    def text(self) -> str:
        d = self.to_dict()
        lines = [f"cases {d['cases']}: ok {d['ok']}, errors {d['errors']}, duplicate ids {d['duplicate_ids']}"
                 f" (engine {d['engine']})",
                 f"time {d['seconds']} s, {d['cases_per_second']} cases/s"]
        if d["red_flags"]:
            lines.append("red flags: " + ", ".join(f"{k} {v}" for k, v in d["red_flags"].items()))
        if d["conditions"]:
            lines.append("conditions: " + ", ".join(
                f"{k} " + "/".join(f"{s} {n}" for s, n in v.items()) for k, v in d["conditions"].items()))
        if d["recommendations"]:
            top = sorted(d["recommendations"].items(), key=lambda kv: (-kv[1], kv[0]))
            lines.append("recommendations: " + ", ".join(f"{k} {v}" for k, v in top))
        if self.ignored_resources:
            lines.append("FHIR resources the mapping does not read (ignored): "
                         + ", ".join(f"{k} {v}" for k, v in sorted(self.ignored_resources.items())))
        return "\n".join(lines)
