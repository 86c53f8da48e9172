"""`cdss synth`: deterministic, cut-anywhere streams of valid, clinically plausible cases that reach every
pathway and red flag of the contract, with values at the rules' thresholds."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cdss.io import cases
from cdss import resources
from cdss.synth import generate as synth, tables
from cdss.synth.scenarios import SCENARIOS
from cdss.cli import main
from cdss.engine import evaluate

ROOT = Path(__file__).resolve().parent.parent
MIX_SIZE = 5000
MIX_SEED = 11


@pytest.fixture(scope="module")
def mix(kb):
    """MIX_SIZE cases of one stream, each checked against the contract and evaluated with the shipped rules."""
    out = []
    for data in synth.generate(MIX_SIZE, MIX_SEED):
        case = cases.case_from_dict(data, "synth")  # raises CaseError on any contract breach
        out.append((data, evaluate(case, kb)))
    return out


def text(n: int, seed: int) -> str:
    return "".join(synth.lines(n, seed))


# ------------------------------------------------------------------------------------ determinism

def test_same_seed_gives_the_same_bytes_and_another_seed_others():
    first = text(400, 3)
    assert first == text(400, 3)
    assert first != text(400, 4)
    assert first.count("\n") == 400


def test_same_bytes_in_fresh_processes_whatever_the_hash_seed(tmp_path):
    expected = text(300, 9)
    for hash_seed in ("1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-m", "cdss.cli", "synth", "--n", "300", "--seed", "9"],
                             capture_output=True, env=env, check=True, cwd=tmp_path)
        assert out.stdout.decode("utf-8") == expected


def test_a_stream_can_be_cut_anywhere():
    long = text(700, 5).splitlines()
    assert text(250, 5).splitlines() == long[:250]
    assert json.dumps(synth.make_case(5, 613), separators=(",", ":")) == long[613]


def test_the_stream_is_lazy():
    stream = synth.generate(10**12, 0)
    assert next(stream)["id"] == "syn-0-0000000"


def test_ids_and_no_expected_block():
    for index, line in enumerate(text(200, 77).splitlines()):
        data = json.loads(line)
        assert data["id"] == f"syn-77-{index:07d}"
        assert "expected" not in data
    assert synth.make_case(3, 12345678)["id"] == "syn-3-12345678"


def test_keys_follow_the_schema_order():
    schema = resources.schema("case")

    def check(obj, node):
        props = list(node["properties"])
        ranks = [props.index(k) for k in obj]
        assert ranks == sorted(ranks), (list(obj), props)
        for key, value in obj.items():
            sub = node["properties"][key]
            if isinstance(value, dict):
                check(value, sub)
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    check(item, sub["items"])

    for data in synth.generate(300, 21):
        check(data, schema)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        list(synth.generate(-1, 0))
    with pytest.raises(ValueError):
        synth.make_case(-1, 0)
    with pytest.raises(ValueError, match="no scenario 'gouty'"):
        synth.make_case(0, 0, scenario="gouty")


# ------------------------------------------------------------------------------------ the command

def test_cli_writes_the_stream_to_stdout_and_to_a_file(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["synth", "--n", "50", "--seed", "8"])
    assert result.exit_code == 0, result.output
    assert result.output == text(50, 8)
    target = tmp_path / "s.jsonl"
    result = runner.invoke(main, ["synth", "--n", "50", "--seed", "8", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == text(50, 8).encode("utf-8")


def test_cli_edges():
    runner = CliRunner()
    assert runner.invoke(main, ["synth", "--n", "0"]).output == ""
    assert runner.invoke(main, ["synth", "--n", "1"]).output == text(1, 0)  # seed 0 by default
    assert runner.invoke(main, ["synth", "--n", "-1"]).exit_code == 2
    assert runner.invoke(main, ["synth"]).exit_code == 2
    assert runner.invoke(main, ["synth", "--n", "1", "--seed", "-1"]).exit_code == 2


# ------------------------------------------------------------------------------------ contract and mix

@pytest.mark.slow
def test_every_case_is_valid_and_evaluates(mix):
    assert len(mix) == MIX_SIZE
    assert all(result.status == "ok" for _, result in mix)


@pytest.mark.slow
def test_the_mix_reaches_every_condition_and_red_flag(mix):
    vocabulary = resources.vocabulary()
    conditions = collections.Counter(c.code for _, r in mix for c in r.conditions)
    flags = collections.Counter(f.code for _, r in mix for f in r.red_flags)
    assert set(vocabulary["conditions"]) <= set(conditions), conditions
    assert set(vocabulary["red_flags"]) <= set(flags), flags
    # osteoarthritis is the commonest picture, as in primary care
    top = conditions.most_common(2)
    assert {code for code, _ in top} <= {"knee_osteoarthritis", "hip_osteoarthritis", "lumbar_radiculopathy"}
    assert conditions["knee_osteoarthritis"] > conditions["rheumatoid_arthritis"] * 5


# What each scenario is drawn to show: the condition or red flag most of its cases reach, and the least share
# of its cases that reach it (lower where the scenario draws near misses on purpose: sprains with a negative
# Ottawa rule, transient synovitis, a normal femur X-ray, a cancer history with mechanical pain).
SCENARIO_REACHES: dict[str, tuple[str, float]] = {
    "knee_osteoarthritis": ("knee_osteoarthritis", 0.5),
    "hip_osteoarthritis": ("hip_osteoarthritis", 0.35),
    "greater_trochanteric_pain": ("greater_trochanteric_pain_syndrome", 0.5),
    "sciatica": ("lumbar_radiculopathy", 0.6),
    "referred_back_pain": ("nonspecific_low_back_pain", 0.5),
    "iliotibial_band": ("iliotibial_band_syndrome", 0.4),
    "spinal_stenosis": ("lumbar_spinal_stenosis", 0.6),
    "rheumatoid_arthritis": ("rheumatoid_arthritis", 0.4),
    "axial_spondyloarthritis": ("axial_spondyloarthritis", 0.2),
    "osteonecrosis": ("hip_osteonecrosis", 0.6),
    "polymyalgia_rheumatica": ("polymyalgia_rheumatica", 0.5),
    "gout": ("gout", 0.5),
    "cppd_arthritis": ("cppd_arthritis", 0.4),
    "hip_fracture": ("hip_fracture", 0.8),
    "knee_fracture": ("knee_fracture", 0.2),
    "insufficiency_fracture": ("hip_fracture", 0.5),
    "femoral_neck_stress_fracture": ("femoral_neck_stress_fracture", 0.4),
    "atypical_femoral_fracture": ("atypical_femoral_fracture", 0.5),
    "septic_arthritis": ("septic_arthritis", 0.8),
    "prosthetic_joint_infection": ("prosthetic_joint_infection", 0.6),
    "bone_malignancy": ("bone_malignancy", 0.5),
    "giant_cell_arteritis": ("giant_cell_arteritis", 0.8),
    "spinal_serious_pathology": ("spinal_serious_pathology", 0.8),
    "cauda_equina": ("cauda_equina_syndrome", 0.9),
    "severe_motor_deficit": ("severe_motor_deficit", 0.5),
    "child": ("paediatric_case", 0.8),
}
PER_SCENARIO = 40


@pytest.mark.slow
def test_each_scenario_shows_its_picture(kb):
    """Each scenario, drawn alone, gives valid cases and reaches the code it is drawn for in a fair share of
    them, for every code the shipped rules conclude (a code no rule concludes yet is left to the mix test).
    The scenarios are drawn for knowledge base 0.2's criteria (pathways.md as revised)."""
    assert set(SCENARIO_REACHES) | {"nonspecific"} == set(SCENARIOS)
    if tuple(int(part) for part in kb.identity.version.split(".")[:2]) < (0, 2):
        pytest.skip(f"the scenarios follow knowledge base 0.2's criteria; the shipped one is {kb.identity.version}")
    concluded = {c.data["code"] for rule in kb.rules for c in rule.then if c.kind in ("condition", "red_flag")}
    short = {}
    for name, (code, least) in SCENARIO_REACHES.items():
        if code not in concluded:
            continue
        reached = 0
        for index in range(PER_SCENARIO):
            data = synth.make_case(MIX_SEED, index, scenario=name)
            result = evaluate(cases.case_from_dict(data, "synth"), kb)
            reached += any(item.code == code for item in (*result.conditions, *result.red_flags))
        if reached < least * PER_SCENARIO:
            short[name] = f"{code}: {reached} of {PER_SCENARIO}"
    assert not short, short


