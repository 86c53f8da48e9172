"""FHIR resources to one case, as the mapping file says, with the resource behind every value.

Coded resources come first: the latest Observation of each field, any Condition (refuted = false), the
medication records, treatment trials, arthroplasties and imaging reports. The QuestionnaireResponse to the
cdss Questionnaire fills what they leave open (exam findings and everything else EHRs rarely code). The case
is then checked against the case schema; a value the schema refuses is reported at the resource and element
it came from, never at a case field the user did not write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from attrs import define, field, frozen

from cdss.errors import CaseError
from cdss.fhir import dates
from cdss.fhir.codes import codings
from cdss.fhir.mapping import Mapping, ObservationEntry
from cdss.fhir.parse import FhirError, Parsed, Resource
from cdss.fhir.paths import compile_path
from cdss.io import cases
from cdss.kb.fields import field_catalogue
from cdss.model import Case

SKIPPED_STATUS = {"entered-in-error", "cancelled", "not-done", "draft", "revoked"}
REPORT_STATUS_SKIPPED = {"entered-in-error", "cancelled", "registered", "partial"}
SUBJECTS = ("subject", "patient")


@frozen
class Source:
    """Where one case value came from: the resource (`Observation/crp-1`) and its element."""

    ref: str
    element: str  # a FHIRPath into the resource
    pointer: str  # JSON pointer of the element in the input


def _source(resource: Resource, element: str) -> Source:
    return Source(resource.ref, element, f"{resource.pointer}/{element.replace('.', '/')}")


@frozen
class Mapped:
    """One input read as a case: the case (its provenance inside), the resource types ignored (counted),
    and notes on resources the mapping knows but could not use (no patient values in them)."""

    case: Case
    ignored: dict
    notes: tuple[str, ...]
    as_of: dt.date


@define
class _Candidate:
    value: Any
    key: tuple
    source: Source


@define
class _Builder:
    mapping: Mapping
    origin: str
    as_of: dt.date
    patient_ids: set
    values: dict = field(factory=dict)  # field -> _Candidate
    trials: list = field(factory=list)  # (trial dict, Source)
    prostheses: list = field(factory=list)  # (code, Source)
    prostheses_answered: Source | None = None  # the questionnaire's answer, [] included
    studies: dict = field(factory=dict)  # study -> _Candidate (findings list)
    notes: list = field(factory=list)

    def offer(self, path: str, value: Any, key: tuple, source: Source, prefer=None) -> None:
        """A value for a field; the latest (highest key) wins, or the one `prefer` picks."""
        if not self.mapping.is_active(path):
            return
        held = self.values.get(path)
        candidate = _Candidate(value, key, source)
        if held is None:
            self.values[path] = candidate
        elif prefer is not None:
            self.values[path] = prefer(held, candidate)
        elif key > held.key:
            self.values[path] = candidate

    def note(self, resource: Resource, text: str) -> None:
        self.notes.append(f"{resource.ref}: {text}")


def _time_key(resource: dict, *elements: str) -> tuple:
    for name in elements:
        value = resource.get(name)
        if isinstance(value, dict):  # a Period: its end, else its start
            value = value.get("end") or value.get("start")
        moment = dates.parse(value)
        if moment is not None:
            return (moment.timestamp(), resource.get("id") or "")
    return (float("-inf"), resource.get("id") or "")


def _status(resource: dict) -> str:
    status = resource.get("status")
    return status if isinstance(status, str) else ""


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
    builder = _Builder(mapping, origin, _as_of(parsed, origin, as_of), {patient.id} if patient.id else set())
    _read_patient(builder, patient)
    medications = {r.id: r for r in parsed.resources if r.type == "Medication" and r.id}
    readers = {"Observation": _read_observation, "Condition": _read_condition,
               "MedicationStatement": _read_medication, "MedicationRequest": _read_medication,
               "Procedure": _read_procedure, "DiagnosticReport": _read_report, "ImagingStudy": _read_imaging_study}
    responses = []
    for resource in parsed.resources:
        if resource.type in ("Patient", "Medication"):
            continue
        _check_subject(builder, resource)
        if resource.type == "QuestionnaireResponse":
            responses.append(resource)
            continue
        if resource.type in ("MedicationStatement", "MedicationRequest"):
            _read_medication(builder, resource, medications)
        else:
            readers[resource.type](builder, resource)
    _read_responses(builder, responses)
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


def _check_subject(builder: _Builder, resource: Resource) -> None:
    for name in SUBJECTS:
        ref = resource.data.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            text = ref["reference"]
            if text.startswith("Patient/") and builder.patient_ids and text.split("/", 2)[1] not in builder.patient_ids:
                raise FhirError(builder.origin, f"{resource.pointer}/{name}/reference",
                                f"{resource.ref}: {name} refers to {text}, not to this input's Patient")
            return


# ------------------------------------------------------------------------------------------ Patient

def _read_patient(builder: _Builder, patient: Resource) -> None:
    data = patient.data
    birth = data.get("birthDate")
    if birth is not None:
        born = dates.parse(birth)
        if born is None:
            raise FhirError(builder.origin, patient.pointer + "/birthDate", f"{patient.ref}: birthDate: not a FHIR date")
        if born.date() > builder.as_of:
            raise FhirError(builder.origin, patient.pointer + "/birthDate",
                            f"{patient.ref}: birthDate {birth} is after the evaluation date {builder.as_of}")
        builder.offer("patient.age_years", dates.age_years(born.date(), builder.as_of), (0,),
                      _source(patient, "birthDate"))
    gender = data.get("gender")
    if gender is not None:
        sex = builder.mapping.sex_values.get(gender)
        if sex is None:
            raise FhirError(builder.origin, patient.pointer + "/gender",
                            f"{patient.ref}: gender: expected one of {', '.join(builder.mapping.sex_values)}; got {gender!r}")
        builder.offer("patient.sex", sex, (0,), _source(patient, "gender"))


# -------------------------------------------------------------------------------------- Observation

def _unit_of(quantity: dict) -> str:
    code = quantity.get("code")
    if isinstance(code, str) and quantity.get("system") in (None, "http://unitsofmeasure.org"):
        return code
    unit = quantity.get("unit")
    return unit if isinstance(unit, str) else ""


def _convert(entry: ObservationEntry, quantity: dict, builder: _Builder, resource: Resource, element: str):
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


def _answer(builder: _Builder, concept: Any) -> str | None:
    found = builder.mapping.answers.in_concept(concept)
    return found[0] if found else None


def _read_observation(builder: _Builder, resource: Resource) -> None:
    data = resource.data
    if _status(data) in SKIPPED_STATUS:
        return
    entries = builder.mapping.observation_index.in_concept(data.get("code"))
    if not entries:
        builder.note(resource, "its code is not one the mapping reads")
        return
    key = _time_key(data, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
    for entry in entries:
        if not builder.mapping.is_active(entry.field):
            continue
        value, element = _observation_value(builder, entry, resource)
        if value is None:
            continue
        builder.offer(entry.field, value, key, _source(resource, element))
        if entry.upper_limit_field and entry.value == "quantity":
            for high in compile_path(entry.upper_limit_path)(data):
                if isinstance(high, dict):
                    limit = _convert(entry, high, builder, resource, entry.upper_limit_path)
                    if limit is not None:
                        builder.offer(entry.upper_limit_field, limit, key,
                                      _source(resource, entry.upper_limit_path))
                    break


def _observation_value(builder: _Builder, entry: ObservationEntry, resource: Resource) -> tuple[Any, str]:
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


# --------------------------------------------------------------------------------------- Condition

def _true_wins(held: _Candidate, new: _Candidate) -> _Candidate:
    """Any Condition that is not refuted is evidence: true beats false, then the first stays."""
    return new if (new.value is True and held.value is False) else held


def _read_condition(builder: _Builder, resource: Resource) -> None:
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
        builder.offer(entry.field, value, (0,), _source(resource, element), _true_wins)


# ------------------------------------------------------------------------------------- Medications

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


def _period(data: dict) -> tuple[Any, Any]:
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


def _span_days(builder: _Builder, data: dict) -> float | None:
    start, end = _period(data)
    begun = dates.parse(start)
    if begun is None:
        return None
    ended = dates.parse(end) or dt.datetime.combine(builder.as_of, dt.time(), dates.UTC)
    return (ended - begun).total_seconds() / 86400


COURSE_RANK = {"none": 0, "short_course": 1, "long_term": 2}


def _longest(held: _Candidate, new: _Candidate) -> _Candidate:
    return new if COURSE_RANK[new.value] > COURSE_RANK[held.value] else held


def _read_medication(builder: _Builder, resource: Resource, medications: dict) -> None:
    data = resource.data
    status = _status(data)
    if status in SKIPPED_STATUS or data.get("doNotPerform") is True:
        return
    concept = _medication_concept(resource, medications)
    used = _read_trial(builder, resource, concept)
    entries = builder.mapping.medication_index.in_concept(concept)
    if not entries and not used:
        builder.note(resource, "its medication is not one the mapping reads")
    for entry in entries:
        source = _source(resource, "status" if status == "not-taken" else "medication")
        if entry.value == "use":
            builder.offer(entry.field, status != "not-taken", (0,), source, _true_wins)
        elif entry.value == "current_use":
            if status == "not-taken":
                builder.offer(entry.field, False, (0,), source, _true_wins)
            elif status in ("active", "intended", "on-hold"):
                builder.offer(entry.field, True, (0,), source, _true_wins)
        else:  # course
            if status == "not-taken":
                builder.offer(entry.field, "none", (0,), source, _longest)
                continue
            days = _span_days(builder, data)
            if days is None:
                builder.note(resource, f"no period to tell a short course from long-term use for {entry.field}")
                continue
            course = "long_term" if days >= entry.long_term_days else "short_course"
            builder.offer(entry.field, course, (0,), _source(resource, "effectivePeriod"), _longest)


def _extension_code(data: dict, url: str) -> str | None:
    for item in data.get("extension") or ():
        if isinstance(item, dict) and item.get("url") == url:
            value = item.get("valueCode")
            if value is None and isinstance(item.get("valueCoding"), dict):
                value = item["valueCoding"].get("code")
            return value if isinstance(value, str) else None
    return None


def _treatment_code(builder: _Builder, concept: Any) -> str | None:
    system = builder.mapping.system("cdss-treatment")
    for coding in codings(concept):
        if coding.get("system") == system and isinstance(coding.get("code"), str):
            return coding["code"]
    found = builder.mapping.treatment_index.in_concept(concept)
    return found[0] if len(found) == 1 else None


def _read_trial(builder: _Builder, resource: Resource, concept: Any) -> bool:
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
    start, end = _period(data)
    begun = dates.parse(start)
    if begun is None:
        builder.note(resource, f"a {code} record without a start date is not a trial")
        return True
    ended = dates.parse(end) or dt.datetime.combine(builder.as_of, dt.time(), dates.UTC)
    trial = {"code": code, "weeks": dates.weeks_between(begun, ended), "response": response}
    joint = _extension_code(data, mapping.joint_extension)
    if joint is not None:
        trial["joint"] = joint
    builder.trials.append((trial, _source(resource, "code")))
    return True


# ---------------------------------------------------------------------------------------- Procedure

def _read_procedure(builder: _Builder, resource: Resource) -> None:
    data = resource.data
    if _status(data) in SKIPPED_STATUS:
        return
    used = _read_trial(builder, resource, data.get("code"))
    joints = builder.mapping.prosthesis_joints.in_concept(data.get("code"))
    if not joints:
        if not used:
            builder.note(resource, "its code is not one the mapping reads")
        return
    sides = builder.mapping.prosthesis_sides.in_concept(data.get("bodySite"))
    if not sides:
        builder.note(resource, "an arthroplasty with no side in bodySite cannot say which joint is a prosthesis")
        return
    for joint in joints:
        for side in sides:
            for one in (("left", "right") if side == "both" else (side,)):
                builder.prostheses.append((f"{joint}_{one}", _source(resource, "bodySite")))


# ------------------------------------------------------------------------------------------ Imaging

def _study_of(builder: _Builder, concept: Any) -> str | None:
    found = builder.mapping.study_index.in_concept(concept)
    if found:
        return found[0]
    system = builder.mapping.system("cdss-study")
    for coding in codings(concept):
        if coding.get("system") == system and f"imaging.{coding.get('code')}" in field_catalogue():
            return coding["code"]
    return None


def _read_report(builder: _Builder, resource: Resource) -> None:
    data = resource.data
    if _status(data) in REPORT_STATUS_SKIPPED:
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
    key = _time_key(data, "effectiveDateTime", "effectivePeriod", "issued")
    candidate = _Candidate(findings, key, _source(resource, "conclusionCode"))
    held = builder.studies.get(study)
    if held is None or key > held.key:
        builder.studies[study] = candidate


def _read_imaging_study(builder: _Builder, resource: Resource) -> None:
    builder.note(resource, "an ImagingStudy says a study was done, not what it showed; its findings come from "
                           "a DiagnosticReport or the questionnaire")


# ------------------------------------------------------------------------------ QuestionnaireResponse

def _read_responses(builder: _Builder, responses: list[Resource]) -> None:
    from cdss.fhir.questionnaire import read_response

    responses.sort(key=lambda r: _time_key(r.data, "authored"), reverse=True)  # the latest answer first
    for resource in responses:
        answers = read_response(builder.mapping, resource, builder.origin)
        if answers is None:
            builder.note(resource, "it answers another questionnaire")
            continue
        for path, value, element, pointer in answers.fields:
            source = Source(resource.ref, element, resource.pointer + pointer)
            if path.startswith("imaging.") and path.endswith(".findings"):
                study = path.split(".")[1]
                if study not in builder.studies:
                    builder.studies[study] = _Candidate(value, (float("-inf"),), source)
                continue
            if path == builder.mapping.prosthesis_field:
                if not builder.prostheses and builder.prostheses_answered is None:
                    builder.prostheses.extend((code, source) for code in value)
                    builder.prostheses_answered = source
                continue
            if path not in builder.values:
                builder.values[path] = _Candidate(value, (float("-inf"),), source)
        if answers.trials and not builder.trials:
            builder.trials.extend((trial, Source(resource.ref, element, resource.pointer + pointer))
                                  for trial, element, pointer in answers.trials)


# -------------------------------------------------------------------------------------------- case

def _assemble(builder: _Builder, case_id: str) -> tuple[dict, list]:
    """The case dict, its fields in the case schema's order, and (pointer, Source) for every value."""
    data: dict = {"id": case_id}
    provenance: list[tuple[str, Source]] = []
    flat = dict(builder.values)
    if builder.prostheses or builder.prostheses_answered is not None:
        codes = list(dict.fromkeys(code for code, _ in builder.prostheses))
        first = builder.prostheses[0][1] if builder.prostheses else builder.prostheses_answered
        flat[builder.mapping.prosthesis_field] = _Candidate(codes, (0,), first)
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
