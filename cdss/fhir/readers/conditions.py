"""Conditions by SNOMED CT and ICD-10: present unless refuted (a true answer wins over a false one)."""

from __future__ import annotations

from cdss.fhir.building import Builder, source_of, true_wins
from cdss.fhir.codes import codings
from cdss.fhir.parse import Resource


def read_condition(builder: Builder, resource: Resource) -> None:
    data = resource.data
    verification = {c.get("code") for c in codings(data.get("verificationStatus"))}
    if "entered-in-error" in verification:
        return
    entries = builder.mapping.condition_index.in_concept(data.get("code"))
    if not entries:
        builder.note(resource, "its code is not one the mapping reads")
        return
    value = "refuted" not in verification
    element = "verificationStatus" if not value else "code"
    for entry in entries:
        builder.offer(entry.field, value, (0,), source_of(resource, element), true_wins)
