"""What every FHIR resource reader shares: the case being built (the latest value of each field wins, with
the resource and element it came from), and how resources say when and whether they count."""

from __future__ import annotations

from typing import Any
import datetime as dt

from attrs import define, field, frozen

from cdss.fhir import dates
from cdss.fhir.mapping import Mapping
from cdss.fhir.parse import Resource


SKIPPED_STATUS = {"entered-in-error", "cancelled", "not-done", "draft", "revoked"}
REPORT_STATUS_SKIPPED = {"entered-in-error", "cancelled", "registered", "partial"}


@frozen
class Source:
    """Where one case value came from: the resource (`Observation/crp-1`) and its element."""

    ref: str
    element: str  # a FHIRPath into the resource
    pointer: str  # JSON pointer of the element in the input


def source_of(resource: Resource, element: str) -> Source:
    return Source(resource.ref, element, f"{resource.pointer}/{element.replace('.', '/')}")


@define
class Candidate:
    value: Any
    key: tuple
    source: Source


@define
class Builder:
    mapping: Mapping
    origin: str
    as_of: dt.date
    patient_ids: set
    values: dict = field(factory=dict)  # field -> Candidate
    trials: list = field(factory=list)  # (trial dict, Source)
    prostheses: list = field(factory=list)  # (code, Source)
    prostheses_answered: Source | None = None  # the questionnaire's answer, [] included
    studies: dict = field(factory=dict)  # study -> Candidate (findings list)
    notes: list = field(factory=list)

    def offer(self, path: str, value: Any, key: tuple, source: Source, prefer=None) -> None:
        """A value for a field; the latest (highest key) wins, or the one `prefer` picks."""
        if not self.mapping.is_active(path):
            return
        held = self.values.get(path)
        candidate = Candidate(value, key, source)
        if held is None:
            self.values[path] = candidate
        elif prefer is not None:
            self.values[path] = prefer(held, candidate)
        elif key > held.key:
            self.values[path] = candidate

    def note(self, resource: Resource, text: str) -> None:
        self.notes.append(f"{resource.ref}: {text}")


def time_key(resource: dict, *elements: str) -> tuple:
    for name in elements:
        value = resource.get(name)
        if isinstance(value, dict):  # a Period: its end, else its start
            value = value.get("end") or value.get("start")
        moment = dates.parse(value)
        if moment is not None:
            return (moment.timestamp(), resource.get("id") or "")
    return (float("-inf"), resource.get("id") or "")


def status_of(resource: dict) -> str:
    status = resource.get("status")
    return status if isinstance(status, str) else ""


def true_wins(held: Candidate, new: Candidate) -> Candidate:
    """Any Condition that is not refuted is evidence: true beats false, then the first stays."""
    return new if (new.value is True and held.value is False) else held
