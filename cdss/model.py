"""The data that flows through cdss: a case in, a result out, and the pieces of a result.

Frozen attrs classes, so that a result cannot change after the engine made it and two runs over the
same case compare equal.
"""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

DISCLAIMER = {
    "en": "Decision support, not a diagnosis: a clinician weighs this advice against the whole patient.",
    "nl": "Beslisondersteuning, geen diagnose: een arts weegt dit advies af tegen de hele patiënt.",
}


@frozen
class Text:
    """A text a person reads, in English and Dutch."""

    en: str
    nl: str

    def pick(self, lang: str) -> str:
        return self.nl if lang == "nl" else self.en


@frozen
class Case:
    """One validated case: its id, its data as read, and where it came from (for error records). A case read
    from FHIR also holds, for each value, the resource it came from: (JSON pointer, source) pairs."""

    id: str
    data: dict = field(eq=False, repr=False)
    source: str = "-"
    line: int | None = None
    provenance: tuple = field(default=(), eq=False, repr=False)


@frozen
class Matched:
    """One thing a rule matched: a case field (JSON pointer), a derived fact, a condition or a trial."""

    kind: str  # field | fact | condition | red_flag | trial | count | score
    ref: str
    value: Any = None
    absent: bool = False
    # What the phrase catalogue needs beyond the trace's own value, never serialised: a trial's
    # (code, weeks, response, joint), a count's (hits, total).
    detail: tuple | None = field(default=None, eq=False, repr=False)
    source: tuple | None = None  # (resource, element) that gave a field read from FHIR

    def to_dict(self) -> dict:
        out: dict = {self.kind: self.ref}
        if self.absent:
            out["absent"] = True
        elif self.value is not None:
            out["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        if self.source is not None:
            out["from"], out["element"] = self.source
        return out

    def describe(self, lang: str = "en") -> str:
        """A short technical phrase for rule authors (`cdss why-not`): `pain.hip = left`, `no
        imaging.xray_hip`. What a clinician reads says it in words instead (cdss.kb.phrases)."""
        name = self.ref.lstrip("/").replace("/", ".") if self.kind in ("field", "trial") else self.ref
        if self.absent:
            return f"{'geen' if lang == 'nl' else 'no'} {name}"
        if self.value is None:
            return name
        return f"{name} = {_show(self.value, lang)}"


def _show(value: Any, lang: str = "en") -> str:
    if isinstance(value, bool):
        return {"en": ("no", "yes"), "nl": ("nee", "ja")}["nl" if lang == "nl" else "en"][value]
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v, lang) for v in value)
    return str(value)

@frozen
class TraceEntry:
    """A rule that fired (or a policy that changed the result): what it matched and what it asserted."""

    rule: str
    matched: tuple[Matched, ...]
    asserted: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"rule": self.rule, "matched": list(map(Matched.to_dict, self.matched)), "asserted": list(self.asserted)}


@frozen
class RedFlag:
    code: str
    status: str
    urgency: str
    rationale: Text
    rules: tuple[str, ...]
    sources: tuple[str, ...]
    label: Text | None = None  # the code's label (cdss.kb.labels), set when the result is built

    def to_dict(self, lang: str) -> dict:
        return {"code": self.code, "label": _said(self.label, self.code, lang), "status": self.status,
                "urgency": self.urgency,
                "rationale": self.rationale.pick(lang), "rules": list(self.rules), "sources": list(self.sources)}


@frozen
class Condition:
    code: str
    status: str
    icd10: str
    rationale: Text
    rules: tuple[str, ...]
    sources: tuple[str, ...]
    label: Text | None = None

    def to_dict(self, lang: str) -> dict:
        return {"code": self.code, "label": _said(self.label, self.code, lang), "status": self.status,
                "icd10": self.icd10,
                "rationale": self.rationale.pick(lang), "rules": list(self.rules), "sources": list(self.sources)}


@frozen
class Contribution:
    """What one rule brought to a merged recommendation or do-not: the targets it named (its `for`), its
    reason and sources, and (a recommendation's) its urgency. A policy that narrows `for` keeps only the
    contributions that serve a target left, and so drops the rules, reasons and urgency that no longer
    apply."""

    rule: str
    for_: tuple[str, ...]
    rationale: Text
    sources: tuple[str, ...]
    urgency: str | None = None


