"""The shipped rule base as a whole: every rule cites a source, speaks both languages, and is tested by a
case that makes it fire and a near miss where it must not; every contract code is reachable."""

from __future__ import annotations

import pytest

from cdss.io import cases
from cdss import resources
from cdss.engine import evaluate
from tests.helpers.paths import case_paths


def test_every_rule_has_a_firing_case_and_a_near_miss(kb_of):
    """Over every guideline profile: each case runs in the profile its expectations are written for."""
    from cdss.io.expectations import profile_of
    from cdss.model import PROFILES
    fired_somewhere, named_fire, named_miss = set(), set(), set()
    for path in case_paths():
        case = cases.read_case(str(path))
        expected = case.data["expected"]
        result = evaluate(case, kb_of(profile_of(expected)))
        fired_somewhere |= {entry.rule for entry in result.trace}
        named_fire |= set(expected.get("rules_fired", ()))
        named_miss |= set(expected.get("rules_not_fired", ()))
    ids = {rule.id for profile in PROFILES for rule in kb_of(profile).rules}
    assert sorted(ids - fired_somewhere) == [], "rules that no shipped case makes fire"
    assert sorted(ids - named_fire) == [], "rules that no case names in expected.rules_fired"
    assert sorted(ids - named_miss) == [], "rules without a near-miss case (expected.rules_not_fired)"
    assert sorted((named_fire | named_miss) - ids) == [], "cases name rules that do not exist"


def test_every_rule_cites_a_source_and_has_dutch_text(kb):
    for rule in kb.rules:
        assert rule.sources, rule.id
        assert rule.title.nl.strip() and rule.rationale.nl.strip(), rule.id
        assert rule.title.nl != rule.title.en or len(rule.title.en) < 12, f"{rule.id}: Dutch title is a copy of the English"


def test_every_contract_code_is_produced_by_some_rule(kb_of):
    """In some guideline profile: `neurology` and `paracetamol` are the NHG's (pathways.md, Guideline profile)."""
    from cdss.model import PROFILES
    vocab = resources.vocabulary()
    made = set()
    for profile in PROFILES:
        kb = kb_of(profile)
        made |= {(c.kind, c.data.get("code")) for rule in kb.rules for c in rule.then}
        by_policy = kb.policy.codes_made()  # what the result-level policies add
        made |= {("recommend", code) for code in by_policy["recommendations"]}
        made |= {("warn", code) for code in by_policy["warnings"]}
    missing = [code for code in vocab["conditions"] if ("condition", code) not in made]
    missing += [code for code in vocab["red_flags"] if ("red_flag", code) not in made]
    missing += [code for code in vocab["recommendations"] if ("recommend", code) not in made]
    missing += [code for code in vocab["do_not"] if ("advise_against", code) not in made]
    missing += [code for code in vocab["warnings"] if ("warn", code) not in made]
    assert missing == []


def test_adult_pathways_require_an_adult(kb):
    """Children get the paediatric red flag, never adult advice: every rule outside red flags and derived
    facts tests derived.adult at its top level."""
    from cdss.kb.conditions import FactTest, top_level_tests
    for rule in kb.rules:
        if rule.pathway in ("red_flags", "derived"):
            continue
        assert any(isinstance(t, FactTest) and t.name == "derived.adult" for t in top_level_tests(rule.when)), rule.id
