"""`cdss audit coverage`: exact figures on a small corpus, the figures on the shipped cases, the JSON output
against schemas/audit.schema.json, and the command's exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from tests.helpers import rulekit
from cdss.audit import run as audit
from cdss.audit.report import json as audit_json, text as audit_text
from cdss import resources
from cdss.cli import main
from tests.helpers.paths import CASES, case_paths

R = rulekit.rule
AUDIT_SCHEMA = jsonschema.Draft202012Validator(resources.schema("audit"))
SUSPECT_KNEE = [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}}]


def small_rules(tmp_path: Path) -> Path:
    return rulekit.folder(tmp_path, [
        R("t.adult", {"field": "patient.age_years", "gte": 16}, [{"assert": "t.adult"}]),
        R("t.knee", {"all": [{"fact": "t.adult"}, {"any": [{"field": "pain.knee", "eq": "left"},
                                                         {"field": "pain.knee", "eq": "right"}]}]}, SUSPECT_KNEE),
        R("t.knee-left", {"all": [{"fact": "t.adult"}, {"field": "pain.knee", "eq": "left"}]},
          [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}}]),
        R("t.hip", {"all": [{"fact": "t.adult"}, {"field": "pain.hip", "eq": "both"}]},
          [{"recommend": {"code": "hip_examination", "urgency": "routine", "for": []}}]),
    ])


def small_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    (corpus / "knees").mkdir(parents=True)
    (corpus / "other").mkdir()
    (corpus / "knees" / "c1.json").write_text(json.dumps({
        "id": "c1", "patient": {"age_years": 50}, "pain": {"knee": "left"},
        "expected": {"rules_fired": ["t.knee"], "rules_not_fired": ["t.hip"]}}))
    (corpus / "knees" / "c2.json").write_text(json.dumps({
        "id": "c2", "patient": {"age_years": 50}, "expected": {"rules_not_fired": ["t.knee", "t.knee-left"]}}))
    (corpus / "other" / "more.jsonl").write_text(
        json.dumps({"id": "c3", "patient": {"age_years": 10}}) + "\n\n"
        + json.dumps({"id": "c4", "patient": {"age_years": 60}, "pain": {"knee": "left"}}) + "\n")
    return corpus


@pytest.mark.parametrize("jobs", [1, 2])
def test_figures_on_a_small_corpus(tmp_path, jobs):
    """The same exact figures whether the cases run in this process or in a pool of workers."""
    report = audit.audit_coverage([str(small_corpus(tmp_path))], small_rules(tmp_path), None, jobs=jobs)
    cov = report.coverage
    assert cov.cases == 4 and cov.case_errors == [] and cov.folders == ["knees", "other"]
    r = cov.rules
    assert (r["t.adult"].fired, r["t.knee"].fired, r["t.knee-left"].fired, r["t.hip"].fired) == (3, 2, 2, 0)
    assert r["t.knee"].positive == ["c1", "c4"] and r["t.knee"].negative == ["c2"]
    assert r["t.knee"].folders == {"knees": 1, "other": 1}
    assert [(b.label, b.covered) for b in r["t.knee"].branches] == [("pain.knee = left", 2), ("pain.knee = right", 0)]
    assert cov.rules_fired == 3 and (cov.branches_covered, cov.branches_total) == (1, 2)
    assert cov.fell_through == ["c2", "c3"]
    assert cov.conditions["knee_osteoarthritis"]["suspected"] == 2
    assert cov.shadowed == ["t.knee", "t.knee-left"]  # each always concluded what the other did
    assert cov.test_coverage_percent == 50.0  # t.knee and t.knee-left have a firing case and a near miss
    lists = cov.codes["lists"]
    assert lists["conditions"]["produced"] == 1 and "knee_osteoarthritis" not in lists["conditions"]["unproducible"]
    assert "hip_examination" in lists["recommendations"]["never_produced"]
    assert "hip_examination" not in lists["recommendations"]["unproducible"]
    assert "xray_hip" in lists["recommendations"]["unproducible"]
    checks = {(f.check, f.rule) for f in report.findings}
    assert ("never-fired", "t.hip") in checks and ("no-near-miss", "t.adult") in checks
    assert ("branch-not-covered", "t.knee") in checks and ("always-shadowed", "t.knee") in checks
    line = next(f for f in report.findings if f.check == "branch-not-covered").line
    assert "pain.knee" in (tmp_path / "rules" / "test.yaml").read_text().splitlines()[line - 1]
    AUDIT_SCHEMA.validate(audit_json.to_dict(report))


def test_a_worker_that_dies_costs_the_audit_only_its_case(tmp_path, monkeypatch):
    """As in `cdss batch`: the case that kills its worker (a durable-rules crash) becomes a case error, a
    fresh worker takes over, and every other case is audited."""
    from cdss.audit.coverage import Recorders
    real = Recorders.__call__

    def deadly(self, item):
        if item.raw and b'"c2"' in item.raw:
            os._exit(9)
        return real(self, item)

    monkeypatch.setattr(Recorders, "__call__", deadly)  # inherited by the forked workers
    report = audit.audit_coverage([str(small_corpus(tmp_path))], small_rules(tmp_path), None, jobs=2)
    cov = report.coverage
    assert cov.cases == 3
    assert cov.case_errors == [(str(tmp_path / "corpus" / "knees" / "c2.json"),
                                f"{tmp_path / 'corpus' / 'knees' / 'c2.json'}: /: the worker process died while "
                                "auditing this case (exit code 9); the worker was replaced and the run went on")]
    assert cov.rules["t.knee"].positive == ["c1", "c4"]


def test_fail_under_and_case_errors_set_the_exit_code(tmp_path):
    rules, corpus = small_rules(tmp_path), small_corpus(tmp_path)
    named = tmp_path / "named"
    named.mkdir()
    ids = ["t.adult", "t.knee", "t.knee-left", "t.hip"]
    (named / "n.json").write_text(json.dumps({"id": "n", "patient": {"age_years": 1},
                                              "expected": {"rules_fired": ids, "rules_not_fired": ids}}))
    base = ["audit", "coverage", str(corpus), "--rules", str(rules), "--cases", str(named)]
    runner = CliRunner()
    passed = runner.invoke(main, base + ["--fail-under", "50"])
    assert passed.exit_code == 0, passed.output
    assert passed.output.rstrip().splitlines()[-1].strip() == "result:     OK"
    failed = runner.invoke(main, base + ["--fail-under", "60"])
    assert failed.exit_code == 1 and "test coverage 50.0% is under 60%" in failed.output
    (corpus / "other" / "bad.json").write_text(json.dumps({"id": "bad", "patient": {"age_years": 50}, "pain": {"kne": "left"}}))
    broken = runner.invoke(main, base + ["--format", "json"])
    assert broken.exit_code == 1, broken.output
    data = json.loads(broken.stdout)
    AUDIT_SCHEMA.validate(data)
    error, = [f for f in data["findings"] if f["check"] == "case-error"]
    assert error["severity"] == "error" and error["file"].endswith("bad.json") and "knee" in error["message"]
    usage = runner.invoke(main, ["audit", "coverage", str(tmp_path / "nowhere"), "--rules", str(rules)])
    assert usage.exit_code == 2


# -- the shipped cases ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped(shipped_coverage_audit):
    return shipped_coverage_audit


def test_coverage_of_the_shipped_cases(shipped):
    cov = shipped.coverage
    assert cov.cases == len(case_paths()) and cov.case_errors == []
    assert cov.rules_fired == len(cov.rules) == len(shipped.rules)  # every rule fires on some shipped case
    assert cov.test_coverage_percent == 100.0 and shipped.ok
    assert cov.codes["produced"] == cov.codes["producible"]
    assert 0.5 * cov.branches_total < cov.branches_covered < cov.branches_total
    assert "der-age-44-band" in cov.fell_through  # a derived-fact case: no condition, no red flag
    assert set(cov.folders) == {p.name for p in CASES.iterdir() if p.is_dir()}
    assert cov.pathways["osteoarthritis"]["cases"]["probable"] > 0
    assert cov.red_flags["paediatric_case"]["confirmed"] > 0
    assert not [f.describe() for f in shipped.findings if f.severity == "error"]


def test_the_shipped_cases_produce_every_contract_code(shipped):
    cov = shipped.coverage
    assert cov.codes["produced"] == cov.codes["total"]


def test_every_finding_names_a_file_that_exists(shipped, tmp_path):
    """A finding about the vocabulary (a code no rule produces) points at the vocabulary file itself. The
    shipped rule base produces every code, so a small rule folder that leaves most codes out shows it."""
    assert [f for f in shipped.findings if f.check.startswith("code-")] == []
    missing = {f.place.file for f in shipped.findings if not Path(f.place.file).exists()}
    assert missing == set()
    small = audit.audit_coverage([str(small_corpus(tmp_path))], small_rules(tmp_path), None)
    about_codes = [f for f in small.findings if f.check.startswith("code-")]
    assert {f.check for f in about_codes} == {"code-unproducible", "code-never-produced"}
    assert all(f.place.file == str(resources.VOCABULARY_FILE) for f in about_codes)
    assert {f.place.file for f in small.findings if not Path(f.place.file).exists()} == set()


def test_shipped_json_validates_against_its_schema(shipped, shipped_rules_audit):
    data = audit_json.to_dict(shipped)
    AUDIT_SCHEMA.validate(data)
    summary = data["summary"]
    assert summary["rules_fired"] == summary["rules"] and summary["test_coverage_percent"] == 100.0
    assert len(data["coverage"]["rules"]) == summary["rules"]
    rules_only = shipped_rules_audit
    AUDIT_SCHEMA.validate(json.loads(audit_json.to_json(rules_only)))


def test_text_report_ends_with_the_summary(shipped):
    text = audit_text.to_text(shipped)
    tail = text.rstrip().splitlines()
    assert tail[-1].strip() == "result:     OK"
    assert any(line.startswith("Summary") for line in tail[-12:])
    assert "fired:      %d of %d rules" % (shipped.coverage.rules_fired, len(shipped.rules)) in text
