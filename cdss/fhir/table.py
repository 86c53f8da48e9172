"""The mapping as a table a person reads (field -> FHIR resource and code): `cdss fhir mapping` and the README."""

from __future__ import annotations

from cdss.fhir.mapping import Mapping
from cdss.kb.fields import field_catalogue

VALUE_WORDS = {
    "quantity": "valueQuantity",
    "antibody": "titre vs referenceRange.high (high > 3x), or coded",
    "presence": "coded positive / negative",
    "use": "any record = true; not-taken = false",
    "current_use": "active = true; not-taken = false",
    "course": "long-term if >= {days} days, else short course; not-taken = none",
}


def rows(mapping: Mapping) -> list[dict]:
    """One row per case field the coded resources give; the rest come from the QuestionnaireResponse."""
    out: list[dict] = []

    def add(field: str, resource: str, codes, how: str) -> None:
        out.append({"field": field, "resource": resource, "codes": [str(c) for c in codes], "how": how,
                    "active": field.split("[")[0] in field_catalogue() or field == "treatments[]"})

    add("patient.age_years", "Patient", [], "birthDate, at the evaluation date (Bundle.timestamp or --as-of)")
    add("patient.sex", "Patient", [], "gender")
    for entry in mapping.observations:
        units = ", ".join(k for k in entry.units if k)
        add(entry.field, "Observation", entry.codes, VALUE_WORDS[entry.value] + (f" ({units})" if units else ""))
        if entry.upper_limit_field:
            add(entry.upper_limit_field, "Observation", entry.codes, entry.upper_limit_path)
    for entry in mapping.conditions:
        add(entry.field, "Condition", entry.codes, "present = true; verificationStatus refuted = false")
    for entry in mapping.medications:
        add(entry.field, "MedicationStatement, MedicationRequest", entry.codes,
            VALUE_WORDS[entry.value].format(days=entry.long_term_days))
    treatment_codes = [mapping.cdss_code("cdss-treatment", "<code>")]
    add("treatments[]", "MedicationStatement, MedicationRequest, Procedure", treatment_codes,
        "weeks from effectivePeriod / performedPeriod; response and joint extensions")
    joints = mapping.prosthesis_codes
    add(mapping.prosthesis_field, "Procedure", list(joints["hip"]) + list(joints["knee"]),
        "arthroplasty; side from a laterality code in bodySite")
    for study, codes in mapping.study_codes.items():
        add(f"imaging.{study}.findings", "DiagnosticReport", codes, "conclusionCode")
    return out


NAMES = {"loinc": "LOINC", "sct": "SNOMED CT", "icd10": "ICD-10", "atc": "ATC"}


def _shown(code: str) -> str:
    """`loinc|1988-5` as LOINC 1988-5 (a `|` would split a Markdown table cell)."""
    alias, _, value = code.partition("|")
    return f"{NAMES.get(alias, alias)} {value}"


def markdown(mapping: Mapping) -> str:
    lines = ["| case field | FHIR resource | codes | element, value |", "|---|---|---|---|"]
    for row in rows(mapping):
        codes = ", ".join(_shown(c) for c in row["codes"]) or "-"
        note = "" if row["active"] else " (once the case schema has this field)"
        lines.append(f"| `{row['field']}` | {row['resource']} | {codes} | {row['how']}{note} |")
    lines.append("| every other field (exam findings, history, ...) | QuestionnaireResponse | "
                 f"`{mapping.questionnaire_url}` | item linkId = the field's path |")
    return "\n".join(lines) + "\n"