@frozen
class Recommendation:
    code: str
    kind: str
    category: str | None
    urgency: str
    for_: tuple[str, ...]
    rationale: Text
    rules: tuple[str, ...]
    sources: tuple[str, ...]
    step: int = 0
    contributions: tuple[Contribution, ...] = field(default=(), eq=False, repr=False)  # most urgent first
    label: Text | None = None

    def to_dict(self, lang: str) -> dict:
        return {"code": self.code, "label": _said(self.label, self.code, lang), "kind": self.kind,
                "category": self.category, "urgency": self.urgency,
                "for": list(self.for_), "rationale": self.rationale.pick(lang), "rules": list(self.rules),
                "sources": list(self.sources)}


@frozen
class DoNot:
    code: str
    for_: tuple[str, ...]
    rationale: Text
    rules: tuple[str, ...]
    sources: tuple[str, ...]
    contributions: tuple[Contribution, ...] = field(default=(), eq=False, repr=False)  # in rule-base order
    label: Text | None = None

    def to_dict(self, lang: str) -> dict:
        return {"code": self.code, "label": _said(self.label, self.code, lang), "for": list(self.for_),
                "rationale": self.rationale.pick(lang),
                "rules": list(self.rules), "sources": list(self.sources)}


@frozen
class Warning:
    """A warning: its code and label, what it concerns (`for`: condition and red-flag codes, as in a
    recommendation) and its message. `rules` (the rules or policies that raised it) stays in Python: the
    trace names them in the result."""

    code: str
    message: Text
    rules: tuple[str, ...] = ()
    for_: tuple[str, ...] = ()
    label: Text | None = None

    def to_dict(self, lang: str) -> dict:
        return {"code": self.code, "label": _said(self.label, self.message.pick(lang), lang),
                "for": list(self.for_), "message": self.message.pick(lang)}


def _said(label: Text | None, fallback: str, lang: str) -> str:
    return label.pick(lang) if label is not None else fallback


PROFILES = ("nice", "nhg")
DEFAULT_PROFILE = "nice"


@frozen
class KnowledgeBaseId:
    """Which knowledge ran: the manifest's version, the hash of the rule folder's bytes, and the guideline
    profile whose rules were kept (pathways.md, "Guideline profile")."""

    version: str
    sha256: str
    profile: str = DEFAULT_PROFILE

    def to_dict(self) -> dict:
        return {"version": self.version, "sha256": self.sha256, "profile": self.profile}


@frozen
class Result:
    """What the engine concluded for one case, in the contract's order."""

    case_id: str
    knowledge_base: KnowledgeBaseId
    red_flags: tuple[RedFlag, ...] = ()
    conditions: tuple[Condition, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    do_not: tuple[DoNot, ...] = ()
    warnings: tuple[Warning, ...] = ()
    trace: tuple[TraceEntry, ...] = ()
    status: str = "ok"
    # The engine that evaluated the case (durable | direct). Not part of the result's JSON, which is the
    # same byte for byte whichever engine made it; batch and audit summaries name the engine instead.
    engine: str = field(default="durable", eq=False)

    def to_dict(self, lang: str = "en", parts: "Parts | None" = None) -> dict:
        """The result as the contract's object. `parts` writes the item lists and the trace in it: plain
        dicts by default; a batch's writer gives pieces of JSON already rendered (cdss.io.result_json)."""
        parts = parts or PLAIN
        return {
            "case_id": self.case_id,
            "knowledge_base": self.knowledge_base.to_dict(),
            "status": self.status,
            "red_flags": parts.items(self.red_flags, lang),
            "conditions": parts.items(self.conditions, lang),
            "recommendations": parts.items(self.recommendations, lang),
            "do_not": parts.items(self.do_not, lang),
            "warnings": parts.items(self.warnings, lang),
            "trace": parts.trace(self.trace),
            "notice": DISCLAIMER["nl" if lang == "nl" else "en"],
        }


class Parts:
    """How Result.to_dict writes a result's item lists and its trace: as plain dicts."""

    @staticmethod
    def items(items: tuple, lang: str) -> list:
        return [item.to_dict(lang) for item in items]

    @staticmethod
    def trace(entries: tuple[TraceEntry, ...]) -> list:
        return list(map(TraceEntry.to_dict, entries))


PLAIN = Parts()


@frozen
class ErrorResult:
    """One case that could not be evaluated: where, and why. Batch writes it in the case's place."""

    case_id: str | None
    knowledge_base: KnowledgeBaseId
    file: str
    pointer: str
    message: str
    line: int | None = None
    status: str = "error"

    def to_dict(self, lang: str = "en") -> dict:
        error = {"file": self.file, "pointer": self.pointer, "message": self.message}
        if self.line is not None:
            error["line"] = self.line
        return {"case_id": self.case_id, "knowledge_base": self.knowledge_base.to_dict(),
                "status": "error", "error": error}
