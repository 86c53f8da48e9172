"""The feedback store on a real SQLite file and a real PostgreSQL server: versioned migrations (applied once,
upgraded in place, a newer schema refused), cards and outcomes stored without patient data, the report per
rule and card kind, and `cdss serve --db postgresql://...` end to end. The HTML report is also checked in
a real headless browser where one is installed."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cdss.cli import main
from cdss.service import report as feedback_report
from cdss.service.store import MIGRATIONS, Shown, Store, StoreError, schema_version
from tests.helpers import postgres

NOW = dt.datetime(2026, 3, 15, 10, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session")
def postgres_url():
    with postgres.cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path, postgres_url):
    if request.param == "sqlite":
        return str(tmp_path / "feedback.sqlite")
    if postgres_url.startswith("skip:"):
        pytest.skip(postgres_url[5:].strip())
    return postgres.fresh_database(postgres_url)


def shown(rule: str, kind: str = "do_not", code: str = "glucosamine") -> Shown:
    return Shown(str(uuid.uuid4()), str(uuid.uuid4()), "cdss-patient-view", kind, code, "warning", (rule, "shared.rule"),
                 "0.1.0", "a" * 64)


def outcome(card: Shown, what: str, reason: str | None = None) -> dict:
    return {"card_uuid": card.uuid, "outcome": what, "reason_system": "https://cdss.example/fhir/CodeSystem/override-reason"
            if reason else None, "reason_code": reason, "accepted_suggestions": 0, "outcome_at": NOW}


def test_migrations_run_once_and_the_store_reports(target):
    store = Store(target)
    assert store.version() == 0
    assert store.migrate() == len(MIGRATIONS)
    assert store.migrate() == len(MIGRATIONS)  # idempotent: nothing applied twice
    with store.engine.connect() as connection:
        assert [r[0] for r in connection.execute(sa.select(schema_version.c.version).order_by(schema_version.c.version))] == \
            list(range(1, len(MIGRATIONS) + 1))
    noisy = [shown("oa.knee.glucosamine") for _ in range(8)]
    quiet = [shown("oa.knee.exercise", "condition", "knee_osteoarthritis") for _ in range(30)]
    store.record_shown(noisy + quiet, NOW)
    store.record_feedback([outcome(c, "overridden", "not-applicable") for c in noisy[:7]] + [outcome(noisy[7], "accepted")]
                          + [outcome(c, "accepted") for c in quiet[:28]] + [outcome(quiet[28], "overridden")], NOW)
    report = feedback_report.build(store.rows())
    store.close()
    assert report["cards"] == 38
    assert report["by_rule"]["oa.knee.glucosamine"]["overridden"] == 7
    assert report["by_rule"]["oa.knee.glucosamine"]["reasons"] == {"not-applicable": 7}
    assert report["by_rule"]["oa.knee.exercise"]["override_rate"] == round(1 / 29, 3)
    assert report["by_kind"]["condition"]["shown"] == 30
    assert report["stand_out"] == ["oa.knee.glucosamine"]  # shared.rule is on every card: not singled out


def test_an_older_store_is_upgraded_and_a_newer_one_refused(target):
    store = Store(target)
    with store.engine.begin() as connection:  # a store made by a cdss that knew only the first migration
        schema_version.create(connection)
        MIGRATIONS[0](connection)
        connection.execute(schema_version.insert().values(version=1))
    assert store.migrate() == len(MIGRATIONS)
    with store.engine.begin() as connection:
        connection.execute(schema_version.insert().values(version=len(MIGRATIONS) + 5))
    with pytest.raises(StoreError, match="newer than this cdss knows"):
        store.migrate()
    store.close()


def test_report_cli_formats_and_errors(tmp_path):
    db = tmp_path / "feedback.sqlite"
    store = Store(str(db))
    store.migrate()
    card = shown("rule.<script>alert(1)</script>")
    store.record_shown([card], NOW)
    store.record_feedback([outcome(card, "overridden", "data-wrong")], NOW)
    store.close()
    runner = CliRunner()
    text = runner.invoke(main, ["feedback", "report", "--db", str(db)])
    assert text.exit_code == 0 and "data-wrong 1" in text.output
    data = json.loads(runner.invoke(main, ["feedback", "report", "--db", str(db), "--format", "json"]).output)
    assert data["overall"]["overridden"] == 1
    page = runner.invoke(main, ["feedback", "report", "--db", str(db), "--format", "html"]).output
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    missing = runner.invoke(main, ["feedback", "report", "--db", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 1 and "no feedback store there" in missing.output
    other = tmp_path / "other.sqlite"
    sa.create_engine(f"sqlite:///{other}").connect().execute(sa.text("CREATE TABLE x (y INT)")).close()
    assert "not a cdss feedback store" in runner.invoke(main, ["feedback", "report", "--db", str(other)]).output


@pytest.mark.slow
def test_serve_with_postgresql_end_to_end(tmp_path, postgres_url):
    if postgres_url.startswith("skip:"):
        pytest.skip(postgres_url[5:].strip())
    import httpx
    from tests.helpers.fhir import example_paths, hook_request
    from tests.helpers.server import running
    url = postgres.fresh_database(postgres_url)
    bundle = json.loads(example_paths()[0].read_text())
    with running(tmp_path, db=url) as (base, log):
        cards = httpx.post(base + "/cds-services/cdss-patient-view", json=hook_request(bundle, instance=str(uuid.uuid4())),
                           timeout=60).json()["cards"]
        answer = httpx.post(base + "/cds-services/cdss-patient-view/feedback", timeout=60, json={"feedback": [
            {"card": cards[0]["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-03-15T10:00:00Z",
             "overrideReason": {"reason": {"code": "already-done"}}}]})
        assert answer.status_code == 200, answer.text
        assert "Traceback" not in log.read_text()
    out = CliRunner().invoke(main, ["feedback", "report", "--db", url, "--format", "json"])
    assert json.loads(out.output)["overall"]["overridden"] == 1


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
def test_html_report_in_a_real_browser(tmp_path):
    """The page as Chromium lays it out: the stand-out table holds the noisy rule, bars have widths."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; .ci/browser.sh installs it): "
                    "the page was not checked in a real browser")
    cards = {}
    for n in range(10):
        cards[f"n{n}"] = {"service": "s", "kind": "do_not", "code": "glucosamine", "kb_version": "0.1.0",
                          "rules": ["noisy.rule"], "outcomes": [{"outcome": "overridden", "reason_code": "not-applicable",
                                                                 "reason_system": None}]}
    for n in range(40):
        cards[f"q{n}"] = {"service": "s", "kind": "condition", "code": "x", "kb_version": "0.1.0",
                          "rules": ["quiet.rule"], "outcomes": [{"outcome": "accepted", "reason_code": None, "reason_system": None}]}
    page = feedback_report.to_html(feedback_report.build(cards))
    probe = """<script>document.body.setAttribute("data-probe", JSON.stringify({
      standOut: Array.prototype.map.call(document.querySelectorAll("#stand-out tr[data-name]"), function (r) { return r.getAttribute("data-name"); }),
      bar: document.querySelector("#stand-out .bar").getBoundingClientRect().width,
      rules: document.querySelectorAll("#by-rule tr[data-name]").length}));</script>"""
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", probe + "</body>"))
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--dump-dom",
                          f"file://{path}"], capture_output=True, text=True, timeout=120)
    marker = out.stdout.split('data-probe="', 1)[1].split('"', 1)[0]
    import html as html_module
    seen = json.loads(html_module.unescape(marker))
    assert seen["standOut"] == ["noisy.rule"]
    assert seen["bar"] == 100
    assert seen["rules"] == 2
