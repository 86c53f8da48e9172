"""`cdss audit rules`: seeded defects in throwaway rule folders are each found with the right rule id and
line; the shipped rule base has no finding of severity error; the reasoning agrees with the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers import rulekit
from cdss.audit import run as audit
from cdss.io import cases
from cdss.engine import policies
from cdss.audit.checks import AuditContext
from cdss.audit.logic import questions
from cdss.kb.loader import load
from cdss.engine import evaluator_for
from cdss.model import Case

R = rulekit.rule
ADULT = R("t.adult", {"field": "patient.age_years", "gte": 16}, [{"assert": "t.adult"}])


def line_of(directory: Path, rule_id: str, needle: str | None = None, nth: int = 1) -> int:
    """The line of `- id: rule_id` (its nth occurrence), or of the first line after it containing needle."""
    lines = (directory / "test.yaml").read_text().splitlines()
    seen = 0
    for number, text in enumerate(lines, 1):
        if text.strip() == f"- id: {rule_id}":
            seen += 1
            if seen == nth:
                if needle is None:
                    return number
                for offset, rest in enumerate(lines[number:], number + 1):
                    if needle in rest:
                        return offset
    raise AssertionError(f"{rule_id} / {needle} not in the rule file")


def cases_for(tmp_path: Path, rules: list[dict], skip: tuple[str, ...] = ()) -> Path:
    """A cases folder that names every rule (but `skip`) as must-fire and must-not-fire."""
    folder = tmp_path / "cases" / "t"
    folder.mkdir(parents=True, exist_ok=True)
    ids = [r["id"] for r in rules if r["id"] not in skip]
    for kind in ("rules_fired", "rules_not_fired"):
        data = {"id": f"case-{kind}", "patient": {"age_years": 50}, "expected": {kind: ids}}
        (folder / f"case-{kind}.json").write_text(json.dumps(data))
    return tmp_path / "cases"


def run(tmp_path: Path, rules: list[dict], skip=(), **kwargs) -> audit.AuditReport:
    directory = rulekit.folder(tmp_path, rules)
    return audit.audit_rules(directory, cases_for(tmp_path, rules, skip), **kwargs)


def found(report, check: str, rule: str | None = None) -> list:
    return [f for f in report.findings if f.check == check and (rule is None or f.rule == rule)]


def test_unreachable_rule_and_the_chain_behind_it(tmp_path):
    rules = [ADULT,
             R("t.never", {"all": [{"fact": "t.adult"}, {"field": "patient.age_years", "gte": 50},
                                   {"field": "patient.age_years", "lt": 40}]}, [{"assert": "t.never_fact"}]),
             R("t.chained", {"all": [{"fact": "t.never_fact"}, {"field": "pain.knee", "eq": "left"}]},
               [{"recommend": {"code": "xray_knee", "urgency": "routine", "for": []}}]),
             R("t.needs-child-and-adult", {"all": [{"fact": "t.adult"}, {"red_flag": "paediatric_case"}]},
               [{"assert": "t.never_either"}]),
             R("t.uses", {"any": [{"fact": "t.never_either"}, {"fact": "t.adult"}]}, [{"warn": {"code": "w", "en": "warn", "nl": "waarschuwing"}}])]
    report = run(tmp_path, rules)
    directory = tmp_path / "rules"
    never, = found(report, "unreachable-rule", "t.never")
    assert never.severity == "error" and never.line == line_of(directory, "t.never")
    chained, = found(report, "unreachable-rule", "t.chained")
    assert chained.line == line_of(directory, "t.chained")
    assert "only unreachable rules" in chained.message and "t.never" in chained.message
    assert chained.related[0].rule == "t.never"
    flag, = found(report, "unreachable-rule", "t.needs-child-and-adult")
    assert "paediatric_case" in flag.message
    assert not found(report, "unreachable-rule", "t.adult") and not found(report, "unreachable-rule", "t.uses")


def test_duplicate_id_is_reported_with_both_places(tmp_path):
    rules = [ADULT, R("t.adult", {"field": "patient.age_years", "gte": 18}, [{"assert": "t.adult"}])]
    report = run(tmp_path, rules)
    duplicate, = found(report, "duplicate-id", "t.adult")
    directory = tmp_path / "rules"
    assert duplicate.severity == "error"
    assert duplicate.line == line_of(directory, "t.adult", nth=2)
    assert duplicate.related[0].line == line_of(directory, "t.adult", nth=1)
    assert report.knowledge_base is None and not report.ok  # the loader refuses it; the audit still reports


def test_threshold_gap_and_overlap(tmp_path):
    rules = [R("t.old", {"field": "patient.age_years", "gte": 45}, [{"assert": "t.old"}]),
             R("t.young", {"field": "patient.age_years", "lt": 44}, [{"assert": "t.young"}]),
             R("t.acute", {"field": "pain.duration_weeks", "lte": 12}, [{"assert": "t.acute"}]),
             R("t.chronic", {"field": "pain.duration_weeks", "gte": 12}, [{"assert": "t.chronic"}]),
             R("t.short", {"field": "pain.morning_stiffness_minutes", "lte": 30}, [{"assert": "t.short"}]),
             R("t.long", {"field": "pain.morning_stiffness_minutes", "gt": 30}, [{"assert": "t.long"}]),
             R("t.uses", {"all": [{"fact": f} for f in ("t.old", "t.young", "t.acute", "t.chronic", "t.short", "t.long")]},
               [{"warn": {"code": "w", "en": "warn", "nl": "waarschuwing"}}])]
    report = run(tmp_path, rules)
    directory = tmp_path / "rules"
    gap, = found(report, "threshold-gap")
    assert gap.rule == "t.young" and gap.severity == "warning"
    assert gap.line == line_of(directory, "t.young", "field: patient.age_years")
    assert gap.related[0].rule == "t.old" and "e.g. 44" in gap.message
    overlap, = found(report, "threshold-overlap")
    assert overlap.rule == "t.chronic" and overlap.related[0].rule == "t.acute" and "12" in overlap.message
    assert overlap.line == line_of(directory, "t.chronic", "field: pain.duration_weeks")


IMAGING_CONFLICT = [
    ADULT,
    R("t.knee-oa", {"all": [{"fact": "t.adult"}, {"field": "pain.knee", "eq": "left"}]},
      [{"condition": {"code": "knee_osteoarthritis", "status": "probable"}},
       {"advise_against": {"code": "routine_imaging", "for": ["knee_osteoarthritis"]}}]),
    R("t.knee-xray", {"all": [{"fact": "t.adult"}, {"condition": "knee_osteoarthritis"},
                              {"field": "pain.duration_weeks", "gte": 12}]},
      [{"recommend": {"code": "xray_knee", "urgency": "routine", "for": ["knee_osteoarthritis"]}}]),
]


def test_contradiction_is_found_by_reasoning_with_a_witness_case(tmp_path):
    report = run(tmp_path, IMAGING_CONFLICT)
    conflict, = found(report, "conflict-imaging")
    assert conflict.rule == "t.knee-oa" and conflict.line == line_of(tmp_path / "rules", "t.knee-oa")
    assert conflict.related[0].rule == "t.knee-xray"
    # The engine's policy drops the do-not, so the result stays consistent: info, with the witness.
    assert conflict.severity == "info" and "policy" in conflict.message
    witness = conflict.witness
    cases.validate(witness, "witness")
    assert witness["pain"]["knee"] == "left" and witness["pain"]["duration_weeks"] >= 12
    # The shipped cases never need to hold such a case: the pair was found from the conditions alone.
    assert not list((tmp_path / "cases").rglob("*knee*"))


def test_contradiction_that_reaches_the_result_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(policies, "PIPELINE", tuple(step for step in policies.PIPELINE
                                                    if step is not policies.no_routine_imaging_beside_imaging))
    report = run(tmp_path, IMAGING_CONFLICT)
    conflict, = found(report, "conflict-imaging")
    assert conflict.severity == "error" and "result holds both" in conflict.message


def test_glucocorticoid_and_emergency_conflicts(tmp_path):
    rules = [ADULT,
             R("t.ra", {"all": [{"fact": "t.adult"}, {"field": "joints.swollen_small_joints", "gte": 4}]},
               [{"condition": {"code": "rheumatoid_arthritis", "status": "probable"}},
                {"recommend": {"code": "bridging_glucocorticoid", "urgency": "soon", "for": ["rheumatoid_arthritis"]}}]),
             R("t.ra-no-steroids", {"all": [{"fact": "t.adult"}, {"condition": "rheumatoid_arthritis"}]},
               [{"advise_against": {"code": "oral_corticosteroids", "for": ["rheumatoid_arthritis"]}}]),
             R("t.septic", {"field": "joints.hot_swollen_joint", "eq": True},
               [{"red_flag": {"code": "septic_arthritis", "status": "suspected", "urgency": "emergency"}}]),
             R("t.exercise", {"all": [{"fact": "t.adult"}, {"field": "pain.knee", "eq": "both"}]},
               [{"recommend": {"code": "exercise_therapy", "urgency": "routine", "for": []}}])]
    report = run(tmp_path, rules)
    steroid, = found(report, "conflict-glucocorticoid")
    assert steroid.rule == "t.ra-no-steroids" and steroid.related[0].rule == "t.ra"
    assert steroid.line == line_of(tmp_path / "rules", "t.ra-no-steroids")
    emergency, = found(report, "conflict-emergency", "t.septic")
    assert {p.rule for p in emergency.related} == {"t.ra", "t.exercise"}
    assert emergency.severity == "info" and emergency.witness["joints"]["hot_swollen_joint"] is True


def exam() -> list[dict]:
    return [{"recommend": {"code": "hip_examination", "urgency": "routine", "for": []}}]


def test_subsumed_and_duplicate_rules(tmp_path):
    rules = [ADULT,
             R("t.general", {"all": [{"fact": "t.adult"}, {"field": "pain.hip", "in": ["left", "right", "both"]}]}, exam()),
             R("t.specific", {"all": [{"fact": "t.adult"}, {"field": "pain.hip", "eq": "left"},
                                      {"field": "pain.activity_related", "eq": True}]}, exam()),
             R("t.twin", {"all": [{"field": "pain.hip", "in": ["both", "left", "right"]}, {"fact": "t.adult"}]}, exam()),
             R("t.unrelated", {"all": [{"fact": "t.adult"}, {"field": "pain.knee", "eq": "left"}]}, exam())]
    report = run(tmp_path, rules)
    subsumed = found(report, "subsumed-rule", "t.specific")
    assert subsumed and subsumed[0].line == line_of(tmp_path / "rules", "t.specific")
    assert {f.related[0].rule for f in subsumed} <= {"t.general", "t.twin"}
    twin, = found(report, "duplicate-rule")
    assert twin.rule == "t.twin" and twin.related[0].rule == "t.general"
    assert not found(report, "subsumed-rule", "t.unrelated") and not found(report, "subsumed-rule", "t.general")


def test_rule_without_cases(tmp_path):
    rules = [ADULT, R("t.lonely", {"all": [{"fact": "t.adult"}, {"field": "pain.hip", "eq": "left"}]}, exam()),
             R("t.trial", {"all": [{"fact": "t.adult"}, {"field": "pain.hip", "eq": "right"}]}, exam(), status="test")]
    report = run(tmp_path, rules, skip=("t.lonely", "t.trial"))
    lonely, = found(report, "untested-rule", "t.lonely")
    assert lonely.severity == "error" and lonely.line == line_of(tmp_path / "rules", "t.lonely")
    assert "must-fire" in lonely.message and "must-not-fire" in lonely.message
    trial, = found(report, "untested-rule", "t.trial")
    assert trial.severity == "warning"
    assert not found(report, "untested-rule", "t.adult")


def test_fields_facts_texts_and_dead_alternatives(tmp_path):
    rules = [ADULT,
             R("t.typo", {"all": [{"fact": "t.adult"}, {"field": "pain.severty_0_10", "gte": 7}]}, [{"assert": "t.severe"}]),
             R("t.ghost", {"all": [{"fact": "t.adult"}, {"fact": "t.nobody"}]}, [{"assert": "t.unused"}]),
             R("t.dead-branch", {"all": [{"fact": "t.adult"},
                                         {"any": [{"field": "patient.age_years", "gte": 60},
                                                  {"field": "patient.age_years", "lt": 10}]}]},
               exam()),
             R("t.no-dutch", {"fact": "t.adult"}, [{"assert": "t.adult2"}],
               title={"en": "A title without Dutch", "nl": ""}, sources=[]),
             R("t.copy", {"all": [{"fact": "t.adult"}, {"fact": "t.adult2"}, {"fact": "t.severe"}]}, [{"assert": "t.x"}],
               rationale={"en": "The same text twice over", "nl": "The same text twice over"})]
    report = run(tmp_path, rules)
    directory = tmp_path / "rules"
    typo, = found(report, "unknown-field", "t.typo")
    assert typo.severity == "error" and "pain.severity_0_10" in typo.message
    assert typo.line == line_of(directory, "t.typo", "field: pain.severty_0_10")
    assert found(report, "unreachable-rule", "t.typo")
    ghost, = found(report, "unasserted-fact", "t.ghost")
    assert ghost.line == line_of(directory, "t.ghost", "fact: t.nobody")
    assert {f.rule for f in found(report, "unused-fact")} >= {"t.ghost", "t.copy"}
    dead, = found(report, "dead-alternative", "t.dead-branch")
    assert dead.line == line_of(directory, "t.dead-branch", "lt: 10") - 1 and "< 10" in dead.message
    assert found(report, "missing-dutch", "t.no-dutch")[0].severity == "error"
    assert found(report, "missing-source", "t.no-dutch")
    assert found(report, "dutch-copy", "t.copy")[0].severity == "warning"


def test_rule_that_does_not_parse_is_a_finding_not_a_crash(tmp_path):
    text = yaml.safe_dump({"pathway": "test", "title": {"en": "t", "nl": "t"}, "rules": [
        ADULT, R("t.bad-code", {"fact": "t.adult"}, [{"recommend": {"code": "xray_hipp", "urgency": "routine", "for": []}}])]},
        sort_keys=False)
    directory = rulekit.folder(tmp_path, [], text=text)
    report = audit.audit_rules(directory, None)
    bad, = found(report, "invalid-rule", "t.bad-code")
    assert "xray_hipp" in bad.message and bad.line > line_of(directory, "t.bad-code")


# -- the shipped rule base ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped(shipped_rules_audit):
    return shipped_rules_audit


def test_shipped_rule_base_has_no_error(shipped):
    errors = [f.describe() for f in shipped.findings if f.severity == "error"]
    assert errors == []
    assert shipped.ok and shipped.knowledge_base is not None
    assert sum(p["reachable"] for p in shipped.pathways.values()) == len(shipped.rules)


def test_shipped_conflicts_are_resolved_by_the_policies(shipped):
    """The rules may disagree (sciatica's do-not beside its MRI when it would change management), but
    every conflict pathways.md forbids is taken out of the result."""
    conflicts = [f for f in shipped.findings if f.check.startswith("conflict-")]
    assert conflicts and all(f.severity == "info" for f in conflicts)
    assert any(f.rule == "sciatica.no-routine-imaging" for f in conflicts)


def test_every_witness_the_reasoning_builds_fires_its_rule_in_the_engine(shipped):
    """The logic is faithful to the engine: for every shipped rule, the case the solver builds to reach it
    is a valid case, and the engine makes the rule fire on it (and agrees on every other rule it reasoned
    about)."""
    ctx: AuditContext = shipped.context
    evaluator = evaluator_for(ctx.kb)
    for i, rule in enumerate(ctx.rules):
        model = questions.solve(ctx.logic, ctx.logic.fire(i))
        data = model.case(f"witness-{i}")
        cases.validate(data, rule.id)
        fired = evaluator.run(Case(data["id"], data)).fired
        assert rule.id in fired, rule.id
        for key, on in model.defs.items():
            if key[0] == "fire":
                assert on == (ctx.rules[key[1]].id in fired), (rule.id, ctx.rules[key[1]].id)


def test_reader_keeps_lines_for_every_condition():
    kb = load(collect_errors=True)
    rule = next(r for r in kb.rules if r.id == "oa.hip.clinical-diagnosis")
    lines = [kb.line_of(node, rule) for node in rule.when.walk()]
    assert all(line >= rule.line for line in lines) and len(set(lines)) > 5
