"""Medication records (long-term corticosteroids, bisphosphonates, anticoagulants) and the treatment trials
they record, with their weeks from the period they cover."""

from __future__ import annotations

from typing import Any
import datetime as dt

from cdss.fhir import dates
from cdss.fhir.building import SKIPPED_STATUS, Builder, Candidate, source_of, status_of, true_wins
from cdss.fhir.codes import codings
from cdss.fhir.parse import Resource


def _medication_concept(resource: Resource, medications: dict) -> Any:
    data = resource.data
    if isinstance(data.get("medicationCodeableConcept"), dict):
        return data["medicationCodeableConcept"]
    ref = data.get("medicationReference")
    if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
        text = ref["reference"]
        if text.startswith("#"):
            for contained in data.get("contained") or ():
                if isinstance(contained, dict) and contained.get("id") == text[1:]:
                    return contained.get("code")
        elif text.startswith("Medication/") and text[11:] in medications:
            return medications[text[11:]].data.get("code")
    return None


def period(data: dict) -> tuple[Any, Any]:
    for name in ("effectivePeriod", "performedPeriod"):
        if isinstance(data.get(name), dict):
            return data[name].get("start"), data[name].get("end")
    for name in ("effectiveDateTime", "performedDateTime", "authoredOn"):
        if isinstance(data.get(name), str):
            return data[name], None
    validity = (data.get("dispenseRequest") or {}).get("validityPeriod") if isinstance(data.get("dispenseRequest"), dict) else None
    if isinstance(validity, dict):
        return validity.get("start"), validity.get("end")
    return None, None


def _span_days(builder: Builder, data: dict) -> float | None:
    start, end = period(data)
    begun = dates.parse(start)
    if begun is None:
        return None
    ended = dates.parse(end) or dt.datetime.combine(builder.as_of, dt.time(), dates.UTC)
    return (ended - begun).total_seconds() / 86400


COURSE_RANK = {"none": 0, "short_course": 1, "long_term": 2}


def _longest(held: Candidate, new: Candidate) -> Candidate:
    return new if COURSE_RANK[new.value] > COURSE_RANK[held.value] else held


def read_medication(builder: Builder, resource: Resource, medications: dict) -> None:
    data = resource.data
    status = status_of(data)
    if status in SKIPPED_STATUS or data.get("doNotPerform") is True:
        return
    concept = _medication_concept(resource, medications)
    used = read_trial(builder, resource, concept)
    entries = builder.mapping.medication_index.in_concept(concept)
    if not entries and not used:
        builder.note(resource, "its medication is not one the mapping reads")
    for entry in entries:
        source = source_of(resource, "status" if status == "not-taken" else "medication")
        if entry.value == "use":
            builder.offer(entry.field, status != "not-taken", (0,), source, true_wins)
        elif entry.value == "current_use":
            if status == "not-taken":
                builder.offer(entry.field, False, (0,), source, true_wins)
            elif status in ("active", "intended", "on-hold"):
                builder.offer(entry.field, True, (0,), source, true_wins)
        else:  # course
            if status == "not-taken":
                builder.offer(entry.field, "none", (0,), source, _longest)
                continue
            days = _span_days(builder, data)
            if days is None:
                builder.note(resource, f"no period to tell a short course from long-term use for {entry.field}")
                continue
            course = "long_term" if days >= entry.long_term_days else "short_course"
            builder.offer(entry.field, course, (0,), source_of(resource, "effectivePeriod"), _longest)


def _extension_code(data: dict, url: str) -> str | None:
    for item in data.get("extension") or ():
        if isinstance(item, dict) and item.get("url") == url:
            value = item.get("valueCode")
            if value is None and isinstance(item.get("valueCoding"), dict):
                value = item["valueCoding"].get("code")
            return value if isinstance(value, str) else None
    return None


def _treatment_code(builder: Builder, concept: Any) -> str | None:
    system = builder.mapping.system("cdss-treatment")
    for coding in codings(concept):
        if coding.get("system") == system and isinstance(coding.get("code"), str):
            return coding["code"]
    found = builder.mapping.treatment_index.in_concept(concept)
    return found[0] if len(found) == 1 else None


def read_trial(builder: Builder, resource: Resource, concept: Any) -> bool:
    """A treatment trial, when the record names one treatment and carries its response."""
    code = _treatment_code(builder, concept)
    if code is None:
        return False
    data = resource.data
    mapping = builder.mapping
    response = _extension_code(data, mapping.response_extension)
    if response is None:
        builder.note(resource, f"a {code} record without the treatment-response extension is not a trial")
        return True
    start, end = period(data)
    begun = dates.parse(start)
    if begun is None:
        builder.note(resource, f"a {code} record without a start date is not a trial")
        return True
    ended = dates.parse(end) or dt.datetime.combine(builder.as_of, dt.time(), dates.UTC)
    trial = {"code": code, "weeks": dates.weeks_between(begun, ended), "response": response}
    joint = _extension_code(data, mapping.joint_extension)
    if joint is not None:
        trial["joint"] = joint
    builder.trials.append((trial, source_of(resource, "code")))
    return True
