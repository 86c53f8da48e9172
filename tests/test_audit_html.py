"""`cdss audit ... --html FILE`: one self-contained page, checked as written and as a real browser shows it.

The browser is Debian's chromium (installed by .ci/browser.sh). Where it is not installed, the browser
tests say so and are skipped; nothing stands in for it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile

import pytest
from click.testing import CliRunner

from cdss.audit import run as audit
from cdss.audit.report import html as audit_html
from cdss.cli import main
from tests.helpers import rulekit
from tests.helpers.paths import CASES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Appended to a copy of the page (never to the page itself): measures what the browser laid out.
PROBE = """<script>
(function () {
  var q = function (s) { return Array.prototype.slice.call(document.querySelectorAll(s)); };
  var box = function (el) { var r = el.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; };
  document.body.setAttribute("data-probe", JSON.stringify({
    chart: box(document.getElementById("pathway-chart")),
    bars: q("#pathway-chart rect.bar").map(function (r) {
      return {pathway: r.getAttribute("data-pathway"), series: r.getAttribute("data-series"),
              width: r.getBoundingClientRect().width}; }),
    heatRows: q("#heatmap tbody tr[data-rule]").length,
    heatColumns: q("#heatmap th.folder").length,
    heat: box(document.getElementById("heatmap")),
    findingRows: q("#findings tr.finding").length,
    findings: box(document.getElementById("findings")),
    title: document.title
  }));
})();
</script>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory, shipped_coverage_audit):
    report = shipped_coverage_audit
    path = tmp_path_factory.mktemp("audit") / "audit.html"
    audit_html.write(report, path)
    return report, path


def _chromium(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; .ci/browser.sh installs it): "
                    "the page was not checked in a real browser")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=False)


def test_page_is_self_contained(page):
    report, path = page
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for banned in ("<script", "<link", "@import", "url(", "src=", "href="):
        assert banned not in text, banned
    # The only URL on the page is the SVG namespace, which is a name, never fetched.
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {"http://www.w3.org/2000/svg"}
    assert 'id="pathway-chart"' in text and 'id="heatmap"' in text and 'id="findings"' in text


@pytest.mark.slow
def test_browser_shows_the_chart_the_heatmap_and_the_findings(page, tmp_path):
    report, path = page
    probe = tmp_path / "probe.html"
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = _chromium("--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert found, "the browser did not run the page to the end"
    shown = json.loads(html.unescape(found.group(1)))
    cov = report.coverage
    assert shown["title"] == "cdss audit: coverage"
    assert shown["chart"][0] > 500 and shown["chart"][1] > 200
    assert len(shown["bars"]) == 3 * len(cov.pathways)
    full = max(bar["width"] for bar in shown["bars"])
    for bar in shown["bars"]:
        p = cov.pathways[bar["pathway"]]
        part, whole = {"rules fired": (p["rules_fired"], p["rules"]),
                       "branches covered": (p["branches_covered"], p["branches"]),
                       "rules tested (+ and -)": (p["tested"], p["rules"])}[bar["series"]]
        if whole:
            assert abs(bar["width"] - full * part / whole) < 1.5, bar  # bars drawn to scale
    assert shown["heatRows"] == len(report.rules) and shown["heatColumns"] == len(cov.folders)
    assert shown["heat"][1] > 20 * len(report.rules)
    assert shown["findingRows"] == len(report.findings) and shown["findings"][1] > 100


@pytest.mark.slow
def test_screenshot(page, tmp_path):
    _, path = page
    shot = tmp_path / "audit.png"
    done = _chromium("--window-size=1280,2000", f"--screenshot={shot}", path.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a real, non-blank rendering


def test_cli_writes_the_page_for_both_commands(tmp_path):
    # a small rule folder: the shipped rule base's page is the `page` fixture's (its audit takes ~40 s)
    rules = rulekit.folder(tmp_path, [rulekit.rule("t.adult", {"field": "patient.age_years", "gte": 18},
                                                   [{"assert": "t.adult"}]),
                                      rulekit.rule("t.knee", {"all": [{"fact": "t.adult"},
                                                                      {"field": "pain.knee", "eq": "left"}]},
                                                   [{"warn": {"code": "t_knee", "en": "left knee", "nl": "linkerknie"}}])])
    runner = CliRunner()
    target = tmp_path / "rules.html"
    done = runner.invoke(main, ["audit", "rules", "--rules", str(rules), "--html", str(target), "--format", "json"])
    assert done.exit_code == 1, done.output  # the two rules have no cases (errors): the page is written all the same
    json.loads(done.stdout)  # standard output stays pure JSON; the note goes to standard error
    text = target.read_text(encoding="utf-8")
    assert "cdss audit: rules" in text and 'id="heatmap"' in text and 'id="pathway-chart"' in text
