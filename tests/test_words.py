"""Labels and words (issue 9, item 3): the text output says everything in the chosen language, with the
vocabulary's labels and the knowledge base's phrases, and never shows a code, a field path or an enum
value; JSON keeps the codes and adds each code's label."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import jsonschema
import pytest

from cdss import resources
from cdss.engine import evaluate
from cdss.io import cases, expectations, render
from cdss.kb import labels, phrases
from cdss.kb.conditions import FieldRef, FieldTest
from cdss.kb.fields import field_catalogue, kind_of
from cdss.kb.loader import load
from cdss.model import DISCLAIMER
from tests.helpers import words
from tests.helpers.paths import CASES, case_paths
from tests.helpers.words import CODE_SECTIONS, LANGS, offences

RESULT = jsonschema.Draft202012Validator(resources.schema("result"))
RULES = words.all_rules()


def _fields_read(rule) -> set[str]:
    out = set()
    for node in rule.when.walk():
        if isinstance(node, FieldTest):
            out.add(node.path)
            if isinstance(node.operand, FieldRef):
                out.add(node.operand.path)
    return out


@pytest.fixture(scope="module")
def forbidden():
    return words.forbidden()


def _result(path, kb_of):
    case = cases.read_case(str(path))
    profile = expectations.profile_of(case.data.get("expected") or {})
    kb = kb_of(profile)
    return case, evaluate(case, kb), kb


@pytest.mark.parametrize("lang", LANGS)
def test_no_shipped_case_shows_a_code_or_field_path(lang, kb_of, forbidden):
    """`cdss evaluate --lang nl` (and en), with and without --explain, on every shipped case: words only."""
    problems = []
    for path in case_paths():
        case, result, kb = _result(path, kb_of)
        for explain in (False, True):
            text = render.to_text(result, kb, lang, explain)
            found = offences(text, lang, forbidden, case.id)
            if found:
                problems.append(f"{path.relative_to(CASES)} (explain={explain}): {sorted(set(found))[:6]}")
            assert text.rstrip().endswith(DISCLAIMER[lang])
    assert not problems, "\n".join(problems[:20])


def test_the_check_catches_a_code(forbidden):
    """The offence check is not vacuous."""
    assert offences("Knieartrose — knee_osteoarthritis", "nl", forbidden, "x")
    assert offences("omdat: pain.hip = both", "nl", forbidden, "x")
    assert offences("urgent", "nl", forbidden, "x")
    assert offences("gezien: /labs/crp_mg_l", "nl", forbidden, "x")
    assert offences("Röntgenfoto van de knie [xray_knee]", "nl", forbidden, "x")
    assert not offences("CRP 62 mg/l; heuppijn aan beide kanten", "nl", forbidden, "x")


@pytest.mark.parametrize("lang", LANGS)
def test_cdss_evaluate_prints_words_only(lang, forbidden):
    """The command itself, on cases that reach red flags, conditions, every kind of recommendation,
    do-nots and warnings."""
    chosen = [p for p in case_paths() if p.parent.name in ("red_flags", "osteoarthritis", "inflammatory")][::7]
    for path in chosen:
        done = subprocess.run([sys.executable, "-m", "cdss.cli", "evaluate", str(path), "--lang", lang, "--explain"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        case_id = json.loads(path.read_text())["id"]
        assert offences(done.stdout, lang, forbidden, case_id) == [], (path.name, done.stdout[:2000])
        assert done.stdout.rstrip().endswith(DISCLAIMER[lang])


def test_show_codes_adds_each_items_code(kb):
    path = next(p for p in case_paths() if p.parent.name == "osteoarthritis" and "probable" in p.name)
    result = evaluate(cases.read_case(str(path)), kb)
    text = render.to_text(result, kb, "nl", show_codes=True)
    for item in result.conditions + result.recommendations + result.do_not:
        assert f"[{item.code}]" in text
        assert item.label.pick("nl") in text


def test_the_contracts_examples():
    kb = load()
    p = kb.phrases
    assert (p.value("pain.hip", "both", "en"), p.value("pain.hip", "both", "nl")) == \
        ("hip pain on both sides", "heuppijn aan beide kanten")
    assert p.value("exam.hip_internal_rotation", "reduced_and_painful", "en") == \
        "internal rotation of the hip reduced and painful"
    assert p.value("exam.hip_internal_rotation", "reduced_and_painful", "nl") == \
        "endorotatie van de heup beperkt en pijnlijk"
    assert (p.value("labs.crp_mg_l", 62, "en"), p.value("labs.crp_mg_l", 62, "nl")) == ("CRP 62 mg/L", "CRP 62 mg/l")
    assert p.value("systemic.temperature_c", 38.5, "nl") == "temperatuur 38,5 °C"
    assert p.value("pain.hip_sites", ["groin", "thigh"], "nl") == "heuppijn in: lies en bovenbeen"


# -- completeness: every code has both labels, every field a rule reads has its phrases ---------------

@pytest.mark.parametrize("section", CODE_SECTIONS + ("urgencies", "profiles"))
def test_every_code_has_an_english_and_a_dutch_label(section):
    for code in resources.vocabulary()[section]:
        label = labels.label(section, code)
        assert label is not None and label.en.strip() and label.nl.strip(), (section, code)


def test_every_field_a_rule_reads_has_its_phrases():
    kb = load()
    missing = {}
    for rule in RULES:
        for path in _fields_read(rule):
            gaps = phrases.missing(kb.phrases, path)
            if gaps:
                missing[path] = gaps
    assert not missing, missing


def test_every_case_field_has_its_phrases():
    """Stronger than the audit's check: a rule written tomorrow finds words for any field it reads."""
    kb = load()
    skip = {"id", "expected", "treatments"}
    gaps = {path: phrases.missing(kb.phrases, path) for path, spec in field_catalogue().items()
            if path.split(".")[0] not in skip and (kind_of(spec) != "object" or path.startswith("imaging."))}
    assert {p: g for p, g in gaps.items() if g} == {}


