"""`cdss diff`: a rule change's impact on a corpus, by change type and case, per rule, side by side, with
--fail-on for CI; rule versions as folders or git revisions."""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from cdss.cli import main
from tests.helpers.paths import CASES, ROOT
from tests.helpers.rulekit import folder, rule

KNEE = ["left", "right", "both"]


def base_rules():
    return [
        rule("t.adult", {"field": "patient.age_years", "gte": 16}, [{"assert": "t.adult"}]),
        rule("t.knee", {"all": [{"fact": "t.adult"}, {"field": "pain.knee", "in": KNEE}]},
             [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}}]),
        rule("t.probable", {"all": [{"condition": "knee_osteoarthritis"}, {"field": "patient.age_years", "gte": 45}]},
             [{"condition": {"code": "knee_osteoarthritis", "status": "probable"}}]),
        rule("t.xray", {"all": [{"condition": "knee_osteoarthritis"}, {"field": "pain.duration_weeks", "gte": 12}]},
             [{"recommend": {"code": "xray_knee", "urgency": "routine", "for": ["knee_osteoarthritis"]}}]),
        rule("t.exercise", {"condition": "knee_osteoarthritis"},
             [{"recommend": {"code": "exercise_therapy", "urgency": "routine", "for": ["knee_osteoarthritis"],
                             "step": 1}},
              {"advise_against": {"code": "glucosamine", "for": ["knee_osteoarthritis"]}}]),
    ]


FLAG = rule("t.flag", {"field": "joints.hot_swollen_joint", "eq": True},
            [{"red_flag": {"code": "septic_arthritis", "status": "suspected", "urgency": "emergency"}}])


def case(case_id, age, weeks=None, hot=None):
    data = {"id": case_id, "patient": {"age_years": age}, "pain": {"hip": "none", "knee": "left"}}
    if weeks is not None:
        data["pain"]["duration_weeks"] = weeks
    if hot is not None:
        data["joints"] = {"hot_swollen_joint": hot}
    return data


CORPUS = [case("c-child", 15), case("c-17", 17), case("c-44-long", 44, 20), case("c-45-short", 45, 4),
          case("c-60-long", 60, 30), case("c-hot", 50, 2, True), case("c-70", 70)]


def corpus(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in CORPUS))
    return path


def two_versions(tmp_path, change):
    (tmp_path / "base").mkdir()
    (tmp_path / "new").mkdir()
    base = folder(tmp_path / "base", base_rules())
    rules = base_rules()
    change(rules)
    new = folder(tmp_path / "new", rules)
    return base, new


def diff(*args):
    return CliRunner().invoke(main, ["diff", *args])


def report(tmp_path, change, *extra):
    base, new = two_versions(tmp_path, change)
    done = diff("--base", str(base), "--rules", str(new), str(corpus(tmp_path)), "--format", "json", "-j", "1", *extra)
    assert done.exit_code in (0, 1), done.output
    return json.loads(done.stdout), done


def ids(data, kind):
    return data["change_types"].get(kind, {}).get("case_ids", [])


def moved_threshold(rules):
    rules[2]["when"]["all"][1]["gte"] = 50  # probable from 45 -> 50


def changed_urgency(rules):
    rules[3]["then"][0]["recommend"]["urgency"] = "soon"


def removed_rule(rules):
    del rules[4]


def new_red_flag(rules):
    rules.append(FLAG)


def test_a_moved_threshold_changes_the_status_of_exactly_the_cases_between(tmp_path):
    data, _ = report(tmp_path, moved_threshold)
    assert data["cases"] == len(CORPUS) and data["changed"] == 1
    assert list(data["change_types"]) == ["condition_status_changed"]
    assert ids(data, "condition_status_changed") == ["c-45-short"]
    [change] = data["changed_cases"][0]["changes"]
    assert change == {"type": "condition_status_changed", "code": "knee_osteoarthritis", "base": "probable",
                      "new": "suspected", "base_rules": ["t.knee", "t.probable"], "new_rules": ["t.knee"]}
    assert data["rules"] == {"added": [], "removed": [], "edited": ["t.probable"]}
    assert data["firing"] == [{"rule": "t.probable", "started": 0, "stopped": 1, "started_examples": [],
                               "stopped_examples": ["c-45-short"]}]


def test_a_changed_urgency(tmp_path):
    data, _ = report(tmp_path, changed_urgency)
    assert list(data["change_types"]) == ["recommendation_urgency_changed"]
    assert ids(data, "recommendation_urgency_changed") == ["c-44-long", "c-60-long"]
    change = data["changed_cases"][0]["changes"][0]
    assert (change["code"], change["base"], change["new"]) == ("xray_knee", "routine", "soon")
    assert data["firing"] == []  # the same rules fire; only what one of them says changed


