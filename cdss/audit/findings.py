"""What the audit reports: findings with a severity, a rule and a place, as the house style asks."""

from __future__ import annotations

from attrs import field, frozen

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@frozen
class Place:
    """A rule (or a file, when rule is None) and where it is written."""

    rule: str | None
    file: str
    line: int | None = None

    def to_dict(self) -> dict:
        return {"rule": self.rule, "file": self.file, "line": self.line}

    def where(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


@frozen
class Finding:
    """One thing the audit found. `check` names the check (e.g. `unreachable-rule`); `related` names the
    other rules involved; `witness` is a case (as data) that shows the problem, when one was built."""

    check: str
    severity: str = field()
    message: str
    place: Place
    related: tuple[Place, ...] = ()
    witness: dict | None = field(default=None, eq=False)

    @severity.validator
    def _known(self, attribute, value) -> None:
        if value not in SEVERITIES:
            raise ValueError(f"'severity' must be one of {', '.join(SEVERITIES)} (got {value!r})")

    @property
    def rule(self) -> str | None:
        return self.place.rule

    @property
    def line(self) -> int | None:
        return self.place.line

    def sort_key(self) -> tuple:
        return (SEVERITY_RANK[self.severity], self.place.file, self.place.line or 0, self.check, self.message)

    def to_dict(self) -> dict:
        out = {"check": self.check, "severity": self.severity, "rule": self.place.rule, "file": self.place.file,
               "line": self.place.line, "message": self.message,
               "related": [p.to_dict() for p in self.related]}
        if self.witness is not None:
            out["witness"] = self.witness
        return out

    def describe(self) -> str:
        who = f" {self.place.rule}:" if self.place.rule else ""
        return f"{self.place.where()}: {self.severity}: [{self.check}]{who} {self.message}"


def count_by_severity(findings) -> dict[str, int]:
    out = {name: 0 for name in SEVERITIES}
    for finding in findings:
        out[finding.severity] += 1
    return out
