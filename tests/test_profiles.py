"""Guideline profiles (pathways.md, "Guideline profile"): a rule names its profiles in data; a run keeps the
rules of one profile and names it in every result; every command that evaluates takes --profile."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from cdss.errors import RuleFileError
from cdss.kb.loader import load
from tests.helpers import rulekit



def knee() -> dict:
    return {"field": "pain.knee", "in": ["left", "right", "both"]}


RULES = [
    rulekit.rule("t.both", knee(), [{"recommend": {"code": "exercise_therapy", "urgency": "routine", "for": ["knee_osteoarthritis"]}}]),
    rulekit.rule("t.nhg-only", knee(), [{"recommend": {"code": "topical_nsaid", "urgency": "routine", "for": ["knee_osteoarthritis"]}}],
                 profiles=["nhg"]),
    rulekit.rule("t.nice-only", knee(), [{"advise_against": {"code": "routine_paracetamol", "for": ["knee_osteoarthritis"]}}], profiles=["nice"]),
]
CASE = {"id": "knee-1", "patient": {"age_years": 60}, "pain": {"knee": "left"}}


@pytest.fixture
def folder(tmp_path):
    return rulekit.folder(tmp_path, RULES)


def _cdss(*args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "cdss.cli", *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_load_keeps_the_rules_of_one_profile(folder):
    nice, nhg = load(folder), load(folder, profile="nhg")
    assert [r.id for r in nice.rules] == ["t.both", "t.nice-only"]
    assert [r.id for r in nhg.rules] == ["t.both", "t.nhg-only"]
    assert [r.order for r in nhg.rules] == [0, 1]
    assert (nice.identity.profile, nhg.identity.profile) == ("nice", "nhg")
    assert nice.identity.sha256 == nhg.identity.sha256  # the same files; the profile tells the runs apart
    assert nhg.identity.to_dict() == {"version": "9.9.9", "sha256": nhg.identity.sha256, "profile": "nhg"}


def test_an_unknown_profile_is_refused(folder):
    with pytest.raises(RuleFileError, match="unknown guideline profile 'who'"):
        load(folder, profile="who")


@pytest.mark.parametrize("profiles", [[], ["who"], ["nhg", "nhg"], "nhg"])
def test_the_rule_schema_refuses_bad_profiles(tmp_path, profiles):
    folder = rulekit.folder(tmp_path, [rulekit.rule("t.bad", knee(), [{"assert": "x"}], profiles=profiles)])
    with pytest.raises(RuleFileError, match="profiles"):
        load(folder)


def test_a_rule_of_another_profile_is_still_checked(tmp_path):
    """A typo in an nhg rule stops a nice run too: both profiles load, or neither."""
    bad = rulekit.rule("t.typo", {"field": "pain.kneee", "eq": "left"}, [{"assert": "x"}], profiles=["nhg"])
    folder = rulekit.folder(tmp_path, [bad])
    with pytest.raises(RuleFileError, match="pain.kneee"):
        load(folder, profile="nice")


@pytest.mark.parametrize("profile", ["nice", "nhg"])
def test_evaluate_names_the_profile_and_runs_its_rules(folder, profile):
    done = _cdss("evaluate", "-", "--format", "json", "--rules", str(folder), "--profile", profile,
                 stdin=json.dumps(CASE))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["knowledge_base"]["profile"] == profile
    recommended = {r["code"] for r in result["recommendations"]}
    assert ("topical_nsaid" in recommended) == (profile == "nhg")
    assert ({d["code"] for d in result["do_not"]} == {"routine_paracetamol"}) == (profile == "nice")


def test_evaluate_defaults_to_nice(folder):
    done = _cdss("evaluate", "-", "--format", "json", "--rules", str(folder), stdin=json.dumps(CASE))
    assert json.loads(done.stdout)["knowledge_base"]["profile"] == "nice"


@pytest.mark.parametrize("executor", ["local", "inline"])
def test_batch_workers_run_the_chosen_profile(folder, tmp_path, executor):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(dict(CASE, id=f"k{i}")) + "\n" for i in range(6)))
    done = _cdss("batch", str(cases), "--rules", str(folder), "--profile", "nhg", "-q", "-j", "2",
                 "--executor", executor)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 6
    assert {line["knowledge_base"]["profile"] for line in lines} == {"nhg"}
    assert all("topical_nsaid" in {r["code"] for r in line["recommendations"]} for line in lines)


def test_an_unknown_profile_is_a_usage_error(folder):
    done = _cdss("evaluate", "-", "--rules", str(folder), "--profile", "who", stdin=json.dumps(CASE))
    assert done.returncode == 2
    assert "'who' is not one of 'nice', 'nhg'" in done.stderr


def test_profiles_in_the_shipped_rules_are_data():
    """Every shipped rule's profiles are written in its file (or absent: every profile), never in Python."""
    from cdss import resources
    for path in sorted(resources.DEFAULT_RULES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for raw in data.get("rules", ()) if isinstance(data, dict) else ():
            assert set(raw.get("profiles", ["nice", "nhg"])) <= {"nice", "nhg"}, raw["id"]


def test_batch_check_compares_expectations_in_their_own_profile(folder, tmp_path):
    """`expected.profile` (absent: nice) says which run compares a case's expectations."""
    nhg_case = dict(CASE, id="k-nhg", expected={"profile": "nhg", "recommendations": ["topical_nsaid"]})
    nice_case = dict(CASE, id="k-nice", expected={"do_not": ["routine_paracetamol"], "absent": ["topical_nsaid"]})
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps(nhg_case) + "\n" + json.dumps(nice_case) + "\n")
    for profile, other in (("nice", "nhg"), ("nhg", "nice")):
        done = _cdss("batch", str(cases), "--rules", str(folder), "--profile", profile, "--check", "-q",
                     "--executor", "inline")
        assert done.returncode == 0, done.stderr
        assert f"check: 1 passed, 0 failed; 1 case(s) expect profile {other}: not compared" in done.stderr


