"""CDS Hooks cards are clinician text too (cases-and-results.md, "Labels, not codes"): every summary,
detail, suggestion, link and override reason says things in words in the language asked for, never a
code, field path or rule id; what an integrator needs (rule ids, missing prefetch keys, why a record was
not used) is in `extension.cdss`."""

from __future__ import annotations

import json

import pytest

from cdss.engine import evaluate
from cdss.fhir import bundles, mapping
from cdss.io import cases, expectations
from cdss.service import cards as cards_module
from cdss.service.cards import CardMaker
from tests.helpers import words
from tests.helpers.fhir import bundle, observation, quantity, raw
from tests.helpers.paths import CASES, case_paths
from tests.helpers.words import LANGS, offences


@pytest.fixture(scope="module")
def forbidden():
    extra = {}
    for index, lang in enumerate(LANGS, 1):
        texts = list(cards_module.WORDS[lang].values()) + list(cards_module.DATA_WORDS[lang].values())
        texts += [reason[index] for reason in cards_module.OVERRIDE_REASONS]
        texts += [source for rule in words.all_rules() for source in rule.sources]
        extra[lang] = texts
    return words.forbidden(extra)


def clinician_texts(card: dict) -> list[str]:
    """What a clinician reads on a card, Markdown escapes undone (an escaped `a\\_b` is still a code)."""
    texts = [card["summary"], card.get("detail", ""), card["source"]["label"], card["source"]["topic"]["display"]]
    for suggestion in card.get("suggestions", ()):
        texts.append(suggestion["label"])
        texts += [action["description"] for action in suggestion["actions"]]
    texts += [link["label"] for link in card.get("links", ())]
    texts += [reason["display"] for reason in card.get("overrideReasons", ())]
    return [text.replace("\\", "") for text in texts]


def maker(lang: str) -> CardMaker:
    return CardMaker(mapping.shipped(), "cdss-patient-view", "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", lang, "p1",
                     "https://cdss.example/fhir/Questionnaire/cdss-case")


@pytest.mark.parametrize("lang", LANGS)
def test_no_card_of_a_shipped_case_shows_a_code_or_field_path(lang, kb_of, forbidden):
    """Every shipped case's cards (in its own profile), with the missing-data card each may carry."""
    problems = []
    for path in case_paths():
        case = cases.read_case(str(path))
        kb = kb_of(expectations.profile_of(case.data.get("expected") or {}))
        body = evaluate(case, kb).to_dict(lang)
        made = maker(lang).from_result(body, ["conditions", "observations"], False, ())
        assert made, path
        for card in made:
            found = [o for text in clinician_texts(card.body) for o in offences(text, lang, forbidden)]
            if found:
                problems.append(f"{path.relative_to(CASES)} {card.kind}: {sorted(set(found))[:6]}")
    assert not problems, "\n".join(problems[:20])


def test_the_check_sees_through_markdown_escapes(forbidden):
    card = {"summary": "Knieartrose", "detail": "omdat pain\\_hip", "source": {"label": "x", "topic": {"display": "y"}}}
    assert offences(" ".join(clinician_texts(card)), "nl", forbidden)


@pytest.mark.parametrize("lang", LANGS)
def test_records_that_could_not_be_used_are_named_in_words_and_explained_in_the_extension(lang, kb, forbidden):
    """An Observation cdss cannot read and one without a value: the card names the two records and says
    in words why such records go unused; the reader's own notes (field paths and all) are for the
    integrator, in the extension."""
    data = bundle(observation("99999-9", rid="obs-a", valueQuantity=quantity(5, "mg/L")),
                  observation("1988-5", rid="obs-b"))  # CRP, no value
    mapped = bundles.read(raw(data), "request", validate=False)
    assert len(mapped.notes) == 2
    body = bundles.evaluate(mapped, kb).to_dict(lang)
    [missing] = [c for c in maker(lang).from_result(body, ["conditions"], True, mapped.notes)
                 if c.kind == "missing_data"]
    detail = missing.body["detail"]
    assert "Observation/obs-a" in detail and "Observation/obs-b" in detail
    assert cards_module.DATA_WORDS[lang]["conditions"] in detail
    assert [o for text in clinician_texts(missing.body) for o in offences(text, lang, forbidden)] == []
    assert missing.body["extension"]["cdss"]["notes"] == list(mapped.notes)
    assert missing.body["extension"]["cdss"]["missing"] == ["conditions"]
    assert any("labs.crp_mg_l" in note for note in mapped.notes)  # what the check keeps out of the detail


def test_a_warning_card_names_the_rules_that_raised_it(kb):
    """A result's warning names no rules (the contract); its card finds them in the trace."""
    path = next(p for p in case_paths() if "septic" in p.name and p.parent.name == "red_flags")
    body = evaluate(cases.read_case(str(path)), kb).to_dict("en")
    warning_cards = [c for c in maker("en").from_result(body, [], True, ()) if c.kind == "warning"]
    assert warning_cards
    for card in warning_cards:
        raised = [e["rule"] for e in body["trace"] if f"warning:{card.code}" in e["asserted"]]
        assert card.rules == tuple(raised) and raised
