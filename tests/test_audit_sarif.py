"""`cdss audit ... --format sarif`: SARIF 2.1.0, validated against the OASIS schema (vendored in
tests/data: no network in tests); and `--fail-on error|warning` on both audit commands."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from cdss.audit.report import sarif
from cdss.cli import main
from tests.helpers.rulekit import folder, rule

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def rules_with_findings(tmp_path):
    """An unused fact (a warning) and a missing Dutch title (an error)."""
    return folder(tmp_path, [
        rule("t.adult", {"field": "patient.age_years", "gte": 16}, [{"assert": "t.adult"}]),
        rule("t.knee", {"field": "pain.knee", "eq": "left"},
             [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}}], title={"en": "Knee", "nl": ""}),
    ])


def audit(*args):
    return CliRunner().invoke(main, ["audit", *args])


def test_sarif_validates_against_the_schema_and_carries_rule_file_line_and_level(tmp_path, monkeypatch):
    rules = rules_with_findings(tmp_path)
    empty = tmp_path / "no-cases"
    empty.mkdir()
    monkeypatch.chdir(tmp_path)
    done = audit("rules", "--rules", str(rules), "--cases", str(empty), "--format", "sarif")
    assert done.exit_code == 1  # an error finding
    log = json.loads(done.stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    assert run["tool"]["driver"]["name"] == "cdss"
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    by_kind = {r["ruleId"]: r for r in run["results"]}
    assert {"missing-dutch", "unused-fact"} <= set(by_kind) <= set(rule_ids)
    dutch = by_kind["missing-dutch"]
    assert dutch["level"] == "error" and rule_ids[dutch["ruleIndex"]] == "missing-dutch"
    location = dutch["locations"][0]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": "rules/test.yaml", "uriBaseId": "SRCROOT"}
    assert location["physicalLocation"]["region"]["startLine"] > 1
    assert location["logicalLocations"] == [{"name": "t.knee", "kind": "rule"}]
    assert by_kind["unused-fact"]["level"] == "warning"
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == tmp_path.resolve().as_uri() + "/"


def test_sarif_of_the_shipped_rules_and_of_coverage_validates(shipped_rules_audit, shipped_coverage_audit):
    # the shipped rule base's audits are the session's (their reasoning takes tens of seconds), rendered as
    # `cdss audit rules|coverage --format sarif` renders them (the command's own path is tested above)
    for report in (shipped_rules_audit, shipped_coverage_audit):
        jsonschema.Draft4Validator(SCHEMA).validate(json.loads(sarif.to_sarif(report)))


def test_fail_on_warning_and_error_on_both_commands(tmp_path):
    rules = folder(tmp_path, [rule("t.adult", {"field": "patient.age_years", "gte": 16}, [{"assert": "t.adult"}],
                                   status="draft")])  # a draft needs no test cases: only the warning stays
    empty = tmp_path / "no-cases"
    empty.mkdir()
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"id": "a", "patient": {"age_years": 40}}) + "\n")
    for command in (["rules"], ["coverage", str(cases), "-j", "1"]):
        base = [*command, "--rules", str(rules), "--cases", str(empty)]
        plain = audit(*base, "--format", "json")
        counts = json.loads(plain.stdout)["summary"]["findings"]
        assert counts["error"] == 0 and counts["warning"] > 0, counts  # the unused fact
        assert plain.exit_code == 0
        assert audit(*base, "--fail-on", "error").exit_code == 0
        strict = audit(*base, "--fail-on", "warning")
        assert strict.exit_code == 1, command
        assert audit(*base, "--fail-on", "info").exit_code == 2
