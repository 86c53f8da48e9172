"""`cdss diff --format html`: one self-contained page, checked as written and as a real browser lays it out.

The browser is Debian's chromium (.ci/browser.sh installs it); where it is missing, the browser tests say
so and are skipped; nothing stands in for it.
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

from cdss.cli import main
from tests.test_diff import CORPUS, corpus, new_red_flag, removed_rule, two_versions

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Appended to a copy of the page (never to the page itself): measures what the browser laid out.
PROBE = """<script>
(function () {
  var q = function (s) { return Array.prototype.slice.call(document.querySelectorAll(s)); };
  var box = function (el) { var r = el.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; };
  document.body.setAttribute("data-probe", JSON.stringify({
    title: document.title,
    chart: box(document.getElementById("change-chart")),
    bars: q("#change-chart rect.bar").map(function (r) {
      return {type: r.getAttribute("data-type"), cases: +r.getAttribute("data-cases"),
              width: r.getBoundingClientRect().width}; }),
    typeRows: q("#change-types tbody tr").map(function (r) { return r.getAttribute("data-type"); }),
    firingRows: q("#firing tr.rule").map(function (r) { return r.getAttribute("data-rule"); }),
    cases: q("#changed-cases details.case").map(function (d) { return d.getAttribute("data-case"); }),
    sideRows: q("table.side tr[data-code]").map(function (r) {
      return {code: r.getAttribute("data-code"), mark: r.querySelector("td.mark").textContent,
              height: r.getBoundingClientRect().height}; }),
    verdict: (document.getElementById("verdict") || {}).textContent || ""
  }));
})();
</script>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("diff")
    base, new = two_versions(tmp_path, new_red_flag)
    target = tmp_path / "diff.html"
    done = CliRunner().invoke(main, ["diff", "--base", str(base), "--rules", str(new), str(corpus(tmp_path)),
                                     "--format", "html", "-o", str(target), "--show", "c-hot",
                                     "--fail-on", "red_flag_added", "-j", "1"])
    assert done.exit_code == 1, done.output  # --fail-on red_flag_added: the new flag holds the change
    data = json.loads(CliRunner().invoke(main, ["diff", "--base", str(base), "--rules", str(new),
                                                str(corpus(tmp_path)), "--format", "json", "-j", "1"]).stdout)
    return target, data


def _chromium(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; .ci/browser.sh installs it): "
                    "the page was not checked in a real browser")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=False)


def test_page_is_self_contained_and_escapes_what_it_shows(page, tmp_path):
    target, _ = page
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for banned in ("<script", "<link", "@import", "url(", "src=", "href="):
        assert banned not in text, banned
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {"http://www.w3.org/2000/svg"}
    assert 'id="change-chart"' in text and 'id="change-types"' in text and 'id="firing"' in text
    # a hostile case id is shown as text, never as markup
    base, new = two_versions(tmp_path, removed_rule)
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text(json.dumps(dict(CORPUS[2], id="x-<script>alert(1)</script>")) + "\n")
    done = CliRunner().invoke(main, ["diff", "--base", str(base), "--rules", str(new), str(hostile),
                                     "--format", "html", "--show", "all", "-j", "1"])
    assert "<script>" not in done.stdout and "invalid" in done.stdout  # the id is invalid: listed, escaped
    assert "&lt;script&gt;" in done.stdout


@pytest.mark.slow
def test_browser_shows_the_chart_the_tables_and_the_side_by_side(page, tmp_path):
    target, data = page
    probe = tmp_path / "probe.html"
    probe.write_text(target.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = _chromium("--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert found, "the browser did not run the page to the end"
    shown = json.loads(html.unescape(found.group(1)))
    assert shown["title"] == "cdss diff"
    assert shown["typeRows"] == list(data["change_types"])
    assert [b["type"] for b in shown["bars"]] == list(data["change_types"])
    full = max(b["width"] for b in shown["bars"])
    most = max(b["cases"] for b in shown["bars"])
    for bar in shown["bars"]:
        assert bar["cases"] == data["change_types"][bar["type"]]["cases"]
        assert abs(bar["width"] - full * bar["cases"] / most) < 1.5, bar  # drawn to scale
    assert shown["chart"][0] > 500 and shown["chart"][1] >= 24 * len(shown["bars"])
    assert shown["firingRows"] == [f["rule"] for f in data["firing"]]
    assert shown["cases"] == [c["case_id"] for c in data["changed_cases"]]
    marks = {row["code"]: row["mark"] for row in shown["sideRows"]}
    assert marks["septic_arthritis"] == "+" and marks["exercise_therapy"] == "-"
    assert all(row["height"] > 10 for row in shown["sideRows"])  # the open case's table is laid out
    assert shown["verdict"].startswith("FAIL: red_flag_added")


@pytest.mark.slow
def test_screenshot(page, tmp_path):
    target, _ = page
    shot = tmp_path / "diff.png"
    done = _chromium("--window-size=1280,1600", f"--screenshot={shot}", target.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30_000  # a real, non-blank rendering
