"""FHIR R4 in: the mapping file, the Questionnaire, reading Bundles into cases with the resource behind every
value, and one clear error (resource and element) for every FHIR input that cannot be a case."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cdss.cli import main
from cdss.engine import evaluate
from cdss.fhir import bundles, mapping, provenance, questionnaire
from cdss.fhir.parse import FhirError, MAX_BUNDLE_BYTES
from cdss.fhir.paths import compile_path
from cdss.fhir.texts import field_text
from cdss.io import cases, render
from cdss.kb.fields import field_catalogue
from tests.helpers.fhir import (answer, bundle, coded, example_paths, observation, quantity, raw, response)
from tests.helpers.paths import CASES, ROOT


def read(data: dict, **options):
    return bundles.read(raw(data), "test.json", **options)


def case_of(*resources, **options) -> dict:
    return read(bundle(*resources), **options).case.data


def error_of(data: dict) -> FhirError:
    with pytest.raises(FhirError) as caught:
        read(data)
    return caught.value


# ------------------------------------------------------------------------------------- the mapping

def test_mapping_fields_are_case_fields_or_pending():
    loaded = mapping.shipped()
    catalogue = field_catalogue()
    for field in loaded.pending:
        assert field not in catalogue
    entries = [e.field for e in loaded.observations + loaded.conditions + loaded.medications]
    assert set(entries) - set(loaded.pending) <= set(catalogue)


def test_a_field_the_schema_lacks_maps_nothing_until_it_has_it(tmp_path):
    """Adding a contract field is data only: an entry for a field the schema lacks is pending, not an error."""
    raw_mapping = dict(mapping.shipped().raw)
    raw_mapping["observations"] = raw_mapping["observations"] + [
        {"field": "labs.future_marker", "codes": ["loinc|99999-9"], "value": "quantity", "units": {"mg/L": 1}}]
    loaded = mapping.parse(raw_mapping)
    assert "labs.future_marker" in loaded.pending
    assert "labs.future_marker" not in loaded.active_fields


def test_mapping_file_errors_name_the_place():
    broken = dict(mapping.shipped().raw, observations=[{"field": "labs.crp_mg_l", "codes": ["nosuch|1"], "value": "quantity",
                                                         "units": {"mg/L": 1}}])
    with pytest.raises(mapping.MappingError, match=r"/observations/0: code 'nosuch\|1' uses the system alias"):
        mapping.parse(broken)
    with pytest.raises(mapping.MappingError, match="/observations/0"):
        mapping.parse(dict(mapping.shipped().raw, observations=[{"field": "labs.crp_mg_l", "codes": [], "value": "x"}]))


@pytest.mark.parametrize("expression", ["referenceRange.high", "code.coding", "valueQuantity.value", "subject.reference"])
def test_simple_fhirpath_navigation_agrees_with_fhirpathpy(expression):
    resource = observation("1988-5", valueQuantity=quantity(12, "mg/L"),
                           referenceRange=[{"high": quantity(5, "mg/L")}, {"low": quantity(0, "mg/L")}])
    resource["code"]["coding"].append({"system": "http://snomed.info/sct", "code": "55235003"})
    assert compile_path(expression)(resource) == compile_path(expression, general=True)(resource)


# ---------------------------------------------------------------------------------- Questionnaire

def _leaf_fields() -> list[str]:
    catalogue = field_catalogue()
    return [p for p, s in catalogue.items()
            if p.split(".")[0] not in ("id", "expected", "treatments") and s.get("type") != "object"]


def test_every_case_field_has_english_and_dutch_question_text():
    from cdss.fhir.texts import questionnaire_texts
    texts = questionnaire_texts()["fields"]
    for path in _leaf_fields():
        assert path in texts or path.rsplit(".", 1)[-1] in texts, f"{path}: no question text in fhir_questionnaire.yaml"
        text = field_text(path)
        assert text["en"] and text["nl"], path


def test_questionnaire_is_valid_fhir_with_one_item_per_case_field():
    from fhir.resources.R4B.questionnaire import Questionnaire

    built = questionnaire.build(mapping.shipped())
    Questionnaire.model_validate(built)
    links = []

    def walk(items):
        for item in items:
            if item["type"] != "group":
                links.append(item["linkId"])
            walk(item.get("item", ()))

    walk(built["item"])
    trial = field_catalogue()["treatments"]["items"]["properties"]
    expected = _leaf_fields() + [f"treatments.{name}" for name in trial]
    assert sorted(links) == sorted(expected)
    choice = next(i for i in built["item"] if i["linkId"] == "exam")["item"]
    ober = next(i for i in choice if i["linkId"] == "exam.ober_test")
    assert [o["valueCoding"]["code"] for o in ober["answerOption"]] == ["positive", "negative"]
    assert ober["_text"]["extension"][0]["extension"][1]["valueString"] == "Test van Ober"


def test_cli_prints_the_questionnaire():
    out = CliRunner().invoke(main, ["fhir", "questionnaire"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["url"] == "https://cdss.example/fhir/Questionnaire/cdss-case"


# -------------------------------------------------------------------------------- reading bundles

@pytest.mark.parametrize("path", example_paths(), ids=lambda p: p.stem)
def test_hand_made_bundles_are_the_shipped_cases(path, kb):
    """Each example Bundle (EHR-style: LOINC, mg/dL, titres, ATC, partial birth dates, an Encounter) maps to
    the shipped case of the same id, and gives its result."""
    mapped = bundles.read_path(str(path))
    shipped = json.loads(next(CASES.rglob(f"{path.stem}.json")).read_text())
    expected = shipped.pop("expected")
    assert mapped.case.data == shipped
    from cdss.io import expectations
    body = bundles.evaluate(mapped, kb).to_dict()
    assert list(expectations.differences(expected, body)) == []
    plain = evaluate(cases.case_from_dict(shipped, "shipped"), kb).to_dict()
    assert provenance.strip(body) == plain


def test_trace_names_the_resource_behind_every_value(kb):
    mapped = bundles.read_path(str(next(p for p in example_paths() if p.stem == "rf-septic-confirmed-positive-culture")))
    body = bundles.evaluate(mapped, kb).to_dict()
    first = body["trace"][0]
    assert first["rule"] == "input.fhir"
    crp = next(m for m in first["matched"] if m["field"] == "/labs/crp_mg_l")
    assert crp == {"field": "/labs/crp_mg_l", "value": 180, "from": "Observation/crp-31", "element": "valueQuantity"}
    assert {m["field"] for m in first["matched"]} == {"/patient/age_years", "/patient/sex", "/pain/knee",
                                                      "/pain/duration_weeks", "/systemic/fever",
                                                      "/joints/hot_swollen_joint", "/labs/synovial_culture",
                                                      "/labs/crp_mg_l"}
    fired = [m for entry in body["trace"][1:] for m in entry["matched"] if m.get("field") == "/joints/hot_swollen_joint"]
    assert fired and all(m["from"] == "QuestionnaireResponse/qr-7" for m in fired)
    assert mapped.ignored == {"Encounter": 1}


def test_units_are_converted_and_the_latest_observation_wins():
    data = case_of(observation("8310-5", "t1", valueQuantity=quantity(101.3, "[degF]")),
                   dict(observation("8310-5", "t0", valueQuantity=quantity(36.6, "Cel")), effectiveDateTime="2026-01-01"),
                   observation("3084-1", "u1", valueQuantity=quantity(7.5, "mg/dL")) if "labs.urate_mmol_l" in field_catalogue() else
                   observation("1988-5", "c1", valueQuantity=quantity(2.5, "mg/dL"),
                               referenceRange=[{"high": quantity(0.5, "mg/dL")}]))
    assert data["systemic"]["temperature_c"] == 38.5
    if "labs.urate_mmol_l" in field_catalogue():
        assert data["labs"]["urate_mmol_l"] == pytest.approx(0.4461)
    else:
        assert data["labs"] == {"crp_mg_l": 25, "crp_uln_mg_l": 5}


@pytest.mark.parametrize("value, grade", [(14, "negative"), (15, "low_positive"), (42, "low_positive"), (43, "high_positive")])
def test_rheumatoid_factor_titre_is_graded_against_the_labs_upper_limit(value, grade):
    data = case_of(observation("11572-5", valueQuantity=quantity(value, "[IU]/mL"),
                               referenceRange=[{"high": quantity(14, "[IU]/mL")}]))
    assert data["labs"]["rf"] == grade


def test_a_positive_anti_ccp_without_titre_counts_as_low_positive():
    positive = {"valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "10828004"}]}}
    assert case_of(observation("53028-7", **positive))["labs"]["anti_ccp"] == "low_positive"
    presence = {"valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA6577-6"}]}}
    assert case_of(observation("26028-1", **presence))["labs"]["hla_b27"] == "negative"


def test_conditions_medications_and_trials():
    subject = {"reference": "Patient/p1"}
    refuted = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "refuted"}]}
    resources = [
        {"resourceType": "Condition", "id": "c1", "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "M81.0"}]},
         "subject": subject},
        {"resourceType": "Condition", "id": "c2", "verificationStatus": refuted, "subject": subject,
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "73211009"}]}},
        {"resourceType": "MedicationStatement", "id": "m1", "status": "completed", "subject": subject,
         "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "H02AB06"}]},
         "effectivePeriod": {"start": "2025-12-01", "end": "2026-01-10"}},
        {"resourceType": "MedicationStatement", "id": "m2", "status": "completed", "subject": subject,
         "extension": [{"url": "https://cdss.example/fhir/StructureDefinition/treatment-response", "valueCode": "partial"},
                       {"url": "https://cdss.example/fhir/StructureDefinition/treatment-joint", "valueCode": "knee"}],
         "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "M02AA15"}]},
         "effectivePeriod": {"start": "2026-01-15", "end": "2026-02-26"}},
    ]
    data = case_of(*resources)
    assert data["systemic"] == {"osteoporosis": True, "diabetes": False}
    assert data["risk_factors"] == {"corticosteroids": "short_course"}
    assert data["treatments"] == [{"code": "topical_nsaid", "weeks": 6, "response": "partial", "joint": "knee"}]


def test_age_is_taken_at_the_evaluation_date():
    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-06-15"}
    assert read(bundle(patient=patient, timestamp="2026-06-14T12:00:00Z")).case.data["patient"]["age_years"] == 65
    assert read(bundle(patient=patient, timestamp="2026-06-15T12:00:00Z")).case.data["patient"]["age_years"] == 66
    import datetime as dt
    assert read(bundle(patient=patient), as_of=dt.date(2030, 1, 1)).case.data["patient"]["age_years"] == 69


# ------------------------------------------------------------------------------------ bad inputs

@pytest.mark.parametrize("data, pointer, words", [
    (bundle(observation("8310-5")), "", "no Patient"),  # replaced below: a bundle with no Patient
    (bundle(observation("1988-5", valueQuantity={"value": "abc", "unit": "mg/L"})), "/entry/1/resource/valueQuantity/value",
     "Observation/o1: valueQuantity.value"),
    (bundle(observation("1988-5", valueQuantity=quantity(3, "g/L"))), "/entry/1/resource/valueQuantity",
     "unit 'g/L' is not one the mapping converts"),
    (bundle(observation("8310-5", valueQuantity=quantity(50, "Cel"))), "/entry/1/resource/valueQuantity",
     "Observation/o1: valueQuantity (case field systemic.temperature_c): expected a value from 30 to 45; got 50"),
    (bundle(response(answer("exam.ober_tst", valueBoolean=True))), "/entry/1/resource/item/0/linkId",
     "item 'exam.ober_tst' is not a field of the case schema"),
    (bundle(response({"linkId": "exam", "item": [answer("exam.ober_test", valueBoolean=True)]})),
     "/entry/1/resource/item/0/item/0/answer/0", "expected a valueCoding with one of positive, negative"),
    (bundle(dict(observation("1988-5", valueQuantity=quantity(3, "mg/L")), subject={"reference": "Patient/other"})),
     "/entry/1/resource/subject/reference", "subject refers to Patient/other"),
    (bundle(patient={"resourceType": "Patient", "id": "p1", "gender": "femal", "birthDate": "1966-01-01"}),
     "/entry/0/resource/gender", "gender: expected one of female, male, other, unknown; got 'femal'"),
    ({"resourceType": "Patient", "id": "p1"}, "/birthDate", "Patient/p1: no birthDate"),
    (["not", "a", "bundle"], "", "expected a FHIR resource"),
])
def test_bad_fhir_gets_one_error_naming_resource_and_element(data, pointer, words):
    if words == "no Patient":
        data = bundle(observation("8310-5", valueQuantity=quantity(37, "Cel")), patient={})
    error = error_of(data)
    assert error.pointer == pointer
    assert words in error.message


def test_broken_json_and_oversized_input():
    with pytest.raises(FhirError, match="broken JSON at line 1"):
        bundles.read(b'{"resourceType": "Bundle",', "x.json")
    big = b'{"resourceType":"Bundle","type":"collection","entry":[' + b" " * MAX_BUNDLE_BYTES + b"]}"
    with pytest.raises(FhirError, match="a FHIR input may hold at most"):
        bundles.read(big, "x.json")


def test_a_lone_surrogate_is_refused_where_it_is():
    with pytest.raises(FhirError, match="expected Unicode text") as refused:
        bundles.read(b'{"resourceType": "Bundle", "type": "collection", "id": "b\\ud800"}', "x.json")
    assert refused.value.pointer == "/id"


def test_cli_errors_are_one_line_exit_1(tmp_path):
    path = tmp_path / "b.json"
    path.write_bytes(raw(bundle(observation("1988-5", valueQuantity={"value": "abc"}))))
    out = subprocess.run([sys.executable, "-m", "cdss.cli", "evaluate", str(path), "--input", "fhir"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "Observation/o1: valueQuantity.value" in out.stderr


def test_evaluate_on_case_json_does_not_load_fhir():
    code = ("import sys; from cdss.cli import main\n"
            "try:\n    main(['evaluate', 'cases/osteoarthritis/oa-knee-probable-typical.json'])\n"
            "except SystemExit:\n    pass\n"
            "bad = [m for m in sys.modules if m.startswith(('cdss.fhir', 'fhir', 'pydantic', 'starlette', 'uvicorn', 'sqlalchemy'))]\n"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


# ------------------------------------------------------------------------- batch, NDJSON, bulk export

def test_batch_and_validate_over_bundles_ndjson_and_a_bulk_export(tmp_path, kb):
    from cdss.fhir import writer
    examples = [json.loads(p.read_bytes()) for p in example_paths()]
    ndjson = tmp_path / "bundles.ndjson"
    ndjson.write_text("".join(json.dumps(b) + "\n" for b in examples))
    export = tmp_path / "export"
    export.mkdir()
    by_type: dict[str, list[str]] = {}
    for number, data in enumerate(examples):
        for entry in data["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Patient":  # the ids are per bundle; make them unique in the export
                resource = dict(resource, id=data["identifier"]["value"])
            else:
                resource = json.loads(json.dumps(resource).replace('"Patient/', '"Patient/X').replace(
                    "Patient/X" + _patient_id(data), "Patient/" + data["identifier"]["value"]))
            by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for kind, lines in by_type.items():
        (export / f"{kind}.ndjson").write_text("\n".join(reversed(lines)) + "\n")
    (export / "manifest.json").write_text(json.dumps({"transactionTime": "2026-03-15T10:00:00Z", "output": []}))
    runner = CliRunner()
    out = runner.invoke(main, ["batch", str(ndjson), str(export), "--input", "fhir", "-o", str(tmp_path / "out.jsonl"),
                               "--executor", "inline"])
    assert out.exit_code == 0, out.output
    results = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(results) == 2 * len(examples)
    from_bundles = {r["case_id"]: provenance.strip(r) for r in results[:len(examples)]}
    for result in results[len(examples):]:  # the export names cases by Patient id: the shipped case ids
        assert provenance.strip(result)["conditions"] == from_bundles[result["case_id"]]["conditions"]
        assert provenance.strip(result)["recommendations"] == from_bundles[result["case_id"]]["recommendations"]
    assert "Encounter 2" in out.output
    checked = runner.invoke(main, ["validate", "--input", "fhir", str(export), str(ndjson)])
    assert checked.exit_code == 0 and f"{2 * len(examples)} of {2 * len(examples)} cases valid" in checked.output


def _patient_id(data: dict) -> str:
    return next(e["resource"]["id"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient")


def test_batch_keeps_going_past_bad_bundles(tmp_path):
    good = json.loads(example_paths()[0].read_bytes())
    lines = [json.dumps(good), "{broken", json.dumps(bundle(observation("8310-5"), patient={})), json.dumps(good)]
    path = tmp_path / "mixed.ndjson"
    path.write_text("\n".join(lines) + "\n")
    CliRunner().invoke(main, ["batch", str(path), "--input", "fhir", "--executor", "inline", "-q",
                              "-o", str(tmp_path / "out.jsonl")])
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["ok", "error", "error", "ok"]
    assert records[1]["error"]["line"] == 2 and "broken JSON" in records[1]["error"]["message"]
    assert "no Patient" in records[2]["error"]["message"]


def test_text_output_of_a_bundle_is_the_cases(kb):
    path = next(p for p in example_paths() if p.stem == "oa-knee-probable-typical")
    shipped = json.loads((CASES / "osteoarthritis" / "oa-knee-probable-typical.json").read_text())
    plain = render.to_text(evaluate(cases.case_from_dict(shipped, "x"), kb), kb)
    assert render.to_text(bundles.evaluate(bundles.read_path(str(path)), kb), kb) == plain
