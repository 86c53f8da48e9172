"""Bad input gets one clear error naming the file, the field (JSON pointer) and what was expected;
never a traceback, and exit code 1."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cdss.cli import main
from cdss.io import cases
from tests.helpers.rulekit import folder, rule

GOOD = {"id": "bad-input", "patient": {"age_years": 60}, "pain": {"hip": "left", "knee": "left"}}


def run(*args, input=None):
    result = CliRunner().invoke(main, list(args), input=input)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def write(tmp_path, content, name="case.json"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def with_change(change):
    data = json.loads(json.dumps(GOOD))
    change(data)
    return json.dumps(data)


def test_broken_json_names_line_and_column(tmp_path):
    path = write(tmp_path, '{\n  "id": "x",\n  "patient": {"age_years": 60,}\n}')
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert f"{path}: /: broken JSON at line 3, column" in result.output


def test_wrong_type_names_the_field(tmp_path):
    path = write(tmp_path, with_change(lambda d: d["patient"].update(age_years="sixty")))
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert f"{path}: /patient/age_years: expected integer" in result.output


def test_unknown_field_suggests_the_closest_name(tmp_path):
    path = write(tmp_path, with_change(lambda d: d.update(imaging={"xray_hp": {"findings": ["normal"]}})))
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert "/imaging/xray_hp: unknown field 'xray_hp'; did you mean 'xray_hip'?" in result.output


def test_a_misspelt_required_field_is_reported_as_the_misspelling(tmp_path):
    """The typo also leaves a required field missing; the one error shown is the one to fix."""
    path = write(tmp_path, with_change(lambda d: d["patient"].update(age_yaers=d["patient"].pop("age_years"))))
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert "/patient/age_yaers: unknown field 'age_yaers'; did you mean 'age_years'?" in result.output
    assert "missing" not in result.output


@pytest.mark.parametrize("change, pointer, expected", [
    (lambda d: d["patient"].update(age_years=200), "/patient/age_years", "expected a value from 0 to 120; got 200"),
    (lambda d: d["pain"].update(duration_weeks=-2), "/pain/duration_weeks", "expected a value of at least 0; got -2"),
    (lambda d: d.update(imaging={"xray_hip": {"findings": ["normal", "osteophytes"]}}), "/imaging/xray_hip/findings",
     "'normal' must stand alone"),
])
def test_impossible_values(tmp_path, change, pointer, expected):
    path = write(tmp_path, with_change(change))
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert f"{path}: {pointer}: {expected}" in result.output


def test_missing_required_field(tmp_path):
    path = write(tmp_path, json.dumps({"id": "x", "patient": {}}))
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert "/patient/age_years: required field 'age_years' is missing" in result.output


def test_empty_file(tmp_path):
    path = write(tmp_path, "  \n")
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert f"{path}: /: the file is empty; expected one JSON object (a case)" in result.output


def test_non_utf8_bytes(tmp_path):
    path = write(tmp_path, b'{"id": "x\xff", "patient": {"age_years": 60}}')
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert "not UTF-8 text: invalid byte at offset 9" in result.output


def test_a_case_over_one_mebibyte_is_refused_before_parsing(tmp_path):
    path = write(tmp_path, '{"id": "x", "patient": {"age_years": 60}, "pad": "' + "a" * (1024 * 1024) + '"}')
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert "a case may hold at most 1048576 (1 MiB)" in result.output


def test_not_an_object(tmp_path):
    result = run("evaluate", write(tmp_path, "[1, 2]"))
    assert result.exit_code == 1
    assert "expected one JSON object (a case), got a list" in result.output


def test_json_output_of_a_bad_case_is_an_error_result(tmp_path):
    path = write(tmp_path, with_change(lambda d: d["patient"].update(age_years=200)))
    result = CliRunner().invoke(main, ["evaluate", path, "--format", "json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)
    assert error["status"] == "error"
    assert error["error"] == {"file": path, "pointer": "/patient/age_years",
                              "message": "expected a value from 0 to 120; got 200"}


def test_broken_rule_file_names_file_rule_and_line(tmp_path):
    text = """pathway: test
