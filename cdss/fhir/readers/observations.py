"""Observations by LOINC (and the mapping's other codes): the latest of each field, converted to the case's unit."""

from __future__ import annotations

from typing import Any

from cdss.fhir.building import SKIPPED_STATUS, Builder, source_of, status_of, time_key
from cdss.fhir.mapping import ObservationEntry
from cdss.fhir.parse import FhirError, Resource
from cdss.fhir.paths import compile_path


def _unit_of(quantity: dict) -> str:
    code = quantity.get("code")
    if isinstance(code, str) and quantity.get("system") in (None, "http://unitsofmeasure.org"):
        return code
    unit = quantity.get("unit")
    return unit if isinstance(unit, str) else ""


def _convert(entry: ObservationEntry, quantity: dict, builder: Builder, resource: Resource, element: str):
    value = quantity.get("value")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    unit = _unit_of(quantity)
    if unit not in entry.units:
        raise FhirError(builder.origin, f"{resource.pointer}/{element.replace('.', '/')}",
                        f"{resource.ref}: {element}: unit {unit!r} is not one the mapping converts for "
                        f"{entry.field} (expected {', '.join(repr(u) for u in entry.units)})")
    conversion = entry.units[unit]
    if conversion == 1:
        return value
    if isinstance(conversion, dict):
        return round(value * conversion["factor"] + conversion["offset"], 2)
    return round(value * conversion, 4)


def _answer(builder: Builder, concept: Any) -> str | None:
    found = builder.mapping.answers.in_concept(concept)
    return found[0] if found else None


def read_observation(builder: Builder, resource: Resource) -> None:
    data = resource.data
    if status_of(data) in SKIPPED_STATUS:
        return
    entries = builder.mapping.observation_index.in_concept(data.get("code"))
    if not entries:
        builder.note(resource, "its code is not one the mapping reads")
        return
    key = time_key(data, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
    for entry in entries:
        if not builder.mapping.is_active(entry.field):
            continue
        value, element = _observation_value(builder, entry, resource)
        if value is None:
            continue
        builder.offer(entry.field, value, key, source_of(resource, element))
        if entry.upper_limit_field and entry.value == "quantity":
            for high in compile_path(entry.upper_limit_path)(data):
                if isinstance(high, dict):
                    limit = _convert(entry, high, builder, resource, entry.upper_limit_path)
                    if limit is not None:
                        builder.offer(entry.upper_limit_field, limit, key,
                                      source_of(resource, entry.upper_limit_path))
                    break


def _observation_value(builder: Builder, entry: ObservationEntry, resource: Resource) -> tuple[Any, str]:
    data = resource.data
    if entry.value == "quantity":
        if isinstance(data.get("valueQuantity"), dict):
            return _convert(entry, data["valueQuantity"], builder, resource, "valueQuantity"), "valueQuantity"
        for name in ("valueInteger", "valueDecimal"):
            if isinstance(data.get(name), (int, float)) and not isinstance(data.get(name), bool):
                return _convert(entry, {"value": data[name]}, builder, resource, name), name
        builder.note(resource, f"no quantity for {entry.field}")
        return None, ""
    if entry.value == "presence":
        if isinstance(data.get("valueBoolean"), bool):
            return ("positive" if data["valueBoolean"] else "negative"), "valueBoolean"
        answer = _answer(builder, data.get("valueCodeableConcept"))
        if answer in ("positive", "negative"):
            return answer, "valueCodeableConcept"
        if answer in ("low_positive", "high_positive"):
            return "positive", "valueCodeableConcept"
        builder.note(resource, f"no coded positive or negative result for {entry.field}")
        return None, ""
    # antibody: a coded level, or a titre graded against the lab's upper limit (ACR/EULAR 2010)
    answer = _answer(builder, data.get("valueCodeableConcept"))
    if answer is not None:
        return ("low_positive" if answer == "positive" else answer), "valueCodeableConcept"
    quantity = data.get("valueQuantity")
    if isinstance(quantity, dict):
        value = _convert(entry, quantity, builder, resource, "valueQuantity")
        highs = [h for h in compile_path("referenceRange.high")(data) if isinstance(h, dict)]
        limit = _convert(entry, highs[0], builder, resource, "referenceRange.high") if highs else None
        if value is None or not limit:
            builder.note(resource, f"a titre without the lab's upper limit cannot be graded for {entry.field}")
            return None, ""
        grade = "negative" if value <= limit else "low_positive" if value <= 3 * limit else "high_positive"
        return grade, "valueQuantity"
    builder.note(resource, f"no result for {entry.field}")
    return None, ""
