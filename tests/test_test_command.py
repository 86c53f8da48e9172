"""`cdss test`: cases with `expected` as tests of the rules, shaped like `opa test` and `pytest`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from click.testing import CliRunner

from cdss.cli import main
from tests.helpers.rulekit import folder, rule

KNEE = ["left", "right", "both"]


def rules(tmp_path):
    return folder(tmp_path, [
        rule("t.adult", {"field": "patient.age_years", "gte": 16}, [{"assert": "t.adult"}]),
        rule("t.knee", {"all": [{"fact": "t.adult"}, {"field": "pain.knee", "in": KNEE}]},
             [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}},
              {"recommend": {"code": "exercise_therapy", "urgency": "routine", "for": ["knee_osteoarthritis"]}}]),
        rule("t.xray", {"all": [{"condition": "knee_osteoarthritis"}, {"field": "pain.duration_weeks", "gte": 12}]},
             [{"recommend": {"code": "xray_knee", "urgency": "routine", "for": ["knee_osteoarthritis"]}}]),
    ])


def case(case_id, age, weeks=None, **expected):
    data = {"id": case_id, "patient": {"age_years": age}, "pain": {"hip": "none", "knee": "left"}}
    if weeks is not None:
        data["pain"]["duration_weeks"] = weeks
    if expected:
        data["expected"] = expected
    return data


def corpus(tmp_path, extra=()):
    cases = tmp_path / "cases" / "knee"
    cases.mkdir(parents=True, exist_ok=True)
    items = [
        case("knee-xray", 60, 20, recommendations=["xray_knee"], rules_fired=["t.xray", "t.knee"]),
        case("knee-short", 60, 4, absent=["xray_knee"], rules_not_fired=["t.xray"]),
        case("child", 12, recommendations=["exercise_therapy"], rules_not_fired=["t.knee", "t.adult"]),
        case("no-expectations", 40),
        case("nhg-only", 40, profile="nhg", recommendations=["xray_knee"]),
        *extra,
    ]
    for item in items:
        (cases / f"{item['id']}.json").write_text(json.dumps(item))
    (cases / "broken.json").write_text('{"id": "broken", "patient": {"age_years": -4}}')
    return tmp_path / "cases"


def run_test(tmp_path, *args, paths=None):
    cases = paths or [str(corpus(tmp_path))]
    return CliRunner().invoke(main, ["test", *cases, "--rules", str(rules(tmp_path)), "-j", "1", *args])


def test_one_line_per_failing_case_and_the_summary_last(tmp_path):
    done = run_test(tmp_path)
    assert done.exit_code == 1
    lines = done.stdout.strip().splitlines()
    fails = [line for line in lines if line.startswith("FAIL")]
    assert fails == [f"FAIL child ({tmp_path}/cases/knee/child.json): recommendations: expected exercise_therapy, "
                     "but it is not in the result"]
    errors = [line for line in lines if line.startswith("ERROR")]
    assert len(errors) == 1 and "broken.json: /patient/age_years" in errors[0]
    assert lines[-1].startswith("2 passed, 1 failed, 1 error, 2 skipped in ")
    assert "PASS" not in done.stdout


def test_verbose_lists_every_case_and_all_pass_exits_0(tmp_path):
    done = run_test(tmp_path, "-v", "--run", "^knee-")
    assert done.exit_code == 0, done.output
    assert "PASS knee-xray" in done.stdout and "PASS knee-short" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("2 passed, 0 failed, 4 deselected in ")


def test_run_selects_cases_by_id_or_by_a_rule_they_pin(tmp_path):
    by_rule = run_test(tmp_path, "--run", r"^t\.xray$", "--format", "json")
    data = json.loads(by_rule.stdout)
    assert sorted(c["case_id"] for c in data["cases"]) == ["knee-short", "knee-xray"]
    by_id = json.loads(run_test(tmp_path, "--run", "child", "--format", "json").stdout)
    assert [c["case_id"] for c in by_id["cases"]] == ["child"] and by_id["failed"] == 1
    nothing = run_test(tmp_path, "--run", "zzz")
    assert nothing.exit_code == 1 and "no cases found" in nothing.output
    bad = run_test(tmp_path, "--run", "(")
    assert bad.exit_code == 2 and "not a regular expression" in bad.output


def test_coverage_and_threshold(tmp_path):
    done = run_test(tmp_path, "--run", "^knee-", "--coverage", "--threshold", "60")
    # t.xray: fired (knee-xray) and a near miss (knee-short); t.knee and t.adult: no near miss among the
    # selected cases
    assert "coverage: 1 of 3 rules (33.3 %) have a firing case and a near miss (threshold 60 %: FAIL)" in done.stdout
    assert "no near miss: t.adult, t.knee" in done.stdout
    assert done.exit_code == 1  # every case passed, but coverage is under the threshold
    scoped = run_test(tmp_path, "--run", r"t\.xray", "--coverage", "--threshold", "100")
    assert scoped.exit_code == 0 and "1 of 1 rules (100.0 %)" in scoped.stdout
    assert run_test(tmp_path, "--threshold", "50").exit_code == 2


def test_json_report(tmp_path):
    data = json.loads(run_test(tmp_path, "--format", "json", "--coverage").stdout)
    assert (data["passed"], data["failed"], data["errors"], data["skipped"]) == (2, 1, 1, 2)
    assert data["knowledge_base"]["version"] == "9.9.9" and data["ok"] is False
    by_id = {c["case_id"]: c for c in data["cases"]}
    assert by_id["child"]["differences"] == ["recommendations: expected exercise_therapy, but it is not in the result"]
    assert by_id["nhg-only"]["status"] == "skip" and by_id["nhg-only"]["message"] == "expectations for profile nhg"
    assert data["coverage"]["rules"] == 3


def test_junit_xml_for_ci(tmp_path):
    out = tmp_path / "report.xml"
    done = run_test(tmp_path, "--format", "junit", "-o", str(out), "--coverage", "--threshold", "100")
    assert done.exit_code == 1
    root = ET.fromstring(out.read_bytes())
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("7", "1", "1", "2")
    [suite] = [s for s in root if s.get("name").endswith("cases/knee")]
    assert suite.get("tests") == "6"
    child = suite.find("testcase[@name='child']")
    assert child.get("classname").endswith("cases.knee") and child.get("file").endswith("child.json")
    assert child.find("failure").get("message").startswith("recommendations: expected exercise_therapy")
    assert suite.find("testcase[@name='broken']/error") is not None
    assert suite.find("testcase[@name='no-expectations']/skipped") is not None
    assert root.find("testsuite[@name='coverage']/testcase") is not None  # 100 %: a passing test case
    below = ET.fromstring(run_test(tmp_path, "--format", "junit", "--run", "^knee-", "--coverage", "--threshold",
                                   "100").stdout.encode())
    failure = below.find("testsuite[@name='coverage']/testcase/failure")
    assert failure is not None and failure.get("message") == "33.3 % < 100 %"


def test_junit_survives_hostile_text(tmp_path):
    hostile = case("x", 60, recommendations=["xray_knee"])
    hostile["id"] = "<x&y>\u0001\"]]>"
    cases = corpus(tmp_path, extra=[dict(hostile, id="evil")])
    (cases / "knee" / "evil.json").write_text(json.dumps(hostile))
    done = run_test(tmp_path, "--format", "junit", paths=[str(cases)])
    root = ET.fromstring(done.stdout.encode())  # well-formed XML despite the id
    assert any("<x&y>" in (e.get("name") or "") for e in root.iter("testcase"))


def test_default_is_cases_in_the_working_folder(tmp_path, monkeypatch):
    corpus(tmp_path)
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(main, ["test", "--rules", str(rules(tmp_path)), "-j", "1"])
    assert done.stdout.strip().splitlines()[-1].startswith("2 passed, 1 failed, 1 error, 2 skipped")


def test_the_direct_engine_gives_the_same_report(tmp_path):
    reports = []
    for engine in ("durable", "direct"):
        data = json.loads(run_test(tmp_path, "--format", "json", "--coverage", "--engine", engine).stdout)
        data.pop("seconds")
        for case in data["cases"]:
            case.pop("seconds", None)
        reports.append(data)
    assert reports[0] == reports[1] and reports[0]["passed"] == 2