def test_every_score_domain_has_words():
    from cdss.kb.conditions import Score
    kb = load()
    for rule in RULES:
        for node in rule.when.walk():
            if isinstance(node, Score):
                for domain in node.domains:
                    assert domain.name in kb.phrases.scores, (rule.id, domain.name)


# -- JSON: codes kept, labels added -----------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_json_keeps_codes_and_adds_labels(lang, kb_of):
    for path in case_paths()[::5]:
        _, result, _ = _result(path, kb_of)
        body = result.to_dict(lang)
        RESULT.validate(body)
        for section in CODE_SECTIONS:
            name = "do_not" if section == "do_not" else section
            for item in body[name]:
                assert list(item)[:2] == ["code", "label"]
                if labels.label(section, item["code"]) is not None:
                    assert item["label"] == labels.label(section, item["code"]).pick(lang)
        for warning in body["warnings"]:
            assert list(warning) == ["code", "label", "for", "message"]


def test_every_witness_of_every_shipped_case_can_be_said(kb_of):
    """Nothing a rule matched falls out of the "because" lines for want of words."""
    unsaid = set()
    for path in case_paths():
        _, result, kb = _result(path, kb_of)
        for entry in result.trace:
            for matched in entry.matched:
                for lang in LANGS:
                    if kb.phrases.matched(matched, lang) is None:
                        unsaid.add((entry.rule, matched.kind, matched.ref, lang))
    assert not unsaid, sorted(unsaid)[:20]


# -- the audit fails a code without both labels and a field without phrases --------------------------

