"""The commands a clinician and an informatician use, exercised as they would use them."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from cdss.cli import main
from tests.helpers.rulekit import folder, rule

CASE = {"id": "cli-knee", "patient": {"age_years": 20},
        "pain": {"hip": "none", "knee": "left", "activity_related": True}}


def chain_rules(tmp_path):
    return folder(tmp_path, [
        rule("t.adult", {"field": "patient.age_years", "gte": 16}, [{"assert": "t.adult"}]),
        rule("t.knee", {"all": [{"fact": "t.adult"}, {"field": "pain.knee", "in": ["left", "right", "both"]}]},
             [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}},
              {"recommend": {"code": "xray_knee", "urgency": "routine", "for": ["knee_osteoarthritis"]}},
              {"recommend": {"code": "exercise_therapy", "urgency": "routine", "for": ["knee_osteoarthritis"], "step": 1}},
              {"advise_against": {"code": "glucosamine", "for": ["knee_osteoarthritis"]}}],
             rationale={"en": "Knee pain in an adult.", "nl": "Kniepijn bij een volwassene."}),
    ])


def write_case(tmp_path, data=CASE):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_evaluate_text_names_the_case_facts_behind_each_item(tmp_path):
    rules = chain_rules(tmp_path)
    result = CliRunner().invoke(main, ["evaluate", write_case(tmp_path), "--rules", str(rules)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Decision support, not a diagnosis" in out
    assert out.index("CONDITIONS") < out.index("NEXT STEPS") < out.index("ADVISE AGAINST")
    assert "Knee osteoarthritis — suspected (ICD-10 M17.9)" in out
    assert "because: age 20; knee pain on the left" in out
    assert "knee_osteoarthritis" not in out and "pain.knee" not in out  # words, not codes (--show-codes adds them)
    assert out.rstrip().endswith("a clinician weighs this advice against the whole patient.")
    # diagnostics before treatment
    assert out.index("X-ray of the knee") < out.index("Therapeutic exercise")


def test_evaluate_dutch(tmp_path):
    rules = chain_rules(tmp_path)
    result = CliRunner().invoke(main, ["evaluate", write_case(tmp_path), "--rules", str(rules), "--lang", "nl"])
    assert "Kniepijn bij een volwassene." in result.output
    assert "VOLGENDE STAPPEN" in result.output and "geen diagnose" in result.output
    assert "Knieartrose (gonartrose) — vermoed (ICD-10 M17.9)" in result.output
    assert "omdat: leeftijd 20 jaar; kniepijn links" in result.output
    assert "Röntgenfoto van de knie — Regulier — voor: Knieartrose (gonartrose)" in result.output


def test_evaluate_explain_walks_the_chain_to_case_fields(tmp_path):
    rules = chain_rules(tmp_path)
    result = CliRunner().invoke(main, ["evaluate", write_case(tmp_path), "--rules", str(rules), "--explain"])
    assert "<- t.knee\n" in result.output  # the rule's title (rulekit titles rules by their id)
    assert "<- t.adult\n" in result.output
    assert "found: age 20" in result.output
    coded = CliRunner().invoke(main, ["evaluate", write_case(tmp_path), "--rules", str(rules), "--explain",
                                      "--show-codes"])
    assert "<- t.adult [t.adult]" in coded.output and "[knee_osteoarthritis]" in coded.output


def test_evaluate_json_from_stdin_is_the_result_object(tmp_path):
    rules = chain_rules(tmp_path)
    result = CliRunner().invoke(main, ["evaluate", "-", "--format", "json", "--rules", str(rules)],
                                input=json.dumps(CASE))
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert list(data)[:9] == ["case_id", "knowledge_base", "status", "red_flags", "conditions",
                              "recommendations", "do_not", "warnings", "trace"]
    assert data["knowledge_base"]["version"] == "9.9.9"
    assert [r["code"] for r in data["recommendations"]] == ["xray_knee", "exercise_therapy"]
    assert data["trace"][0] == {"rule": "t.adult", "matched": [{"field": "/patient/age_years", "value": 20}],
                                "asserted": ["fact:t.adult"]}


def test_validate_reports_each_bad_file_and_exits_1(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(CASE))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "b", "patient": {"age_years": -1}}))
    lines = tmp_path / "more.jsonl"
    lines.write_text(json.dumps(CASE) + "\n" + json.dumps({"id": "c", "patient": {"age_years": 40, "sexx": "male"}}) + "\n")
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "2 of 4 cases valid" in result.output
    assert f"{bad}: /patient/age_years" in result.output
    assert f"{lines}:2: /patient/sexx: unknown field 'sexx'; did you mean 'sex'?" in result.output


def test_rules_list_and_show(tmp_path):
    rules = chain_rules(tmp_path)
    listed = CliRunner().invoke(main, ["rules", "list", "--rules", str(rules)])
    assert listed.exit_code == 0 and "t.knee" in listed.output and "2 rules" in listed.output
    shown = CliRunner().invoke(main, ["rules", "show", "t.knee", "--rules", str(rules)])
    assert shown.exit_code == 0
    assert "concludes: condition:knee_osteoarthritis:suspected" in shown.output
    assert "- id: t.knee" in shown.output
    missing = CliRunner().invoke(main, ["rules", "show", "t.kne", "--rules", str(rules)])
    assert missing.exit_code == 1 and "did you mean 't.knee'" in missing.output


def test_batch_check_reports_differences_and_keeps_going(tmp_path):
    rules = chain_rules(tmp_path)
    folder_ = tmp_path / "cases"
    folder_.mkdir()
    (folder_ / "a.json").write_text(json.dumps(dict(CASE, id="a", expected={"recommendations": ["xray_knee"]})))
    (folder_ / "b.json").write_text(json.dumps(dict(CASE, id="b", expected={"absent": ["xray_knee"]})))
    (folder_ / "c.json").write_text("{broken")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["batch", str(folder_), "--check", "-o", str(out), "--rules", str(rules)])
    assert result.exit_code == 1
    assert "FAIL b: absent: xray_knee must not appear" in result.output
    assert "inputs: 3, results: 2, errors: 1" in result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["status"] for line in lines] == ["ok", "ok", "error"]


def test_the_installed_command_runs_without_a_traceback(tmp_path):
    """The console script itself: a missing file is one line and exit 1."""
    proc = subprocess.run([sys.executable, "-m", "cdss.cli", "evaluate", str(tmp_path / "nope.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"cdss: error: {tmp_path / 'nope.json'}: /: cannot read: No such file or directory"


def test_evaluate_loads_neither_audit_nor_synth(tmp_path):
    """Cold start: `cdss evaluate` imports only what one case needs; audit and synth load when asked for."""
    path = write_case(tmp_path)
    probe = ("import sys\nfrom cdss.cli import main\n"
             "try:\n    main(['evaluate', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith(('cdss.audit.run', 'cdss.synth.generate'))))")
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60)
    assert "case cli-knee" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
    listed = CliRunner().invoke(main, ["--help"]).output
    assert "audit" in listed and "synth" in listed


def test_the_first_rule_base_a_process_loads_is_frozen_out_of_the_collectors_walks_and_only_the_first(tmp_path):
    """load_rules builds the rule base with the cyclic collector off and then freezes it (gc.freeze): the
    collector never walks its tens of thousands of objects again. Only once per process: a second load
    (the tests, `cdss rules` comparing profiles) must not keep the garbage alive at that moment."""
    probe = ("import gc, sys\n"
             "from cdss.cli.options import load_rules\n"
             "kb = load_rules(None)\n"
             "first = gc.get_freeze_count()\n"
             "other = load_rules(None, 'nhg')\n"
             "print(first, gc.get_freeze_count(), gc.isenabled(), len(gc.get_objects()) > 10000)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    first, second, enabled, walked = done.stdout.split()
    assert int(first) > 20000  # the rule base and the compiled engine
    assert second == first  # the second rule base is left to the collector
    assert enabled == "True" and walked == "True"