def _audit_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    cases = {
        "n1": dict(CASE, expected={"rules_fired": ["t.both", "t.nice-only"]}),
        "n2": {"id": "n2", "patient": {"age_years": 60}, "expected": {"rules_not_fired": ["t.both", "t.nice-only"]}},
        "g1": dict(CASE, expected={"profile": "nhg", "rules_fired": ["t.nhg-only"]}),
        "g2": {"id": "g2", "patient": {"age_years": 60}, "expected": {"profile": "nhg", "rules_not_fired": ["t.nhg-only"]}},
    }
    for case_id, case in cases.items():
        (corpus / f"{case_id}.json").write_text(json.dumps(dict(case, id=case_id)))
    return corpus


@pytest.mark.parametrize("jobs", [1, 2])
def test_audit_coverage_judges_every_profile_with_its_own_cases(folder, tmp_path, jobs):
    from cdss.audit import run as audit
    corpus = _audit_corpus(tmp_path)
    report = audit.audit_coverage([str(corpus)], folder, corpus, fail_under=100, jobs=jobs)
    cov = report.coverage
    assert report.knowledge_base["profiles"] == ["nice", "nhg"]
    assert sorted(cov.rules) == ["t.both", "t.nhg-only", "t.nice-only"]
    assert cov.rules["t.nhg-only"].positive == ["g1"] and cov.rules["t.nhg-only"].negative == ["g2"]
    assert cov.rules["t.nice-only"].positive == ["n1"]
    assert cov.test_coverage_percent == 100.0 and report.ok
    assert not [f for f in report.findings if f.check == "expectation-broken"]


def test_audit_of_one_profile_runs_only_its_cases(folder, tmp_path):
    from cdss.audit import run as audit
    corpus = _audit_corpus(tmp_path)
    report = audit.audit_coverage([str(corpus)], folder, corpus, profiles=("nhg",))
    assert report.knowledge_base["profiles"] == ["nhg"]
    assert sorted(report.coverage.rules) == ["t.both", "t.nhg-only"]
    assert report.coverage.cases == 2 and dict(report.coverage.other_profile) == {"nice": 2}


def test_a_finding_of_one_profile_says_so(tmp_path):
    """A nice rule that tests a fact only an nhg rule asserts can never fire in nice."""
    from cdss.audit import run as audit
    rules = [rulekit.rule("t.assert", knee(), [{"assert": "t.knee"}], profiles=["nhg"]),
             rulekit.rule("t.use", {"fact": "t.knee"}, [{"recommend": {"code": "exercise_therapy",
                                                                     "urgency": "routine", "for": []}}])]
    report = audit.audit_rules(rulekit.folder(tmp_path, rules), None)
    mine = [f for f in report.findings if f.rule == "t.use" and f.severity != "info"]
    assert mine and all(f.message.endswith("(profile nice only)") for f in mine), mine


def test_rules_list_keeps_one_profile_and_rules_show_finds_a_rule_of_any_profile(folder):
    from click.testing import CliRunner

    from cdss.cli import main
    listed = CliRunner().invoke(main, ["rules", "list", "-q", "--rules", str(folder), "--profile", "nhg"])
    assert listed.exit_code == 0 and listed.output.split() == ["t.both", "t.nhg-only"]
    assert CliRunner().invoke(main, ["rules", "list", "-q", "--rules", str(folder)]).output.split() == [
        "t.both", "t.nice-only"]
    shown = CliRunner().invoke(main, ["rules", "show", "t.nhg-only", "--rules", str(folder), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["id"] == "t.nhg-only"
    missing = CliRunner().invoke(main, ["rules", "show", "t.nhg-onl", "--rules", str(folder)])
    assert missing.exit_code == 1 and "no rule 't.nhg-onl'" in missing.output
