"""The CDS Hooks side of the service: the discovery document, checking a hook request, and gathering the
patient's resources from its prefetch (or, for a key the EHR left out, from its FHIR server).

Prefetch templates ask for exactly the resource types (and, for Observations and reports, the codes) the
mapping reads. A key the EHR sends as null means "no such data" (CDS Hooks 2.0); a key it leaves out is
fetched from `fhirServer` with `fhirAuthorization` when both are given and `cdss serve --fhir-server` lists
that server (never an address a request alone chose), and otherwise reported as missing on a card: cdss never treats data it did not get as normal.
"""

from __future__ import annotations

from attrs import frozen

from cdss.fhir.mapping import Mapping
from cdss.fhir.parse import MAX_BUNDLE_BYTES

PATIENT_VIEW = "cdss-patient-view"
ORDER_SELECT = "cdss-order-select"
HOOKS = {PATIENT_VIEW: "patient-view", ORDER_SELECT: "order-select"}
MAX_PAGES = 5
FETCH_TIMEOUT = 5.0


class HookError(Exception):
    """A request cdss cannot answer: HTTP status, a short code, the message, and the element (a JSON pointer
    into the request)."""

    def __init__(self, status: int, code: str, message: str, element: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.element = element

    def body(self) -> dict:
        error = {"status": self.status, "code": self.code, "message": self.message}
        if self.element:
            error["element"] = self.element
        return {"error": error}


def prefetch_templates(mapping: Mapping) -> dict[str, str]:
    patient = "{{context.patientId}}"
    observation_codes = ",".join(f"{c.system}|{c.code}" for c in mapping.observation_codes() if not c.prefix)
    study_codes = ",".join(f"{c.system}|{c.code}" for codes in mapping.study_codes.values() for c in codes if not c.prefix)
    return {
        "patient": f"Patient/{patient}",
        "observations": f"Observation?subject=Patient/{patient}&code={observation_codes}",
        "conditions": f"Condition?subject=Patient/{patient}",
        "medicationStatements": f"MedicationStatement?subject=Patient/{patient}",
        "medicationRequests": f"MedicationRequest?subject=Patient/{patient}",
        "procedures": f"Procedure?subject=Patient/{patient}",
        "diagnosticReports": f"DiagnosticReport?subject=Patient/{patient}&code={study_codes}",
        "questionnaireResponses": f"QuestionnaireResponse?subject=Patient/{patient}&questionnaire={mapping.questionnaire_url}",
    }


def discovery(mapping: Mapping) -> dict:
    prefetch = prefetch_templates(mapping)
    return {"services": [
        {"hook": "patient-view", "id": PATIENT_VIEW, "title": "cdss: hip and knee pain",
         "description": "Red flags, conditions with their next steps, and what to avoid for hip and knee pain "
                        "(with the back, inflammatory and crystal causes), from the record and the cdss "
                        "questionnaire. Decision support, not a diagnosis.",
         "prefetch": prefetch,
         "usageRequirements": "Answers to the cdss questionnaire (GET /fhir/Questionnaire/cdss-case) give the "
                              "examination findings EHRs rarely code."},
        {"hook": "order-select", "id": ORDER_SELECT, "title": "cdss: orders for hip and knee pain",
         "description": "Warns when a draft order is one of the patient's do-nots, a study already done, or an "
                        "oral NSAID the patient's record rules out.",
         "prefetch": prefetch},
    ]}


@frozen
class Request:
    service: str
    hook: str
    hook_instance: str
    patient_id: str
    prefetch: dict
    fhir_server: str | None
    access_token: str | None
    draft_orders: tuple


def _string(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise HookError(400, "missing-element", f"{where}/{key} is required and must be a non-empty string",
                        f"{where}/{key}")
    return value


def check(service: str, data) -> Request:
    if service not in HOOKS:
        raise HookError(404, "unknown-service", f"no CDS service {service[:80]!r} here; see GET /cds-services")
    if not isinstance(data, dict):
        raise HookError(400, "invalid-request", "the request body must be a JSON object")
    hook = _string(data, "hook", "")
    if hook != HOOKS[service]:
        raise HookError(400, "wrong-hook", f"service {service} answers the hook {HOOKS[service]!r}, not {hook[:60]!r}",
                        "/hook")
    instance = _string(data, "hookInstance", "")
    context = data.get("context")
    if not isinstance(context, dict):
        raise HookError(400, "missing-element", "/context is required and must be an object", "/context")
    patient = _string(context, "patientId", "/context")
    prefetch = data.get("prefetch", {})
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise HookError(400, "invalid-request", "/prefetch must be an object of prefetch keys", "/prefetch")
    server = data.get("fhirServer")
    if server is not None and (not isinstance(server, str) or not server.startswith(("http://", "https://"))):
        raise HookError(400, "invalid-request", "/fhirServer must be an http(s) URL", "/fhirServer")
    token = None
    authorization = data.get("fhirAuthorization")
    if authorization is not None:
        if not isinstance(authorization, dict) or not isinstance(authorization.get("access_token"), str):
            raise HookError(400, "invalid-request", "/fhirAuthorization needs an access_token", "/fhirAuthorization")
        token = authorization["access_token"]
    drafts: list = []
    if hook == "order-select":
        bundle = context.get("draftOrders")
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise HookError(422, "invalid-fhir", "/context/draftOrders must be a FHIR Bundle of draft orders",
                            "/context/draftOrders")
        selections = context.get("selections")
        for n, entry in enumerate(bundle.get("entry") or ()):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or resource.get("resourceType") not in ("MedicationRequest", "ServiceRequest"):
                continue
            ref = f"{resource.get('resourceType')}/{resource.get('id')}"
            if isinstance(selections, list) and selections and ref not in selections:
                continue
            drafts.append(resource)
    return Request(service, hook, instance, patient, prefetch, server, token, tuple(drafts))


@frozen
class Gathered:
    bundle: dict  # a collection Bundle of every resource gathered
    origins: tuple  # for each entry, its JSON pointer in the request (or the fetch it came from)
    missing: tuple  # prefetch keys neither sent nor fetched


def _resources_of(value, where: str) -> list[tuple[dict, str]]:
    if not isinstance(value, dict):
        raise HookError(422, "invalid-fhir", f"{where}: expected a FHIR resource or Bundle (or null)", where)
    kind = value.get("resourceType")
    if kind == "OperationOutcome":
        return []
    if kind == "Bundle":
        out = []
        for n, entry in enumerate(value.get("entry") or ()):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict):
                out.append((resource, f"{where}/entry/{n}/resource"))
            elif resource is not None:
                raise HookError(422, "invalid-fhir", f"{where}/entry/{n}/resource: expected a FHIR resource",
                                f"{where}/entry/{n}/resource")
        return out
    if not isinstance(kind, str):
        raise HookError(422, "invalid-fhir", f"{where}: no resourceType; expected a FHIR resource or Bundle", where)
    return [(value, where)]


def fetch_allowed(server: str, allowed) -> bool:
    """Whether `cdss serve --fhir-server` lets the service call this FHIR base URL. A request names its
    `fhirServer` itself, so without such a list a caller could make the service fetch any address it chose
    (server-side request forgery): nothing is fetched unless the URL is listed, or `*` allows any."""
    base = server.rstrip("/")
    for item in allowed or ():
        if item == "*":
            return True
        item = item.rstrip("/")
        if base == item or base.startswith(item + "/"):
            return True
    return False


async def gather(request: Request, templates: dict, client_factory, allowed=()) -> Gathered:
    """Every resource of the prefetch, plus what an allowed FHIR server gives for the keys left out."""
    entries: list[dict] = []
    origins: list[str] = []
    missing: list[str] = []
    for key, template in templates.items():
        if key in request.prefetch:
            value = request.prefetch[key]
            if value is None:
                continue
            found = _resources_of(value, f"/prefetch/{key}")
        elif request.fhir_server and request.access_token and fetch_allowed(request.fhir_server, allowed):
            found = await _fetch(request, key, template, client_factory)
            if found is None:
                missing.append(key)
                continue
        else:
            missing.append(key)
            continue
        for resource, where in found:
            entries.append({"resource": resource})
            origins.append(where)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return Gathered(bundle, tuple(origins), tuple(missing))


async def _fetch(request: Request, key: str, template: str, client_factory):
    """One prefetch query against the EHR's FHIR server (following `next` pages, bounded); None when it fails."""
    import httpx

    url = f"{request.fhir_server.rstrip('/')}/{template.replace('{{context.patientId}}', request.patient_id)}"
    headers = {"Authorization": f"Bearer {request.access_token}", "Accept": "application/fhir+json"}
    found: list[tuple[dict, str]] = []
    try:
        async with client_factory() as client:
            for page in range(MAX_PAGES):
                async with client.stream("GET", url, headers=headers, timeout=FETCH_TIMEOUT) as response:
                    if response.status_code != 200:
                        return None
                    body = b""
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_BUNDLE_BYTES:
                            return None
                import json
                data = json.loads(body)
                found += [(r, f"fhirServer {key} (page {page + 1})") for r, _ in _resources_of(data, f"/prefetch/{key}")]
                following = [link.get("url") for link in data.get("link") or () if isinstance(link, dict)
                             and link.get("relation") == "next"] if isinstance(data, dict) else []
                if not following or not isinstance(following[0], str) or not following[0].startswith(request.fhir_server):
                    break
                url = following[0]
    except (httpx.HTTPError, ValueError, HookError):
        return None
    return found