def test_a_removed_rule(tmp_path):
    data, _ = report(tmp_path, removed_rule)
    adults = ["c-17", "c-44-long", "c-45-short", "c-60-long", "c-hot", "c-70"]
    assert ids(data, "recommendation_removed") == adults and ids(data, "do_not_removed") == adults
    assert data["rules"]["removed"] == ["t.exercise"]
    assert data["firing"][0]["rule"] == "t.exercise" and data["firing"][0]["stopped"] == 6
    removed = [c for c in data["changed_cases"][0]["changes"] if c["type"] == "recommendation_removed"]
    assert removed[0]["code"] == "exercise_therapy" and removed[0]["base_rules"] == ["t.exercise"]


def test_a_new_red_flag_and_the_policy_it_brings(tmp_path):
    data, _ = report(tmp_path, new_red_flag)
    assert ids(data, "red_flag_added") == ["c-hot"]
    assert data["rules"]["added"] == ["t.flag"]
    changes = {c["type"]: c for c in data["changed_cases"][0]["changes"]}
    assert changes["red_flag_added"]["new_rules"] == ["t.flag"]
    # the red flag withholds routine treatment: the diff names the policy behind the removal
    assert changes["recommendation_removed"]["code"] == "exercise_therapy"
    assert changes["recommendation_removed"]["new_rules"] == ["policy.red-flag-withholds-treatment"]
    started = {f["rule"] for f in data["firing"] if f["started"]}
    assert started == {"t.flag", "policy.red-flag-withholds-treatment"}


def test_fail_on_holds_a_change_that_removes_a_red_flag(tmp_path):
    base, new = two_versions(tmp_path, new_red_flag)
    cases = str(corpus(tmp_path))
    removing = diff("--base", str(new), "--rules", str(base), cases, "--fail-on", "red_flag_removed", "-j", "1")
    assert removing.exit_code == 1
    assert "FAIL: red_flag_removed (1 cases)" in removing.output
    adding = diff("--base", str(base), "--rules", str(new), cases, "--fail-on", "red-flag-removed", "-j", "1")
    assert adding.exit_code == 0 and "ok: none of red_flag_removed" in adding.output
    group = diff("--base", str(base), "--rules", str(new), cases, "--fail-on", "condition,red_flag", "-j", "1")
    assert group.exit_code == 1
    unknown = diff("--base", str(base), "--rules", str(new), cases, "--fail-on", "red_flag_gone")
    assert unknown.exit_code == 2 and "is not a change type" in unknown.output


def test_text_report_and_side_by_side_with_the_rules_behind_each_difference(tmp_path):
    base, new = two_versions(tmp_path, new_red_flag)
    done = diff("--base", str(base), "--rules", str(new), str(corpus(tmp_path)), "--show", "c-hot", "-j", "1")
    assert done.exit_code == 0, done.output
    out = done.stdout
    assert f"{len(CORPUS)} cases: 1 changed, {len(CORPUS) - 1} unchanged" in out
    assert "red_flag_added" in out and "c-hot" in out
    assert "rules added (1): t.flag" in out
    assert "case c-hot" in out and "base | new" in out
    row = next(line for line in out.splitlines() if "septic_arthritis" in line and "|" in line)
    assert row.lstrip().startswith("+") and row.split("|")[1].strip() == "septic_arthritis suspected, emergency"
    assert "rules: t.flag" in out
    removed = next(line for line in out.splitlines() if "exercise_therapy" in line and "|" in line)
    assert removed.lstrip().startswith("-") and removed.split("|")[1].strip() == ""
    assert "policies applied only under new: policy.red-flag-withholds-treatment" in out


def test_parallel_report_is_the_same(tmp_path):
    base, new = two_versions(tmp_path, removed_rule)
    many = tmp_path / "many.jsonl"
    many.write_text("".join(json.dumps(dict(c, id=f"{c['id']}-{i}")) + "\n" for i in range(40) for c in CORPUS))
    one = json.loads(diff("--base", str(base), "--rules", str(new), str(many), "--format", "json", "-j", "1").stdout)
    two = json.loads(diff("--base", str(base), "--rules", str(new), str(many), "--format", "json", "-j", "2").stdout)
    for data in (one, two):
        data.pop("seconds")
    assert one == two and one["changed"] == 6 * 40


