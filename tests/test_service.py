"""`cdss serve` end to end: a real server process on a loopback port, driven over HTTP. Discovery, both hooks
with prefetch and with a FHIR server to fetch from, cards and suggestions with stable uuids, missing-data
cards, feedback into a real SQLite file and the report over it, and hostile requests (broken JSON, wrong FHIR
types, a 10 MB body, no Patient, unknown hooks, bad JWTs), none of which may get a 500 or a traceback."""

from __future__ import annotations

import contextlib
import copy
import http.server
import json
import threading
import time
import uuid

import httpx
import pytest
from click.testing import CliRunner

from cdss.cli import main
from tests.helpers.fhir import answer, coded, example_paths, hook_request
from tests.helpers.server import running

PATIENT_VIEW = "/cds-services/cdss-patient-view"
ORDER_SELECT = "/cds-services/cdss-order-select"


def example(name: str) -> dict:
    return json.loads(next(p for p in example_paths() if p.stem == name).read_text())


def instance() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    with running(tmp) as (base, log):
        yield base, log, tmp / "feedback.sqlite"


def post(base: str, path: str, body, **headers) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(base + path, content=content, headers={"Content-Type": "application/json", **headers}, timeout=60)


# ------------------------------------------------------------------------------------------ discovery

def test_discovery_lists_both_hooks_with_prefetch_for_what_the_mapping_reads(server):
    base, _, _ = server
    services = httpx.get(base + "/cds-services").json()["services"]
    assert [(s["hook"], s["id"]) for s in services] == [("patient-view", "cdss-patient-view"),
                                                        ("order-select", "cdss-order-select")]
    prefetch = services[0]["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    assert "http://loinc.org|1988-5" in prefetch["observations"]
    assert set(prefetch) == {"patient", "observations", "conditions", "medicationStatements", "medicationRequests",
                             "procedures", "diagnosticReports", "questionnaireResponses"}
    questionnaire = httpx.get(base + "/fhir/Questionnaire/cdss-case")
    assert questionnaire.status_code == 200 and questionnaire.json()["resourceType"] == "Questionnaire"


# ----------------------------------------------------------------------------------------- patient-view

def test_red_flag_is_a_critical_card_first_with_suggestions_and_stable_uuids(server):
    base, _, _ = server
    request = hook_request(example("rf-septic-confirmed-positive-culture"), instance=instance())
    first = post(base, PATIENT_VIEW, request)
    assert first.status_code == 200, first.text
    cards = first.json()["cards"]
    assert cards[0]["indicator"] == "critical"
    assert cards[0]["extension"]["cdss"]["code"] == "septic_arthritis"
    assert "redflag.septic.confirmed-culture" in cards[0]["extension"]["cdss"]["rules"]
    assert cards[0]["source"]["label"].startswith("BSR/BOA")
    assert all(len(c["summary"]) <= 140 and c["uuid"] for c in cards)
    suggestion = cards[0]["suggestions"][0]
    assert cards[0]["selectionBehavior"] == "any"
    action = suggestion["actions"][0]
    assert action["type"] == "create" and action["resource"]["resourceType"] == "ServiceRequest"
    assert action["resource"]["priority"] == "stat"
    again = post(base, PATIENT_VIEW, request).json()["cards"]
    assert [c["uuid"] for c in again] == [c["uuid"] for c in cards]
    assert [s["uuid"] for s in again[0]["suggestions"]] == [s["uuid"] for s in cards[0]["suggestions"]]
    other = post(base, PATIENT_VIEW, dict(request, hookInstance=instance())).json()["cards"]
    assert other[0]["uuid"] != cards[0]["uuid"]


def test_condition_cards_do_nots_and_dutch_labels(server):
    base, _, _ = server
    request = hook_request(example("oa-knee-probable-typical"), instance=instance())
    cards = post(base, PATIENT_VIEW, request, **{"Accept-Language": "nl"}).json()["cards"]
    kinds = [c["extension"]["cdss"]["kind"] for c in cards]
    assert "condition" in kinds and "do_not" in kinds
    condition = next(c for c in cards if c["extension"]["cdss"]["kind"] == "condition")
    assert condition["indicator"] in ("info", "warning")
    assert "waarschijnlijk" in condition["summary"]
    assert "**Volgende stappen**" in condition["detail"]
    do_not = next(c for c in cards if c["extension"]["cdss"]["code"] == "glucosamine")
    assert do_not["indicator"] == "warning" and do_not["summary"].startswith("Afraden:")
    assert [c["indicator"] for c in cards] == sorted((c["indicator"] for c in cards),
                                                     key=["critical", "warning", "info"].index)


def test_missing_data_gets_a_card_that_names_it_and_points_to_the_questionnaire(server):
    base, _, _ = server
    request = hook_request(example("oa-knee-probable-typical"), instance=instance())
    del request["prefetch"]["questionnaireResponses"]
    del request["prefetch"]["conditions"]
    cards = post(base, PATIENT_VIEW, request).json()["cards"]
    missing = next(c for c in cards if c["extension"]["cdss"]["kind"] == "missing_data")
    assert "diagnoses and history (Condition)" in missing["detail"]  # in words; the keys are for the integrator
    assert "answers to the cdss questionnaire (QuestionnaireResponse)" in missing["detail"]
    assert "`" not in missing["detail"]
    assert missing["extension"]["cdss"]["missing"] == ["conditions", "questionnaireResponses"]
    assert missing["links"][0]["url"].endswith("/fhir/Questionnaire/cdss-case")
    assert missing["indicator"] == "warning"  # nothing else found: never a silent reassurance


@contextlib.contextmanager
def fhir_server(resources: dict):
    """A FHIR server on a loopback port that answers every search with `resources`, and what it was asked."""
    seen: list[tuple[str, str]] = []

    class FhirServer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            body = json.dumps(resources).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    fhir = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FhirServer)
    thread = threading.Thread(target=fhir.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{fhir.server_address[1]}/fhir", seen
    finally:
        fhir.shutdown()
        fhir.server_close()
        thread.join(10)


def _without_observations():
    request = hook_request(example("rf-septic-confirmed-positive-culture"), instance=instance())
    observations = request["prefetch"].pop("observations")
    request["fhirAuthorization"] = {"access_token": "token-123", "token_type": "Bearer", "expires_in": 300,
                                    "scope": "patient/*.read", "subject": "cdss"}
    return request, observations


def test_a_prefetch_key_left_out_is_fetched_from_an_allowed_fhir_server(tmp_path):
    request, observations = _without_observations()
    with fhir_server(observations) as (url, seen):
        with running(tmp_path, "--fhir-server", url) as (base, _):
            request["fhirServer"] = url
            cards = post(base, PATIENT_VIEW, request).json()["cards"]
    assert seen and seen[0][0].startswith("/fhir/Observation?subject=Patient/p-2041&code=")
    assert seen[0][1] == "Bearer token-123"
    assert not any(c["extension"]["cdss"]["kind"] == "missing_data" for c in cards)
    assert cards[0]["extension"]["cdss"]["code"] == "septic_arthritis"


def test_a_fhir_server_the_service_was_not_told_of_is_never_called(server):
    """A request names its own fhirServer: without `--fhir-server` allowing it, the service fetches nothing
    (no server-side request forgery) and says on a card which data it lacks."""
    base, _, _ = server
    request, observations = _without_observations()
    with fhir_server(observations) as (url, seen):
        request["fhirServer"] = url
        cards = post(base, PATIENT_VIEW, request).json()["cards"]
    assert seen == []
    missing = next(c for c in cards if c["extension"]["cdss"]["kind"] == "missing_data")
    assert "observations and lab results (Observation)" in missing["detail"]
    assert missing["extension"]["cdss"]["missing"] == ["observations"]


# ----------------------------------------------------------------------------------------- order-select

def test_order_select_warns_on_do_nots_studies_done_and_ruled_out_nsaids(server):
    base, _, _ = server
    oa = example("oa-knee-probable-typical")
    response = next(e["resource"] for e in oa["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    response["item"].append({"linkId": "systemic", "item": [answer("systemic.nsaid_contraindicated", valueBoolean=True)]})
    drafts = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "MedicationRequest", "id": "d1", "status": "draft", "intent": "order",
                      "subject": {"reference": "Patient/p-7310"},
                      "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "M01AX05"}]}}},
        {"resource": {"resourceType": "MedicationRequest", "id": "d2", "status": "draft", "intent": "order",
                      "subject": {"reference": "Patient/p-7310"},
                      "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "M01AE01"}]}}},
        {"resource": {"resourceType": "ServiceRequest", "id": "d3", "status": "draft", "intent": "order",
                      "subject": {"reference": "Patient/p-7310"},
                      "code": {"coding": [{"system": "https://cdss.example/fhir/CodeSystem/recommendation", "code": "xray_knee"}]}}},
    ]}
    request = hook_request(oa, hook="order-select", instance=instance(), draftOrders=drafts,
                           selections=["MedicationRequest/d1", "MedicationRequest/d2", "ServiceRequest/d3"])
    cards = post(base, ORDER_SELECT, request).json()["cards"]
    codes = [c["extension"]["cdss"]["code"] for c in cards]
    assert "MedicationRequest/d1:do_not:glucosamine" in codes
    assert "MedicationRequest/d2:nsaid" in codes
    assert "ServiceRequest/d3:do_not:routine_imaging" in codes
    avn = example("avn-mri-arco-ii-pre-collapse")
    drafts = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "ServiceRequest", "id": "x1", "status": "draft", "intent": "order",
                      "subject": {"reference": "Patient/p-53"},
                      "code": {"coding": [{"system": "https://cdss.example/fhir/CodeSystem/imaging-study", "code": "xray_hip"}]}}}]}
    cards = post(base, ORDER_SELECT, hook_request(avn, hook="order-select", instance=instance(), draftOrders=drafts)).json()["cards"]
    assert [c["extension"]["cdss"]["code"] for c in cards] == ["ServiceRequest/x1:done:xray_hip"]


