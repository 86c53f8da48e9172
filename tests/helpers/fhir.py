"""Building FHIR inputs in tests: Bundles of given resources, and the shipped example Bundles."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.paths import ROOT

EXAMPLES = ROOT / "examples" / "fhir"
VALUE = "https://cdss.example/fhir/CodeSystem/case-value"
QUESTIONNAIRE = "https://cdss.example/fhir/Questionnaire/cdss-case"


def example_paths() -> list[Path]:
    return sorted(EXAMPLES.glob("*.json"))


def bundle(*resources: dict, timestamp: str = "2026-03-15T10:00:00Z", patient: dict | None = None) -> dict:
    """A collection Bundle: a Patient (aged 60, female, unless given) and the resources."""
    patient = patient if patient is not None else {"resourceType": "Patient", "id": "p1", "gender": "female",
                                                   "birthDate": "1966-01-01"}
    entries = ([{"resource": patient}] if patient else []) + [{"resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": "collection", "timestamp": timestamp, "entry": entries}


def raw(data: dict) -> bytes:
    return json.dumps(data).encode()


def observation(code: str, rid: str = "o1", system: str = "http://loinc.org", **value) -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"coding": [{"system": system, "code": code}]}, "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2026-03-01", **value}


def quantity(value, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def response(*items: dict, rid: str = "qr1") -> dict:
    return {"resourceType": "QuestionnaireResponse", "id": rid, "status": "completed", "questionnaire": QUESTIONNAIRE,
            "subject": {"reference": "Patient/p1"}, "authored": "2026-03-15", "item": list(items)}


def answer(link: str, **value) -> dict:
    return {"linkId": link, "answer": [value]}


def coded(code: str) -> dict:
    return {"valueCoding": {"system": VALUE, "code": code}}


PREFETCH_KEYS = {"Observation": "observations", "Condition": "conditions", "MedicationStatement": "medicationStatements",
                 "MedicationRequest": "medicationRequests", "Procedure": "procedures",
                 "DiagnosticReport": "diagnosticReports", "QuestionnaireResponse": "questionnaireResponses"}


def hook_request(data: dict, hook: str = "patient-view", instance: str = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                 **context) -> dict:
    """A CDS Hooks request whose prefetch holds a Bundle's resources, keyed as cdss's discovery asks."""
    patient = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient")
    prefetch: dict = {"patient": patient}
    for key in PREFETCH_KEYS.values():
        prefetch[key] = None
    for entry in data["entry"]:
        key = PREFETCH_KEYS.get(entry["resource"]["resourceType"])
        if key:
            if prefetch[key] is None:
                prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
            prefetch[key]["entry"].append({"resource": entry["resource"]})
    return {"hook": hook, "hookInstance": instance, "context": {"userId": "Practitioner/1", "patientId": patient["id"], **context},
            "prefetch": prefetch}