title: {en: t, nl: t}
rules:
  - id: t.first
    title: {en: a, nl: a}
    status: stable
    sources: [clinical consensus]
    when: {field: patient.age_years, gte: 16}
    then: [{assert: t.adult}]
    rationale: {en: a, nl: a}
  - id: t.second
    title: {en: b, nl: b}
    status: stable
    sources: [clinical consensus]
    when: {field: pain.hipp, eq: left}
    then: [{assert: t.hip}]
    rationale: {en: b, nl: b}
"""
    rules = folder(tmp_path, [], text=text)
    case = write(tmp_path, json.dumps(GOOD))
    result = run("evaluate", case, "--rules", str(rules))
    assert result.exit_code == 1
    assert f"{rules}/test.yaml:15: rule t.second: no case field 'pain.hipp'; did you mean 'pain.hip'?" in result.output


def test_rule_file_schema_error_names_rule_and_line(tmp_path):
    rules = folder(tmp_path, [rule("t.x", {"field": "pain.hip", "equals": "left"}, [{"assert": "t.y"}])])
    result = run("rules", "list", "--rules", str(rules))
    assert result.exit_code == 1
    assert "test.yaml:" in result.output and "rule t.x:" in result.output


def test_rule_file_with_a_python_tag_is_refused(tmp_path):
    rules = folder(tmp_path, [], text="pathway: !!python/object/apply:os.system ['echo hi']\n")
    result = run("rules", "list", "--rules", str(rules))
    assert result.exit_code == 1
    assert "test.yaml:1: YAML tags are not allowed in rule files" in result.output


def test_rule_file_with_an_alias_is_refused(tmp_path):
    rules = folder(tmp_path, [], text="a: &x [1, 2]\nb: *x\n")
    result = run("rules", "list", "--rules", str(rules))
    assert result.exit_code == 1
    assert "anchors and aliases are not allowed in rule files" in result.output


def test_unknown_code_in_a_rule(tmp_path):
    rules = folder(tmp_path, [rule("t.x", {"field": "pain.hip", "eq": "left"},
                                   [{"recommend": {"code": "xray_hipp", "urgency": "routine", "for": []}}])])
    result = run("rules", "list", "--rules", str(rules))
    assert result.exit_code == 1
    assert "rule t.x: unknown recommendation code 'xray_hipp'" in result.output


def test_duplicate_rule_id(tmp_path):
    same = rule("t.x", {"field": "pain.hip", "eq": "left"}, [{"assert": "t.y"}])
    rules = folder(tmp_path, [same, json.loads(json.dumps(same))])
    result = run("rules", "list", "--rules", str(rules))
    assert result.exit_code == 1
    assert "rule t.x: duplicate rule id" in result.output


def test_usage_error_exits_2():
    assert run("evaluate").exit_code == 2
    assert run("no-such-command").exit_code == 2


def test_a_rule_file_changed_after_a_valid_load_is_validated_again(tmp_path, monkeypatch):
    """The 'already validated' marker is keyed by the rule files' bytes: an edit is always re-checked."""
    monkeypatch.setenv("CDSS_CACHE", str(tmp_path / "cache"))
    rules = folder(tmp_path, [rule("t.x", {"field": "pain.hip", "eq": "left"}, [{"assert": "t.y"}])])
    assert run("rules", "list", "--rules", str(rules)).exit_code == 0
    assert list((tmp_path / "cache").iterdir())
    text = (rules / "test.yaml").read_text().replace("eq: left", "equals: left")
    (rules / "test.yaml").write_text(text)
    result = run("rules", "list", "--rules", str(rules))
    assert result.exit_code == 1 and "rule t.x:" in result.output


def test_a_lone_surrogate_is_refused_where_it_is(tmp_path):
    """A \\u escape of half a surrogate pair decodes to text that is not Unicode: echoed into a result or an
    error record (the case id), it could not be written, and it once stopped a whole batch."""
    path = write(tmp_path, '{"id": "x\\ud800", "patient": {"age_years": 60}}')
    result = run("evaluate", path)
    assert result.exit_code == 1
    assert f"{path}: /id: expected Unicode text; a \\u escape from D800 to DFFF" in result.output
    key = write(tmp_path, '{"id": "x", "patient": {"age\\udc00": 60}}', "key.json")
    assert f"{key}: /patient: a field name here: expected Unicode text" in run("evaluate", key).output
    pair = cases.decode(b'{"id": "x", "note": "\\ud83d\\ude00"}', "pair.json")  # a whole pair is one character
    assert pair["note"] == "\U0001f600"