@pytest.mark.slow
def test_red_flags_at_a_plausible_rate(mix):
    """Red flags a few per cent. The red-flag pictures are about 5 % of the mix's draws; the revised spec
    also flags, from ordinary pictures, new back pain after 50 and weeks of bone pain that is not mechanical
    after 60 (both `soon`), a hot joint in a gout flare, or sudden hip pain at 65 or over (pathways.md
    §0.2-0.6), so urgent and emergency flags stay under 9 % and flags of any urgency under 12 %."""
    flagged = sum(1 for _, r in mix if r.red_flags)
    assert 0.02 * MIX_SIZE <= flagged <= 0.12 * MIX_SIZE, flagged
    pressing = sum(1 for _, r in mix if any(f.urgency in ("emergency", "urgent") for f in r.red_flags))
    assert 0.01 * MIX_SIZE <= pressing <= 0.09 * MIX_SIZE, pressing
    children = sum(1 for data, _ in mix if data["patient"]["age_years"] < 16)
    assert 0 < children <= 0.02 * MIX_SIZE


@pytest.mark.slow
def test_records_are_partial_as_real_ones_are(mix):
    datas = [data for data, _ in mix]
    share = lambda pred: sum(1 for d in datas if pred(d)) / len(datas)  # noqa: E731
    assert 0.2 < share(lambda d: "imaging" in d) < 0.8
    assert 0.05 < share(lambda d: "labs" in d) < 0.6
    assert 0.1 < share(lambda d: "sex" not in d["patient"] or "bmi_kg_m2" not in d["patient"]) < 0.9
    assert share(lambda d: "duration_weeks" not in d.get("pain", {})) > 0.05
    studies = [s for d in datas for s in d.get("imaging", {}).values()]
    normal = [s for s in studies if s["findings"] == ["normal"]]
    assert normal and len(normal) < len(studies)
    assert not any("normal" in s["findings"] and len(s["findings"]) > 1 for s in studies)


