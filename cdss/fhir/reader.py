"""FHIR resources to one case, as the mapping file says, with the resource behind every value.

Coded resources come first: the latest Observation of each field, any Condition (refuted = false), the
medication records, treatment trials, arthroplasties and imaging reports. The QuestionnaireResponse to the
cdss Questionnaire fills what they leave open (exam findings and everything else EHRs rarely code). The case
is then checked against the case schema; a value the schema refuses is reported at the resource and element
it came from, never at a case field the user did not write.
"""

from __future__ import annotations

import datetime as dt

from attrs import frozen

from cdss.errors import CaseError
from cdss.fhir import dates
from cdss.fhir.building import Builder, Candidate, Source
from cdss.fhir.mapping import Mapping
from cdss.fhir.parse import FhirError, Parsed, Resource
from cdss.fhir.readers.conditions import read_condition
from cdss.fhir.readers.imaging import read_imaging_study, read_report
from cdss.fhir.readers.medications import read_medication
from cdss.fhir.readers.observations import read_observation
from cdss.fhir.readers.patient import read_patient
from cdss.fhir.readers.procedures import read_procedure
from cdss.fhir.readers.responses import read_responses
from cdss.io import cases
from cdss.kb.fields import field_catalogue
from cdss.model import Case


SUBJECTS = ("subject", "patient")


@frozen
class Mapped:
    """One input read as a case: the case (its provenance inside), the resource types ignored (counted),
    and notes on resources the mapping knows but could not use (no patient values in them)."""

    case: Case
    ignored: dict
    notes: tuple[str, ...]
    as_of: dt.date


def _patient(parsed: Parsed, origin: str) -> Resource:
    patients = [r for r in parsed.resources if r.type == "Patient"]
    if not patients:
        raise FhirError(origin, "", "no Patient resource; a FHIR input holds one patient's Patient resource "
                                    "and their data (age and sex come from it)")
    ids = {p.id for p in patients}
    if len(ids) > 1:
        raise FhirError(origin, patients[1].pointer, f"{len(ids)} different Patient resources "
                                                      f"({', '.join(sorted(str(i) for i in ids))}); one input holds one patient")
    return patients[0]


def _as_of(parsed: Parsed, origin: str, as_of: dt.date | None) -> dt.date:
    if as_of is not None:
        return as_of
    if parsed.timestamp is not None:
        moment = dates.parse(parsed.timestamp)
        if moment is None:
            raise FhirError(origin, "/timestamp", f"not a FHIR instant: {parsed.timestamp[:40]!r}")
        return moment.date()
    return dt.datetime.now(dates.UTC).date()


def to_case(parsed: Parsed, mapping: Mapping, origin: str, as_of: dt.date | None = None,
            line: int | None = None) -> Mapped:
    """The case of one input (a Bundle, a prefetch, a patient of a bulk export)."""
    patient = _patient(parsed, origin)
    builder = Builder(mapping, origin, _as_of(parsed, origin, as_of), {patient.id} if patient.id else set())
    read_patient(builder, patient)
    medications = {r.id: r for r in parsed.resources if r.type == "Medication" and r.id}
    readers = {"Observation": read_observation, "Condition": read_condition,
               "MedicationStatement": read_medication, "MedicationRequest": read_medication,
               "Procedure": read_procedure, "DiagnosticReport": read_report, "ImagingStudy": read_imaging_study}
    responses = []
    for resource in parsed.resources:
        if resource.type in ("Patient", "Medication"):
            continue
        _check_subject(builder, resource)
        if resource.type == "QuestionnaireResponse":
            responses.append(resource)
            continue
        if resource.type in ("MedicationStatement", "MedicationRequest"):
            read_medication(builder, resource, medications)
        else:
            readers[resource.type](builder, resource)
    read_responses(builder, responses)
    if "patient.age_years" not in builder.values:
        raise FhirError(origin, patient.pointer + "/birthDate",
                        f"{patient.ref}: no birthDate (nor a questionnaire answer to patient.age_years): "
                        "a case needs the patient's age")
    case_id = _case_id(parsed, patient, origin)
    data, provenance = _assemble(builder, case_id)
    try:
        cases.validate(data, origin if line is None else f"{origin}:{line}")
    except CaseError as error:
        raise _blame(error, provenance, origin) from None
    case = Case(id=case_id, data=data, source=origin, line=line, provenance=tuple(provenance))
    return Mapped(case, parsed.ignored, tuple(builder.notes), builder.as_of)


def _case_id(parsed: Parsed, patient: Resource, origin: str) -> str:
    import re
    pattern = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
    if parsed.identifier is not None:
        if not pattern.fullmatch(parsed.identifier):
            raise FhirError(origin, "/identifier/value", f"the Bundle's identifier {parsed.identifier[:70]!r} is not "
                                                         "a valid case id (letters, digits, . _ -; at most 64)")
        return parsed.identifier
    if patient.id and pattern.fullmatch(patient.id):
        return patient.id
    raise FhirError(origin, patient.pointer + "/id", "the Patient has no id (and the Bundle no identifier) to name the case by")


def _check_subject(builder: Builder, resource: Resource) -> None:
    for name in SUBJECTS:
        ref = resource.data.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            text = ref["reference"]
            if text.startswith("Patient/") and builder.patient_ids and text.split("/", 2)[1] not in builder.patient_ids:
                raise FhirError(builder.origin, f"{resource.pointer}/{name}/reference",
                                f"{resource.ref}: {name} refers to {text}, not to this input's Patient")
            return


def _assemble(builder: Builder, case_id: str) -> tuple[dict, list]:
    """The case dict, its fields in the case schema's order, and (pointer, Source) for every value."""
    data: dict = {"id": case_id}
    provenance: list[tuple[str, Source]] = []
    flat = dict(builder.values)
    if builder.prostheses or builder.prostheses_answered is not None:
        codes = list(dict.fromkeys(code for code, _ in builder.prostheses))
        first = builder.prostheses[0][1] if builder.prostheses else builder.prostheses_answered
        flat[builder.mapping.prosthesis_field] = Candidate(codes, (0,), first)
    for study, candidate in builder.studies.items():
        flat[f"imaging.{study}.findings"] = candidate
    for path in field_catalogue():
        candidate = flat.get(path)
        if candidate is None:
            continue
        node = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = candidate.value
        provenance.append(("/" + "/".join(parts), candidate.source))
    if builder.trials:
        data["treatments"] = [trial for trial, _ in builder.trials]
        provenance.extend((f"/treatments/{n}", source) for n, (_, source) in enumerate(builder.trials))
    return data, provenance


def _blame(error: CaseError, provenance: list, origin: str) -> FhirError:
    """A case-schema error, told at the resource and element that gave the value."""
    best = None
    for pointer, source in provenance:
        if error.pointer == pointer or error.pointer.startswith(pointer + "/") or pointer.startswith(error.pointer + "/"):
            if best is None or len(pointer) > len(best[0]):
                best = (pointer, source)
    if best is None:
        return FhirError(origin, error.pointer, f"the case it maps to: {error.message}")
    pointer, source = best
    return FhirError(origin, source.pointer,
                     f"{source.ref}: {source.element} (case field {pointer[1:].replace('/', '.')}): {error.message}")