def test_the_audit_fails_a_field_a_rule_reads_without_phrases(tmp_path):
    import yaml
    from cdss.audit import run as audit
    from tests.helpers import rulekit
    folder = rulekit.folder(tmp_path, [rulekit.rule("t.knee", {"field": "pain.knee", "eq": "left"},
                                                    [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}}])])
    data = yaml.safe_load((resources.DEFAULT_RULES_DIR / "phrases.yaml").read_text(encoding="utf-8"))
    del data["fields"]["pain.knee"]["values"]["left"]
    (folder / "phrases.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    report = audit.audit_rules(folder, None)
    found = [f for f in report.findings if f.check == "missing-phrase"]
    assert found and found[0].severity == "error" and "values.left" in found[0].message and not report.ok


def test_the_audit_fails_a_code_without_a_dutch_label(monkeypatch, tmp_path):
    from cdss.audit import run as audit
    from cdss.audit.checks import words
    from cdss.kb import vocabulary
    from tests.helpers import rulekit
    broken = json.loads(json.dumps(resources.vocabulary()))
    del broken["red_flags"]["hip_fracture"]["label"]["nl"]
    monkeypatch.setattr(words, "vocabulary_problems", lambda: vocabulary.problems(broken))
    folder = rulekit.folder(tmp_path, [rulekit.rule("t.knee", {"field": "pain.knee", "eq": "left"},
                                                    [{"condition": {"code": "knee_osteoarthritis", "status": "suspected"}}])])
    report = audit.audit_rules(folder, None)
    found = [f for f in report.findings if f.check == "vocabulary"]
    assert found and "hip_fracture" in found[0].message and "'nl' is a required property" in found[0].message
    assert not report.ok


# -- any case, not only the shipped ones ------------------------------------------------------------

SYNTHETIC = 150


@pytest.mark.parametrize("profile", ("nice", "nhg"))
def test_no_synthetic_case_shows_a_code_or_field_path(profile, kb_of, forbidden):
    """`cdss evaluate --lang nl|en --explain` on synthetic cases (cdss synth's mix: every pathway, red
    flags, rare branches), in each profile: words only, and the disclaimer last."""
    from cdss.synth.generate import generate
    kb = kb_of(profile)
    problems = []
    for data in generate(SYNTHETIC, 11):
        case = cases.case_from_dict(data, "synth")
        result = evaluate(case, kb)
        for lang in LANGS:
            text = render.to_text(result, kb, lang, explain=True)
            found = offences(text, lang, forbidden, case.id)
            if found:
                problems.append(f"{case.id} ({lang}): {sorted(set(found))[:6]}")
            assert text.rstrip().endswith(DISCLAIMER[lang])
    assert not problems, "\n".join(problems[:20])


@pytest.mark.slow
def test_no_generated_case_shows_a_code_or_field_path(forbidden):
    """Any valid case the property tests generate (odd values, every field), in both languages."""
    from hypothesis import HealthCheck, given, settings

    from tests.test_differential import generated_cases
    kb = load()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.data_too_large])
    @given(generated_cases())
    def check(data):
        case = cases.case_from_dict(data, "generated")
        result = evaluate(case, kb)
        for lang in LANGS:
            text = render.to_text(result, kb, lang, explain=True)
            assert offences(text, lang, forbidden, case.id) == [], text
    check()


def test_the_audit_warns_of_a_warning_code_without_a_label(tmp_path):
    """A rule's warning code outside the vocabulary has no label: the result can only repeat its message."""
    from cdss.audit import run as audit
    from tests.helpers import rulekit
    def knee():
        return {"field": "pain.knee", "eq": "left"}
    folder = rulekit.folder(tmp_path, [
        rulekit.rule("t.unknown", knee(), [{"warn": {"code": "knee_note", "en": "A note.", "nl": "Een notitie."}}]),
        rulekit.rule("t.known", knee(), [{"warn": {"code": "nsaid_caution", "en": "Careful.", "nl": "Voorzichtig."}}])])
    report = audit.audit_rules(folder, None)
    found = [f for f in report.findings if f.check == "unlabelled-warning"]
    assert [(f.rule, f.severity) for f in found] == [("t.unknown", "warning")]
    assert "'knee_note'" in found[0].message
