"""A case written as a FHIR R4 Bundle: the inverse of the mapping, for `cdss synth --format fhir` and the
round-trip tests.

A value goes into a coded resource only through a mapping entry marked `exact` (one that says the same as
the field: a diabetes Condition is `systemic.diabetes: true`, a refuted one false); treatment trials,
arthroplasties and imaging findings have their own resources; everything else is an answer in a
QuestionnaireResponse to the cdss Questionnaire, as an examining clinician would record it. Reading the
Bundle back gives the same case (tests/test_fhir_roundtrip.py).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

from cdss import resources
from cdss.fhir import dates
from cdss.fhir.mapping import Mapping
from cdss.fhir.questionnaire import NONE_OF_THESE, schema_version
from cdss.kb.fields import field_catalogue

DEFAULT_AS_OF = dt.date(2026, 1, 1)
NAMESPACE = uuid.UUID("6f1c4e2a-3b1d-5c8e-9a7f-2d4b6e8a0c13")
SKIP = ("id", "expected", "treatments")


def fhir_id(text: str) -> str:
    """A FHIR id ([A-Za-z0-9.-], at most 64) from a case id, which may also hold '_'."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64] or "case"


def _leaves(data: dict, prefix: str = ""):
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if prefix == "" and key in SKIP:
            continue
        if isinstance(value, dict):
            yield from _leaves(value, path)
        else:
            yield path, value