# --------------------------------------------------------------------------------------------- feedback

def test_feedback_is_stored_and_reported_per_rule_without_patient_data(server, tmp_path):
    base, _, db = server
    shown, others = [], []
    for _ in range(6):
        cards = post(base, PATIENT_VIEW, hook_request(example("oa-knee-probable-typical"), instance=instance())).json()["cards"]
        shown.append(next(c for c in cards if c["extension"]["cdss"]["code"] == "glucosamine"))
        others += [c for c in cards if c["extension"]["cdss"]["kind"] == "condition"]
    reason = {"code": "not-applicable", "system": "https://cdss.example/fhir/CodeSystem/override-reason"}
    items = [{"card": c["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-03-15T10:05:00Z",
              "overrideReason": {"reason": reason, "userComment": "Mrs Jansen takes it anyway"}} for c in shown[:5]]
    items += [{"card": c["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-03-15T10:06:00Z",
               "acceptedSuggestions": [{"id": c["suggestions"][0]["uuid"]}] if c.get("suggestions") else []}
              for c in [shown[5]] + others]
    answer_ = post(base, PATIENT_VIEW + "/feedback", {"feedback": items})
    assert answer_.status_code == 200, answer_.text
    unknown = post(base, PATIENT_VIEW + "/feedback", {"feedback": [dict(items[0], card=str(uuid.uuid4()))]})
    assert unknown.status_code == 422 and unknown.json()["error"]["element"] == "/feedback/0/card"
    raw = db.read_bytes() + (db.with_name(db.name + "-wal").read_bytes() if db.with_name(db.name + "-wal").exists() else b"")
    assert b"Jansen" not in raw and b"p-7310" not in raw  # no patient data, no free text
    runner = CliRunner()
    report = json.loads(runner.invoke(main, ["feedback", "report", "--db", str(db), "--format", "json"]).output)
    rule = report["by_rule"]["oa.knee.glucosamine-do-not"] if "oa.knee.glucosamine-do-not" in report["by_rule"] else \
        next(r for name, r in report["by_rule"].items() if r["overridden"] >= 5)
    assert rule["overridden"] >= 5 and rule["reasons"].get("not-applicable", 0) >= 5
    assert report["stand_out"], report
    text = runner.invoke(main, ["feedback", "report", "--db", str(db)]).output
    assert "RULES WHOSE OVERRIDE RATE STANDS OUT" in text and "not-applicable" in text
    page = tmp_path / "report.html"
    assert runner.invoke(main, ["feedback", "report", "--db", str(db), "--format", "html", "-o", str(page)]).exit_code == 0
    assert "<script" not in page.read_text() and 'id="stand-out"' in page.read_text()


# ------------------------------------------------------------------------------------ hostile requests

def _bad(base, path, body, status, element=None, **headers):
    response = post(base, path, body, **headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["message"]
    if element is not None:
        assert error.get("element") == element
    return error


def test_hostile_requests_get_json_errors_never_500(server):
    base, log, _ = server
    good = hook_request(example("rf-septic-confirmed-positive-culture"), instance=instance())
    _bad(base, PATIENT_VIEW, b'{"hook": "patient-view", ', 400)
    _bad(base, PATIENT_VIEW, b"", 400)
    _bad(base, PATIENT_VIEW, b"[1, 2]", 400)
    lone = json.dumps(good).replace('"patient-view"', '"patient-view\\udc00"', 1).encode()
    assert "expected Unicode text" in _bad(base, PATIENT_VIEW, lone, 400, "/hook")["message"]
    _bad(base, "/cds-services/no-such-hook", good, 404)
    _bad(base, PATIENT_VIEW, dict(good, hook="order-sign"), 400, "/hook")
    _bad(base, PATIENT_VIEW, dict(good, context={}), 400, "/context/patientId")
    wrong = copy.deepcopy(good)
    wrong["prefetch"]["observations"]["entry"][0]["resource"]["valueQuantity"]["value"] = "abc"
    error = _bad(base, PATIENT_VIEW, wrong, 422, "/prefetch/observations/entry/0/resource/valueQuantity/value")
    assert "Observation/crp-31" in error["message"]
    wrong_type = copy.deepcopy(good)
    wrong_type["prefetch"]["conditions"] = {"resourceType": "Bundle", "type": "searchset",
                                            "entry": [{"resource": {"resourceType": "Condition", "id": "c", "code": "M81"}}]}
    _bad(base, PATIENT_VIEW, wrong_type, 422, "/prefetch/conditions/entry/0/resource/code")
    _bad(base, PATIENT_VIEW, dict(good, prefetch=dict(good["prefetch"], patient=None)), 422, "/prefetch/patient")
    huge = dict(good, prefetch=dict(good["prefetch"], observations={"resourceType": "Bundle", "type": "searchset",
                                                                        "entry": [{"resource": {"resourceType": "Basic",
                                                                                                "id": "x" * 64}}] * 120_000}))
    assert len(json.dumps(huge)) > 10_000_000
    _bad(base, PATIENT_VIEW, huge, 413)
    _bad(base, PATIENT_VIEW + "/feedback", {"feedback": [{"card": "x", "outcome": "maybe"}]}, 422, "/feedback/0/outcome")
    assert httpx.get(base + PATIENT_VIEW).status_code == 405
    text = log.read_text()
    assert "Traceback" not in text and "p-2041" not in text and "crp-31" not in text


@pytest.mark.slow
def test_two_workers_answer(tmp_path):
    with running(tmp_path, "--workers", "2") as (base, _):
        answers = [post(base, PATIENT_VIEW, hook_request(example(p.stem), instance=instance())) for p in example_paths()]
    assert [a.status_code for a in answers] == [200] * len(answers)


@pytest.mark.slow
def test_the_direct_engine_gives_the_same_cards(server, tmp_path):
    base, _, _ = server
    requests = [hook_request(example(p.stem), instance=instance()) for p in example_paths()]
    expected = [post(base, PATIENT_VIEW, request).json() for request in requests]
    with running(tmp_path, "--engine", "direct") as (direct, _):
        answers = [post(direct, PATIENT_VIEW, request).json() for request in requests]
    assert answers == expected and any(a["cards"] for a in answers)


# ------------------------------------------------------------------------------------------ JWT and CORS

def _keys(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec
    import jwt
    private = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid="ehr-1", alg="ES384", use="sig")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return private, path


def _token(private, audience: str, issuer: str = "https://ehr.example", lifetime: int = 240, jti: str | None = None,
           issued: float | None = None) -> str:
    import jwt
    now = issued if issued is not None else time.time()
    claims = {"iss": issuer, "sub": "ehr-client", "aud": audience, "iat": int(now), "exp": int(now + lifetime),
              "jti": jti or str(uuid.uuid4())}
    return jwt.encode(claims, private, algorithm="ES384", headers={"kid": "ehr-1", "jku": "https://attacker.example/jwks"})


def test_jwt_verification_and_cors(tmp_path):
    private, jwks = _keys(tmp_path)
    (tmp_path / "other").mkdir()
    other, _ = _keys(tmp_path / "other")
    with running(tmp_path, "--trust", f"https://ehr.example={jwks}", "--cors-origin", "https://sandbox.cds-hooks.org") as (base, log):
        audience = base + PATIENT_VIEW
        request = hook_request(example("oa-knee-probable-typical"), instance=instance())
        ok = post(base, PATIENT_VIEW, request, Authorization=f"Bearer {_token(private, audience)}")
        assert ok.status_code == 200, ok.text
        reused = _token(private, audience, jti="once")
        assert post(base, PATIENT_VIEW, request, Authorization=f"Bearer {reused}").status_code == 200
        cases = {
            "no token": {},
            "not a JWT": {"Authorization": "Bearer abc.def"},
            "wrong audience": {"Authorization": f"Bearer {_token(private, base + '/elsewhere')}"},
            "untrusted issuer": {"Authorization": f"Bearer {_token(private, audience, issuer='https://evil.example')}"},
            "expired": {"Authorization": f"Bearer {_token(private, audience, issued=time.time() - 900)}"},
            "too long-lived": {"Authorization": f"Bearer {_token(private, audience, lifetime=3600)}"},
            "another key": {"Authorization": f"Bearer {_token(other, audience)}"},
            "replayed": {"Authorization": f"Bearer {reused}"},
        }
        for name, headers in cases.items():
            response = post(base, PATIENT_VIEW, request, **headers)
            assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
            assert response.json()["error"]["code"] == "unauthorized"
        preflight = httpx.options(base + PATIENT_VIEW, headers={"Origin": "https://sandbox.cds-hooks.org",
                                                                "Access-Control-Request-Method": "POST",
                                                                "Access-Control-Request-Headers": "authorization,content-type"})
        assert preflight.headers["access-control-allow-origin"] == "https://sandbox.cds-hooks.org"
        assert "Traceback" not in log.read_text()


def test_jwt_keys_from_the_issuers_jwks_url(tmp_path):
    """The issuer's keys fetched from its JWKS URL (a real HTTP server on a loopback port), once, and cached;
    a token signed with a key the JWKS does not hold is refused; the token's own `jku` is never followed."""
    private, jwks = _keys(tmp_path)
    (tmp_path / "other").mkdir()
    other, _ = _keys(tmp_path / "other")
    body = jwks.read_bytes()
    fetched = []

    class Jwks(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    keys = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=keys.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{keys.server_address[1]}/.well-known/jwks.json"
    try:
        with running(tmp_path, "--trust", f"https://ehr.example={url}") as (base, log):
            audience = base + PATIENT_VIEW
            request = hook_request(example("oa-knee-probable-typical"), instance=instance())
            for _ in range(3):
                answer_ = post(base, PATIENT_VIEW, request, Authorization=f"Bearer {_token(private, audience)}")
                assert answer_.status_code == 200, answer_.text
            refused = post(base, PATIENT_VIEW, request, Authorization=f"Bearer {_token(other, audience)}")
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
            assert "Traceback" not in log.read_text()
    finally:
        keys.shutdown()
        keys.server_close()
        thread.join(10)
    assert fetched and set(fetched) == {"/.well-known/jwks.json"}
    assert len(fetched) <= 2  # cached: not once per request (a second fetch only for the unknown key)


def test_serve_refuses_a_port_in_use_and_a_bad_store(tmp_path):
    import socket
    import subprocess
    import sys
    from tests.helpers.paths import ROOT
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "cdss.cli", "serve", "--port", str(port), "--db", str(tmp_path / "f.sqlite")],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 1 and "cannot listen on 127.0.0.1" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "cdss.cli", "serve", "--db", str(tmp_path / "missing" / "f.sqlite")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 1 and "feedback store" in out.stderr and "Traceback" not in out.stderr