def test_an_invalid_case_is_reported_and_fails_the_run(tmp_path):
    base, new = two_versions(tmp_path, changed_urgency)
    cases = corpus(tmp_path)
    with open(cases, "a") as handle:
        handle.write('{"id": "bad", "patient": {"age_years": 300}}\n')
    done = diff("--base", str(base), "--rules", str(new), str(cases), "--format", "json", "-j", "1")
    assert done.exit_code == 1
    data = json.loads(done.stdout)
    assert data["invalid"][0]["where"].endswith("corpus.jsonl:8") and "/patient/age_years" in data["invalid"][0]["message"]
    assert data["cases"] == len(CORPUS) + 1


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
                            GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org"))


def test_git_revisions_of_the_rules_folder_and_no_temporary_folder_left(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    rules = folder(repo, base_rules())  # repo/rules
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "0.1")
    data = yaml.safe_load((rules / "test.yaml").read_text())
    data["rules"].append(FLAG)
    (rules / "test.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    cases = str(corpus(tmp_path))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    env.pop("CDSS_RULES", None)
    def run(*args, **extra_env):
        return subprocess.run([sys.executable, "-m", "cdss.cli", "diff", *args], capture_output=True, text=True,
                              cwd=repo, env=dict(env, **extra_env), timeout=300)

    # the working tree against HEAD: the author's "what does my edit change?"
    done = run("--base", "HEAD", "--rules", str(rules), cases, "--format", "json", "-j", "1")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert ids(data, "red_flag_added") == ["c-hot"]
    assert data["base"]["source"].startswith("rules@HEAD (") and len(data["base"]["revision"]) == 40
    _git(repo, "commit", "-qam", "red flag")
    # two revisions, HEAD~1 -> HEAD: where the rules live in the repository comes from the rules folder
    done = run("--base", "HEAD~1", "--rules", "HEAD", cases, "--format", "json", "-j", "1", CDSS_RULES=str(rules))
    assert done.returncode == 0, done.stderr
    assert ids(json.loads(done.stdout), "red_flag_added") == ["c-hot"]
    assert list(scratch.iterdir()) == []  # the revisions' temporary folders are gone
    bad = run("--base", "no-such-tag", "--rules", str(rules), cases)
    assert bad.returncode == 2 and "neither a rule folder nor a git revision" in bad.stderr
    assert "Traceback" not in bad.stderr
    option = run("--base", "--upload-pack=touch x", "--rules", str(rules), cases)
    assert option.returncode == 2 and not (repo / "x").exists()


@pytest.mark.slow
def test_shipped_rules_with_four_deliberate_changes(tmp_path):
    """A copy of the shipped rules with a moved threshold, a removed rule, a changed urgency and a new red
    flag: each reported with its change type, on exactly the cases whose results differ in that way when
    each case is evaluated under both versions independently."""
    from cdss import case_from_dict, evaluate, load_knowledge
    new = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", new)
    base_kb = load_knowledge(ROOT / "rules")
    # what the base concludes, and which single rule stands behind each routine recommendation and do-not
    base_results = [evaluate(case_from_dict(json.loads(path.read_text()), str(path)), base_kb)
                    for path in sorted(CASES.rglob("*.json"))]
    sole_routine = {r.rules[0] for res in base_results for r in res.recommendations
                    if r.urgency == "routine" and len(r.rules) == 1}
    sole_do_not = {d.rules[0] for res in base_results for d in res.do_not if len(d.rules) == 1}
    # the changes, made on the YAML as an author would
    files = {p.name: yaml.safe_load(p.read_text()) for p in sorted(new.glob("*.yaml"))
             if p.name not in ("knowledge_base.yaml", "phrases.yaml")}
    every = [(name, r) for name, doc in files.items() for r in doc["rules"]]

    def numeric_test(node):
        """The first field test against a number in a condition (depth first), or None."""
        if isinstance(node, dict):
            if "field" in node and any(isinstance(node.get(op), (int, float)) and not isinstance(node.get(op), bool)
                                       for op in ("gte", "gt", "lte", "lt")):
                return node
            for value in node.values():
                found = numeric_test(value)
                if found is not None:
                    return found
        elif isinstance(node, list):
            for value in node:
                found = numeric_test(value)
                if found is not None:
                    return found
        return None

    # a moved threshold: the first age threshold in the rule base, 5 years up
    threshold = next((n, r) for n, r in every if (t := numeric_test(r["when"])) and t["field"] == "patient.age_years")
    test = numeric_test(threshold[1]["when"])
    op = next(op for op in ("gte", "gt", "lte", "lt") if op in test)
    test[op] += 5
    # a changed urgency: the first routine recommendation becomes urgent
    urgent = next((n, r) for n, r in every if r is not threshold[1] and r["id"] in sole_routine and any(
        "recommend" in c and c["recommend"]["urgency"] == "routine" for c in r["then"]))
    recommend = next(c["recommend"] for c in urgent[1]["then"] if "recommend" in c and
                     c["recommend"]["urgency"] == "routine")
    recommend["urgency"] = "urgent"
    # a removed rule: one that advises against something and asserts nothing another rule tests
    dropped = next((n, r) for n, r in every if r is not threshold[1] and r is not urgent[1] and r["id"] in sole_do_not
                   and any("advise_against" in c for c in r["then"]) and not any("assert" in c for c in r["then"]))
    files[dropped[0]]["rules"].remove(dropped[1])
    from cdss import resources
    # the red flag the shipped cases raise least (every one may be raised by some case): added on cases
    # that do not raise it yet
    raised = collections.Counter(f.code for res in base_results for f in res.red_flags)
    unraised = min(resources.vocabulary()["red_flags"], key=lambda code: (raised[code], code))
    flag = {"id": "test.new-red-flag", "title": {"en": "t", "nl": "t"}, "status": "draft", "sources": ["test"],
            "when": {"field": "pain.knee", "eq": "both"},
            "then": [{"red_flag": {"code": unraised, "status": "suspected", "urgency": "urgent"}}],
            "rationale": {"en": "t", "nl": "t"}}
    files[threshold[0]]["rules"].append(flag)
    for name, doc in files.items():
        (new / name).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    new_kb = load_knowledge(new)

    done = diff("--base", str(ROOT / "rules"), "--rules", str(new), str(CASES), "--format", "json", "-j", "2")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["rules"]["added"] == ["test.new-red-flag"] and data["rules"]["removed"] == [dropped[1]["id"]]
    assert set(data["rules"]["edited"]) == {threshold[1]["id"], urgent[1]["id"]}

    expected: dict[str, list] = {}
    for path in sorted(CASES.rglob("*.json")):
        raw = json.loads(path.read_text())
        c = case_from_dict(raw, str(path))
        before, after = evaluate(c, base_kb).to_dict(), evaluate(c, new_kb).to_dict()
        for lst, stem in (("red_flags", "red_flag"), ("conditions", "condition"), ("recommendations", "recommendation"),
                          ("do_not", "do_not")):
            b = {i["code"]: i for i in before[lst]}
            a = {i["code"]: i for i in after[lst]}
            if set(a) - set(b):
                expected.setdefault(f"{stem}_added", []).append(c.id)
            if set(b) - set(a):
                expected.setdefault(f"{stem}_removed", []).append(c.id)
            if any(b[k].get("urgency") != a[k].get("urgency") for k in set(a) & set(b)):
                expected.setdefault(f"{stem}_urgency_changed", []).append(c.id)
            if any(b[k].get("status") != a[k].get("status") for k in set(a) & set(b)):
                expected.setdefault(f"{stem}_status_changed", []).append(c.id)
    got = {kind: sorted(v["case_ids"]) for kind, v in data["change_types"].items()
           if kind not in ("recommendation_for_changed", "warning_added", "warning_removed")}
    assert got == {kind: sorted(v) for kind, v in expected.items()}
    for kind in ("recommendation_urgency_changed", "do_not_removed", "red_flag_added"):
        assert got.get(kind), kind  # each deliberate change reached at least one shipped case


def test_identical_versions_change_nothing_and_still_check_the_cases(tmp_path):
    same = folder(tmp_path, base_rules())
    cases = corpus(tmp_path)
    with open(cases, "a") as handle:
        handle.write('{"id": "bad", "patient": {"age_years": 300}}\n')
    done = diff("--base", str(same), "--rules", str(same), str(cases), "--format", "json", "--show", "c-hot", "-j", "1")
    data = json.loads(done.stdout)
    assert data["changed"] == 0 and data["cases"] == len(CORPUS) + 1 and len(data["invalid"]) == 1
    assert done.exit_code == 1  # the invalid case
    assert data["side_by_side"]["c-hot"]["base"] == data["side_by_side"]["c-hot"]["new"]


def test_the_direct_engine_gives_the_same_report(tmp_path):
    base, new = two_versions(tmp_path, removed_rule)
    reports = []
    for engine in ("durable", "direct"):
        done = diff("--base", str(base), "--rules", str(new), "--format", "json", "-j", "1", "--engine", engine)
        data = json.loads(done.stdout)
        data.pop("seconds")
        reports.append(data)
    assert reports[0] == reports[1] and reports[0]["changed"] > 0
