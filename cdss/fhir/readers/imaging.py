"""DiagnosticReports and ImagingStudies: the study done and its coded findings."""

from __future__ import annotations

from typing import Any

from cdss.fhir.building import REPORT_STATUS_SKIPPED, Builder, Candidate, source_of, status_of, time_key
from cdss.fhir.codes import codings
from cdss.fhir.parse import Resource
from cdss.kb.fields import field_catalogue


def _study_of(builder: Builder, concept: Any) -> str | None:
    found = builder.mapping.study_index.in_concept(concept)
    if found:
        return found[0]
    system = builder.mapping.system("cdss-study")
    for coding in codings(concept):
        if coding.get("system") == system and f"imaging.{coding.get('code')}" in field_catalogue():
            return coding["code"]
    return None


def read_report(builder: Builder, resource: Resource) -> None:
    data = resource.data
    if status_of(data) in REPORT_STATUS_SKIPPED:
        return
    study = _study_of(builder, data.get("code"))
    if study is None:
        builder.note(resource, "its code is not an imaging study the mapping reads")
        return
    if not builder.mapping.is_active(f"imaging.{study}"):
        return
    allowed = field_catalogue().get(f"imaging.{study}.findings", {}).get("items", {}).get("enum", [])
    finding_system = builder.mapping.system("cdss-finding")
    findings: list[str] = []
    for concept in data.get("conclusionCode") or ():
        names = builder.mapping.finding_index.in_concept(concept)
        names += [c["code"] for c in codings(concept) if c.get("system") == finding_system and c.get("code") not in names]
        name = next((n for n in names if n in allowed), None)
        if name is None:
            builder.note(resource, f"a conclusion code that is not a finding of {study}")
        elif name not in findings:
            findings.append(name)
    if not findings:
        builder.note(resource, f"a {study} report without coded findings (conclusionCode)")
        return
    key = time_key(data, "effectiveDateTime", "effectivePeriod", "issued")
    candidate = Candidate(findings, key, source_of(resource, "conclusionCode"))
    held = builder.studies.get(study)
    if held is None or key > held.key:
        builder.studies[study] = candidate


def read_imaging_study(builder: Builder, resource: Resource) -> None:
    builder.note(resource, "an ImagingStudy says a study was done, not what it showed; its findings come from "
                           "a DiagnosticReport or the questionnaire")