@pytest.mark.slow
def test_treatment_histories_hold_failed_running_and_good_trials(mix):
    trials = [t for data, _ in mix for t in data.get("treatments", ())]
    failed = [t for t in trials if t["weeks"] >= 4 and t["response"] in ("none", "partial")]
    running = [t for t in trials if t["weeks"] < 4]
    good = [t for t in trials if t["weeks"] >= 4 and t["response"] == "good"]
    assert failed and running and good
    assert any("joint" in t for t in trials) and any("joint" not in t for t in trials)
    assert len(trials) < 10 * MIX_SIZE


# ------------------------------------------------------------------------------------ thresholds

def field_values(datas, path: str) -> collections.Counter:
    found: collections.Counter = collections.Counter()
    if path == "treatments.weeks":
        for data in datas:
            found.update(t["weeks"] for t in data.get("treatments", ()))
        return found
    for data in datas:
        value = data
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            found[value] += 1
    return found


def test_values_sit_on_both_sides_of_the_thresholds():
    # every value of the table, on each side of each threshold, is drawn somewhere in a stream four times the
    # mix (some fields are rare: an osteonecrosis X-ray's collapse in millimetres)
    datas = list(synth.generate(4 * MIX_SIZE, MIX_SEED))
    for path, values in tables.NEAR_MISS.items():
        seen = field_values(datas, path)
        assert all(seen[v] for v in values), (path, {v: seen[v] for v in values})
    # CRP exactly at its limit (5 when the lab gives none) and just above it
    crp = collections.Counter((d["labs"]["crp_mg_l"], d["labs"].get("crp_uln_mg_l", 5))
                              for d in datas if "crp_mg_l" in d.get("labs", {}))
    assert any(value == limit for value, limit in crp) and any(round(value - limit, 1) == 0.1 for value, limit in crp)


def rule_thresholds():
    """(field, operator, value) for every numeric comparison in the shipped rule files."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "field" in node and isinstance(node["field"], str):
                for op in ("gte", "gt", "lte", "lt", "in"):
                    if op in node:
                        found.append((node["field"], op, node[op]))
            if "trial" in node and "min_weeks" in node:
                found.append(("treatments.weeks", "gte", node["min_weeks"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((ROOT / "rules").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        walk(data)
        if "failed_trial_min_weeks" in data:
            found.append(("treatments.weeks", "gte", data["failed_trial_min_weeks"]))
    return found


def field_minimum(path: str) -> float:
    """The least value the case schema allows for a numeric field (minus infinity when it sets none)."""
    node = resources.schema("case")
    for part in ("treatments.items.weeks" if path == "treatments.weeks" else path).split("."):
        node = node["items"] if part == "items" else node["properties"][part]
    return node.get("minimum", float("-inf"))


def test_the_near_miss_table_covers_every_threshold_in_the_rules():
    missing = []
    for field, op, value in rule_thresholds():
        if isinstance(value, dict):  # compared with another field: a relative threshold
            if field not in tables.RELATIVE_NEAR_MISS:  # (CRP and ESR: the lab's limit, drawn in Draw.labs)
                missing.append((field, op, "relative"))
            continue
        if op == "in":
            numbers = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if not numbers:
                continue
            want = {min(numbers) - 1, min(numbers), max(numbers), max(numbers) + 1}
            table = set(tables.NEAR_MISS.get(field, ()))
            if not want <= table:
                missing.append((field, op, sorted(want - table)))
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        table = tables.NEAR_MISS.get(field, ())
        other_side = ([v for v in table if value - 1 <= v < value] if op in ("gte", "lt")
                      else [v for v in table if value < v <= value + 1])
        if op in ("gte", "lt") and value <= field_minimum(field):
            other_side = [value]  # nothing lies below the field's least value (a trial of any length: weeks >= 0)
        if value not in table or not other_side:
            missing.append((field, op, value))
    assert not missing, f"add these thresholds to NEAR_MISS in cdss/synth/tables.py: {missing}"


def test_scenario_tables_name_real_scenarios_and_treatments():
    names = {name for name, _ in tables.SCENARIO_WEIGHTS}
    assert names == set(SCENARIOS)
    for primary, (p, pairs) in tables.COMBINATIONS.items():
        assert primary in names and 0 < p < 1
        assert {name for name, _ in pairs} <= names
    codes = set(resources.schema("case")["$defs"]["treatment_code"]["enum"])  # generated from the vocabulary
    for ladder in tables.LADDERS.values():
        assert set(ladder) <= codes
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", f"syn-{synth.MAX_SEED}-{2**32:07d}")
