"""`cdss serve`: the CDS Hooks 2.0 service, on uvicorn (the work is in cdss.service)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import click

from cdss.cli.options import ENGINE, EXIT_CODES, PROFILE, RULES, check_verbosity, fail, load_rules, verbosity


@click.command("serve", epilog=EXIT_CODES)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (each loads and compiles the rules once).")
@click.option("--db", default="cdss-feedback.sqlite", show_default=True,
              help="Feedback store: a SQLite file, or a postgresql://user:password@host/database URL.")
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
              help="Card language when the request's Accept-Language names neither.")
@click.option("--cors-origin", "cors_origins", multiple=True,
              help="Allow browser calls from this origin (repeat; '*' for any), e.g. the CDS Hooks sandbox's.")
@click.option("--trust", multiple=True, metavar="ISSUER=KEYS",
              help="Require a JWT from this issuer, verified with KEYS: a JWKS URL, a JWKS file or a PEM public "
                   "key file (repeat for more issuers). Without --trust, requests are not authenticated.")
@click.option("--fhir-server", "fhir_servers", multiple=True, metavar="URL",
              help="A FHIR base URL the service may fetch a missing prefetch from, when a request names it as "
                   "fhirServer (repeat for several; '*' allows any, for a sandbox). Default: none - a request "
                   "cannot make the service call an address of its choosing; missing data gets a card instead.")
@click.option("--public-url", default=None,
              help="This service's URL as the EHR calls it (behind a proxy): the JWT audience and the "
                   "questionnaire links are built from it.")
@click.option("--max-body", default=5 * 1024 * 1024, show_default=True, type=click.IntRange(1024),
              help="Largest request body accepted, in bytes (larger: 413).")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Compute ages at this date instead of today (demonstrations and tests).")
@click.option("--log-level", type=click.Choice(["warning", "info", "debug"]), default="info", show_default=True)
@PROFILE
@RULES
@ENGINE
@verbosity
def serve_command(host, port, workers, db, lang, cors_origins, trust, fhir_servers, public_url, max_body, as_of, log_level,
                  profile, rules_dir: Path | None, engine: str, quiet: bool, verbose: bool) -> None:
    """Run the CDS Hooks 2.0 service: discovery at GET /cds-services, the hooks patient-view and order-select,
    feedback at POST /cds-services/{id}/feedback, the questionnaire at GET /fhir/Questionnaire/cdss-case.

    -q: log warnings only, no start-up note; -v: log at debug level."""
    check_verbosity(quiet, verbose)
    if quiet:
        log_level = "warning"
    elif verbose:
        log_level = "debug"
    from cdss.service.app import SETTINGS_ENV, Settings
    from cdss.service.auth import parse_trust
    from cdss.service.store import Store, StoreError

    load_rules(rules_dir, profile, engine)  # a rule base that does not load (or build) stops here, not in every worker
    for url in fhir_servers:
        if url != "*" and not url.startswith(("http://", "https://")):
            raise click.BadParameter(f"expected an http(s) URL or '*', got {url[:80]!r}", param_hint="--fhir-server")
    for item in trust:
        try:
            parse_trust(item)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--trust") from None
    try:
        store = Store(db)
        store.migrate()
        store.close()
    except StoreError as error:
        fail(str(error))
    _check_port(host, port)
    settings = Settings(rules_dir=str(rules_dir) if rules_dir else None, profile=profile, db=db, lang=lang,
                        max_body=max_body, cors_origins=list(cors_origins), trust=list(trust), public_url=public_url,
                        as_of=as_of.date().isoformat() if as_of else None, fhir_servers=list(fhir_servers),
                        engine=engine)
    import os

    import uvicorn
    os.environ[SETTINGS_ENV] = settings.to_env()
    if not quiet:
        click.echo(f"cdss serve: CDS Hooks discovery at http://{host}:{port}/cds-services "
                   f"({workers} worker{'s' if workers > 1 else ''}, feedback in {store.name}); Ctrl-C stops it",
                   err=True)
    uvicorn.run("cdss.service.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=False, server_header=False, timeout_graceful_shutdown=5)
    sys.exit(0)


def _check_port(host: str, port: int) -> None:
    """A clear error for a port in use, before uvicorn starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