class _Writer:
    def __init__(self, mapping: Mapping, case: dict, as_of: dt.date):
        self.mapping = mapping
        self.case = case
        self.as_of = as_of
        self.moment = dt.datetime.combine(as_of, dt.time(), dates.UTC)
        self.patient_id = fhir_id(case["id"])
        self.entries: list[dict] = []
        self.answers: dict[str, object] = {}  # field -> value, for the QuestionnaireResponse
        self.trials: list[dict] = []  # trials for the QuestionnaireResponse
        self.counter = 0
        self.observations = {e.field: e for e in reversed(mapping.observations) if e.exact and mapping.is_active(e.field)}
        self.limits = {e.upper_limit_field: e for e in mapping.observations
                       if e.exact and e.upper_limit_field and mapping.is_active(e.upper_limit_field)}
        self.conditions = {e.field: e for e in reversed(mapping.conditions) if e.exact and mapping.is_active(e.field)}
        self.medications = {e.field: e for e in reversed(mapping.medications) if e.exact and mapping.is_active(e.field)}

    def add(self, resource: dict, prefix: str) -> None:
        self.counter += 1
        resource_id = f"{prefix}-{self.counter}"
        body = {"resourceType": resource.pop("resourceType"), "id": resource_id}
        body.update(resource)
        full = uuid.uuid5(NAMESPACE, f"{self.case['id']}/{resource_id}")
        self.entries.append({"fullUrl": f"urn:uuid:{full}", "resource": body})

    @property
    def subject(self) -> dict:
        return {"reference": f"Patient/{self.patient_id}"}

    def code(self, codes) -> dict:
        first = next((c for c in codes if not c.prefix), codes[0])
        return {"coding": [first.coding()]}

    def value_concept(self, answer: str) -> dict:
        return {"coding": [self.mapping.cdss_code("cdss-value", answer).coding()]}

    # -- the resources ---------------------------------------------------------------------------
    def patient(self) -> None:
        patient = self.case["patient"]
        resource: dict = {"resourceType": "Patient"}
        resource["gender"] = patient["sex"] if "sex" in patient else None
        born = dates.minus_years(self.as_of, patient["age_years"])
        resource["birthDate"] = born.isoformat()
        if resource["gender"] is None:
            del resource["gender"]
        self.entries.append({"fullUrl": f"urn:uuid:{uuid.uuid5(NAMESPACE, self.case['id'] + '/patient')}",
                             "resource": {"resourceType": "Patient", "id": self.patient_id,
                                          **{k: v for k, v in resource.items() if k != "resourceType"}}})

    def observation(self, path: str, value) -> None:
        entry = self.observations[path]
        resource: dict = {"resourceType": "Observation", "status": "final", "code": self.code(entry.codes),
                          "subject": self.subject, "effectiveDateTime": dates.iso(self.moment)}
        if entry.value == "quantity":
            unit = next(iter(entry.units))
            resource["valueQuantity"] = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
            limit = self.case_value(entry.upper_limit_field) if entry.upper_limit_field else None
            if limit is not None:
                resource["referenceRange"] = [{"high": {"value": limit, "unit": unit,
                                                        "system": "http://unitsofmeasure.org", "code": unit}}]
        else:
            resource["valueCodeableConcept"] = self.value_concept(value)
        self.add(resource, "obs")

    def condition(self, path: str, value: bool) -> None:
        entry = self.conditions[path]
        resource: dict = {"resourceType": "Condition"}
        verification = "confirmed" if value else "refuted"
        if value:
            resource["clinicalStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                      "code": "active"}]}
        resource["verificationStatus"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                                      "code": verification}]}
        resource["code"] = self.code(entry.codes)
        resource["subject"] = self.subject
        self.add(resource, "cond")

    def medication(self, path: str, value) -> None:
        entry = self.medications[path]
        resource: dict = {"resourceType": "MedicationStatement"}
        if entry.value == "course":
            if value == "none":
                resource["status"] = "not-taken"
            elif value == "long_term":
                resource["status"] = "active"
                resource["effectivePeriod"] = {"start": dates.iso(self.moment - dt.timedelta(days=entry.long_term_days + 30))}
            else:
                resource["status"] = "completed"
                resource["effectivePeriod"] = {"start": dates.iso(self.moment - dt.timedelta(days=14)),
                                               "end": dates.iso(self.moment - dt.timedelta(days=7))}
        elif entry.value == "current_use":
            resource["status"] = "active" if value else "not-taken"
        else:
            resource["status"] = "completed" if value else "not-taken"
        resource["medicationCodeableConcept"] = self.code(entry.codes)
        resource["subject"] = self.subject
        self.add(resource, "med")

    def start_of(self, trial: dict) -> dt.datetime:
        return self.moment - dt.timedelta(seconds=round(trial["weeks"] * dates.WEEK_SECONDS))

    def codable(self, trial: dict) -> bool:
        """Whether a period (whole seconds, back from the evaluation date) gives the trial's weeks back exactly."""
        try:
            return dates.weeks_between(self.start_of(trial), self.moment) == trial["weeks"]
        except (OverflowError, ValueError):
            return False

    def trial(self, trial: dict) -> None:
        mapping = self.mapping
        code = {"coding": [mapping.cdss_code("cdss-treatment", trial["code"]).coding()]}
        start = self.start_of(trial)
        period = {"start": dates.iso(start), "end": dates.iso(self.moment)}
        extensions = [{"url": mapping.response_extension, "valueCode": trial["response"]}]
        if "joint" in trial:
            extensions.append({"url": mapping.joint_extension, "valueCode": trial["joint"]})
        category = resources.vocabulary().get("recommendations", {}).get(trial["code"], {}).get("category")
        if category == "pharmacological":
            resource = {"resourceType": "MedicationStatement", "extension": extensions, "status": "completed",
                        "medicationCodeableConcept": code, "subject": self.subject, "effectivePeriod": period}
            self.add(resource, "med")
        else:
            resource = {"resourceType": "Procedure", "extension": extensions, "status": "completed", "code": code,
                        "subject": self.subject, "performedPeriod": period}
            self.add(resource, "proc")

    def prosthesis(self, joint_side: str) -> None:
        joint, side = joint_side.split("_")
        codes = self.mapping.prosthesis_codes
        resource = {"resourceType": "Procedure", "status": "completed", "code": self.code(codes[joint]),
                    "subject": self.subject, "bodySite": [self.code(codes[side])]}
        self.add(resource, "proc")

    def report(self, study: str, findings: list) -> None:
        mapping = self.mapping
        resource = {"resourceType": "DiagnosticReport", "status": "final", "code": self.code(mapping.study_codes[study]),
                    "subject": self.subject, "effectiveDateTime": dates.iso(self.moment),
                    "conclusionCode": [{"coding": [mapping.cdss_code("cdss-finding", f).coding()]} for f in findings]}
        self.add(resource, "report")

    def case_value(self, path: str):
        node = self.case
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    # -- the plan --------------------------------------------------------------------------------
    def write(self) -> dict:
        self.patient()
        for path, value in _leaves(self.case):
            if path in ("patient.age_years", "patient.sex"):
                continue
            if path in self.observations:
                self.observation(path, value)
            elif path in self.limits and self.case_value(self.limits[path].field) is not None:
                continue  # written as the reference range of its observation
            elif path in self.conditions and isinstance(value, bool):
                self.condition(path, value)
            elif path in self.medications:
                self.medication(path, value)
            elif path == self.mapping.prosthesis_field and value and self.mapping.is_active(path):
                for joint_side in value:
                    self.prosthesis(joint_side)
            elif path.startswith("imaging.") and path.endswith(".findings") and self.mapping.is_active(path.rsplit(".", 1)[0]):
                self.report(path.split(".")[1], value)
            else:
                self.answers[path] = value
        trials = self.case.get("treatments", ())
        if all(self.codable(trial) for trial in trials):
            for trial in trials:
                self.trial(trial)
        else:  # one trial a period cannot hold: all go to the questionnaire, so their order stays
            self.trials = list(trials)
        if self.answers or self.trials:
            self.add(self.response(), "qr")
        return {
            "resourceType": "Bundle",
            "id": fhir_id(self.case["id"]),
            "identifier": {"system": self.mapping.case_id_system, "value": self.case["id"]},
            "type": "collection",
            "timestamp": dates.iso(self.moment),
            "entry": self.entries,
        }

    def response(self) -> dict:
        catalogue = field_catalogue()
        root: list = []
        groups: dict[str, dict] = {}

        def group(path: str) -> list:
            if path in groups:
                return groups[path]["item"]
            parent = root if "." not in path else group(path.rsplit(".", 1)[0])
            node = {"linkId": path, "item": []}
            parent.append(node)
            groups[path] = node
            return node["item"]

        for path, value in self.answers.items():
            spec = catalogue[path]
            group(path.rsplit(".", 1)[0]).append({"linkId": path, "answer": self.answer(spec, value)})
        parts = catalogue["treatments"]["items"]["properties"]
        for trial in self.trials:
            root.append({"linkId": "treatments", "item": [
                {"linkId": f"treatments.{name}", "answer": self.answer(parts[name], value)} for name, value in trial.items()]})
        return {"resourceType": "QuestionnaireResponse",
                "questionnaire": f"{self.mapping.questionnaire_url}|{schema_version()}",
                "status": "completed", "subject": self.subject, "authored": dates.iso(self.moment), "item": root}

    def answer(self, spec: dict, value) -> list:
        if isinstance(value, list):
            values = value or [NONE_OF_THESE]
            return [{"valueCoding": self.mapping.cdss_code("cdss-value", v).coding()} for v in values]
        if "enum" in spec:
            return [{"valueCoding": self.mapping.cdss_code("cdss-value", value).coding()}]
        if isinstance(value, bool):
            return [{"valueBoolean": value}]
        if spec.get("type") == "integer":
            return [{"valueInteger": value}]
        return [{"valueDecimal": value}]


def to_bundle(case: dict, mapping: Mapping, as_of: dt.date = DEFAULT_AS_OF) -> dict:
    """The Bundle (type collection) of one validated case, its evaluation date in `timestamp`."""
    return _Writer(mapping, case, as_of).write()
