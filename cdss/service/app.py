"""The ASGI application of `cdss serve` (Starlette; run by uvicorn).

Routes: `GET /cds-services` (discovery), `POST /cds-services/{id}` (a hook), `POST /cds-services/{id}/feedback`,
`GET /fhir/Questionnaire/cdss-case` (the questionnaire the cards point to). Every error is a JSON body
`{"error": {"status", "code", "message", "element"}}`: 400 for a request that is not CDS Hooks, 401 for a
JWT that is not trusted, 404 for an unknown service, 413 for a body over the limit, 422 for FHIR data that
cannot be a case; never a traceback. Logs name the hook, the status and the time taken; never a patient id,
a value or a token.

Each worker process loads the knowledge base and compiles it once, at start-up; a hook is evaluated on the
event loop's thread (durable-rules holds the GIL and is not thread-safe), the store is written from a
worker thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import time

from attrs import asdict, define, field
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdss.io.cases import lone_surrogate
from cdss.service.hooks import HOOKS, ORDER_SELECT, HookError

LOG = logging.getLogger("cdss.serve")
SETTINGS_ENV = "CDSS_SERVE_SETTINGS"
FEEDBACK_OUTCOMES = ("accepted", "overridden")


@define
class Settings:
    """Everything `cdss serve` was told; passed to worker processes as JSON in an environment variable."""

    rules_dir: str | None = None
    profile: str = "nice"
    db: str = "cdss-feedback.sqlite"
    lang: str = "en"
    max_body: int = 5 * 1024 * 1024
    cors_origins: list = field(factory=list)
    trust: list = field(factory=list)  # "ISSUER=KEYS"
    public_url: str | None = None
    as_of: str | None = None
    fhir_servers: list = field(factory=list)  # FHIR base URLs a missing prefetch may be fetched from ("*": any)
    engine: str = "durable"  # durable | direct (cdss.engine.ENGINES): the same cards either way

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(**json.loads(os.environ[SETTINGS_ENV]))


class Service:
    """What one worker holds: the knowledge base, the mapping, the store, the JWT verifier."""

    def __init__(self, settings: Settings):
        from cdss.engine import evaluator_for
        from cdss.fhir import mapping, questionnaire
        from cdss.kb.loader import load
        from cdss.service.auth import Verifier, parse_trust
        from cdss.service.hooks import discovery, prefetch_templates
        from cdss.service.store import Store

        self.settings = settings
        self.kb = load(settings.rules_dir, profile=settings.profile)
        evaluator_for(self.kb, settings.engine)  # compile now, not on the first request
        self.mapping = mapping.shipped()
        self.templates = prefetch_templates(self.mapping)
        self.discovery = discovery(self.mapping)
        self.questionnaire = questionnaire.build(self.mapping)
        self.store = Store(settings.db)
        self.verifier = Verifier([parse_trust(t) for t in settings.trust])
        self.as_of = dt.date.fromisoformat(settings.as_of) if settings.as_of else None


def _error(status: int, code: str, message: str, element: str = "") -> JSONResponse:
    return JSONResponse(HookError(status, code, message, element).body(), status_code=status)


async def _body(request: Request, limit: int):
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HookError(413, "too-large", f"the request body is {declared} bytes; at most {limit} are accepted")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HookError(413, "too-large", f"the request body is over {limit} bytes, the most accepted")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise HookError(400, "invalid-json", "the request body is empty; expected a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:
        where = f" at line {error.lineno}, column {error.colno}" if isinstance(error, json.JSONDecodeError) else ""
        raise HookError(400, "invalid-json", f"the request body is not JSON{where}") from None
    refused = lone_surrogate(data)
    if refused is not None:
        raise HookError(400, "invalid-json", refused[1], refused[0] or "/")
    return data


def _lang(request: Request, default: str) -> str:
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("nl"):
            return "nl"
        if tag.startswith("en"):
            return "en"
    return default


def _audience(request: Request, settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/") + request.url.path
    return str(request.url.replace(query=""))


def _authorize(service: Service, request: Request) -> None:
    if not service.verifier.enabled:
        return
    from cdss.service.auth import AuthError
    try:
        service.verifier.verify(request.headers.get("authorization"), _audience(request, service.settings))
    except AuthError as error:
        raise HookError(401, "unauthorized", str(error)) from None


def _questionnaire_url(request: Request, settings: Settings) -> str:
    base = settings.public_url.rstrip("/") if settings.public_url else str(request.base_url).rstrip("/")
    return f"{base}/fhir/Questionnaire/cdss-case"


def create_app(settings: Settings) -> Starlette:
    state: dict = {}

    def service() -> Service:
        if "service" not in state:
            state["service"] = Service(settings)
        return state["service"]

    async def discovery(request: Request) -> Response:
        return JSONResponse(service().discovery)

    async def questionnaire(request: Request) -> Response:
        return JSONResponse(service().questionnaire, media_type="application/fhir+json")

    async def hook(request: Request) -> Response:
        started = time.perf_counter()
        name = request.path_params["service_id"]
        status = 200
        try:
            current = service()
            if name not in HOOKS:
                raise HookError(404, "unknown-service", f"no CDS service {name[:80]!r} here; see GET /cds-services")
            _authorize(current, request)
            body = await _body(request, settings.max_body)
            answer = await _answer(current, name, body, _lang(request, settings.lang), _questionnaire_url(request, settings))
            return JSONResponse(answer)
        except HookError as error:
            status = error.status
            return JSONResponse(error.body(), status_code=error.status)
        finally:
            LOG.info("hook %s: %s in %.1f ms", name if name in HOOKS else "<unknown>", status,
                     (time.perf_counter() - started) * 1000)

    async def feedback(request: Request) -> Response:
        name = request.path_params["service_id"]
        try:
            current = service()
            if name not in HOOKS:
                raise HookError(404, "unknown-service", f"no CDS service {name[:80]!r} here; see GET /cds-services")
            _authorize(current, request)
            body = await _body(request, settings.max_body)
            count = await _feedback(current, body)
            LOG.info("feedback %s: %d outcome(s)", name, count)
            return Response(status_code=200)
        except HookError as error:
            return JSONResponse(error.body(), status_code=error.status)

    async def not_found(request: Request, exc: HTTPException) -> Response:
        code = "not-found" if exc.status_code == 404 else "method-not-allowed" if exc.status_code == 405 else "http-error"
        return _error(exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}")

    async def internal(request: Request, exc: Exception) -> Response:
        LOG.error("internal error (%s) on %s", type(exc).__name__, request.url.path)
        return _error(500, "internal-error", f"cdss could not answer ({type(exc).__name__}); the request was not at fault")

    middleware = []
    if settings.cors_origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "OPTIONS"],
                                     allow_headers=["Authorization", "Content-Type", "Accept-Language"], max_age=600))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await run_in_threadpool(service)  # load and compile before the first request
        yield
        if "service" in state:
            state["service"].store.close()

    routes = [Route("/cds-services", discovery, methods=["GET"]),
              Route("/cds-services/{service_id}", hook, methods=["POST"]),
              Route("/cds-services/{service_id}/feedback", feedback, methods=["POST"]),
              Route("/fhir/Questionnaire/cdss-case", questionnaire, methods=["GET"])]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={HTTPException: not_found, Exception: internal})


def app_from_environment() -> Starlette:
    """The factory uvicorn calls in each worker process (settings from the environment)."""
    return create_app(Settings.from_env())


async def _answer(service: Service, name: str, body, lang: str, questionnaire_url: str) -> dict:
    import httpx

    from cdss.errors import EngineFault
    from cdss.fhir import parse, provenance, reader
    from cdss.fhir.parse import FhirError
    from cdss.service.cards import CardMaker
    from cdss.service.hooks import check, gather
    from cdss.service.store import Shown
    from cdss.engine import evaluate

    request = check(name, body)
    gathered = await gather(request, service.templates, lambda: httpx.AsyncClient(follow_redirects=False),
                            service.settings.fhir_servers)
    try:
        parsed = parse.parse(gathered.bundle, "request")
        patients = [r for r in parsed.resources if r.type == "Patient"]
        if not patients:
            raise HookError(422, "missing-patient", "no Patient resource: the prefetch key 'patient' must hold the "
                                                    "Patient (or the FHIR server must give it)", "/prefetch/patient")
        if patients[0].id != request.patient_id:
            raise HookError(422, "wrong-patient", f"the prefetched Patient is not context.patientId", "/prefetch/patient")
        mapped = reader.to_case(parsed, service.mapping, "request", service.as_of)
    except FhirError as error:
        raise HookError(422, "invalid-fhir", error.message, _in_request(error.pointer, gathered.origins)) from None
    try:
        result = provenance.attach(evaluate(mapped.case, service.kb, service.settings.engine), mapped.case)
    except EngineFault as error:
        raise HookError(500, "engine-fault", f"the rules engine failed on this patient: {error}") from None
    body = result.to_dict(lang)
    maker = CardMaker(service.mapping, name, request.hook_instance, lang, request.patient_id, questionnaire_url)
    answered = any(r.type == "QuestionnaireResponse" for r in parsed.resources)
    if name == ORDER_SELECT:
        cards = [c for c in maker.from_result(body, [], True, ()) if c.kind == "red_flag"]
        cards += maker.order_cards(body, mapped.case.data, list(request.draft_orders))
    else:
        cards = maker.from_result(body, list(gathered.missing), answered, mapped.notes)
    identity = service.kb.identity
    shown = [Shown(c.body["uuid"], request.hook_instance, name, c.kind, c.code, c.body["indicator"], c.rules,
                   identity.version, identity.sha256) for c in cards]
    try:
        await run_in_threadpool(service.store.record_shown, shown, dt.datetime.now(dt.timezone.utc))
    except Exception as error:  # a card is still worth showing when the store is down; say so in the log
        if "UNIQUE" in str(error) or "duplicate key" in str(error):
            pass  # the same hook instance asked again: its cards are already recorded
        else:
            LOG.error("feedback store: cards not recorded (%s)", type(error).__name__)
    return {"cards": [c.body for c in cards]}


def _in_request(pointer: str, origins: tuple) -> str:
    """A pointer into the gathered Bundle, as a pointer into the request."""
    parts = pointer.split("/")
    if len(parts) >= 4 and parts[1] == "entry" and parts[2].isdigit() and parts[3] == "resource":
        number = int(parts[2])
        if number < len(origins):
            return origins[number] + ("/" + "/".join(parts[4:]) if len(parts) > 4 else "")
    return pointer or "/prefetch"


async def _feedback(service: Service, body) -> int:
    if not isinstance(body, dict) or not isinstance(body.get("feedback"), list) or not body["feedback"]:
        raise HookError(400, "invalid-request", "expected {\"feedback\": [...]} with at least one item", "/feedback")
    rows = []
    for n, item in enumerate(body["feedback"]):
        where = f"/feedback/{n}"
        if not isinstance(item, dict):
            raise HookError(400, "invalid-request", f"{where}: expected an object", where)
        card = item.get("card")
        if not isinstance(card, str):
            raise HookError(400, "missing-element", f"{where}/card is required (the card's uuid)", f"{where}/card")
        outcome = item.get("outcome")
        if outcome not in FEEDBACK_OUTCOMES:
            raise HookError(422, "invalid-outcome", f"{where}/outcome must be accepted or overridden", f"{where}/outcome")
        when = item.get("outcomeTimestamp")
        from cdss.fhir import dates
        moment = dates.parse(when) if isinstance(when, str) and "T" in when else None
        if moment is None:
            raise HookError(422, "invalid-timestamp", f"{where}/outcomeTimestamp must be an ISO 8601 instant",
                            f"{where}/outcomeTimestamp")
        reason_system = reason_code = None
        if outcome == "overridden" and item.get("overrideReason") is not None:
            reason = item["overrideReason"].get("reason") if isinstance(item["overrideReason"], dict) else None
            if not isinstance(reason, dict) or not isinstance(reason.get("code"), str):
                raise HookError(422, "invalid-reason", f"{where}/overrideReason/reason must be a Coding with a code",
                                f"{where}/overrideReason/reason")
            reason_system, reason_code = reason.get("system"), reason["code"][:100]
        accepted = item.get("acceptedSuggestions") or []
        if not isinstance(accepted, list):
            raise HookError(422, "invalid-request", f"{where}/acceptedSuggestions must be a list", f"{where}/acceptedSuggestions")
        rows.append({"card_uuid": card, "outcome": outcome, "reason_system": reason_system if isinstance(reason_system, str) else None,
                     "reason_code": reason_code, "accepted_suggestions": len(accepted), "outcome_at": moment})
    known = await run_in_threadpool(service.store.known_cards, [r["card_uuid"] for r in rows])
    for n, row in enumerate(rows):
        if row["card_uuid"] not in known:
            raise HookError(422, "unknown-card", f"card {row['card_uuid'][:40]!r} was not shown by this service",
                            f"/feedback/{n}/card")
    await run_in_threadpool(service.store.record_feedback, rows, dt.datetime.now(dt.timezone.utc))
    return len(rows)
