"""What clinician text must never show, and a check that finds it: every code of the vocabulary, case
field path, fact name, rule id and enum value, with the words the knowledge base itself uses in each
language allowed back (an English label says "Paracetamol"; "ice" is a code and an English word).

Shared by the tests of every text a clinician reads: `cdss evaluate`'s text, CDS Hooks cards, ...
"""

from __future__ import annotations

import re

from cdss import resources
from cdss.kb.fields import field_catalogue
from cdss.kb.loader import load
from cdss.model import DISCLAIMER, PROFILES

LANGS = ("en", "nl")
CODE_SECTIONS = ("conditions", "red_flags", "recommendations", "do_not", "warnings")
WORD = re.compile(r"[A-Za-zÀ-ÿ0-9_]+(?:[.\-/][A-Za-zÀ-ÿ0-9_]+)*")


def all_rules() -> list:
    """Every rule of every profile (a field an nhg rule reads needs words too)."""
    seen = {}
    for profile in PROFILES:
        for rule in load(profile=profile).rules:
            seen.setdefault(rule.id, rule)
    return list(seen.values())


def tokens(text: str) -> set[str]:
    return set(WORD.findall(text))


def strings(node, lang: str) -> list[str]:
    """Every text of one language in a nest of {en, nl} mappings."""
    if isinstance(node, dict):
        if set(node) == {"en", "nl"}:
            return [node[lang]]
        return [s for value in node.values() for s in strings(value, lang)]
    return []


def forbidden(extra_texts: dict[str, list[str]] | None = None) -> dict:
    """The forbidden tokens, and per language the words allowed back: those of the labels, rule texts,
    phrases and the headings of the text output, plus `extra_texts` (the fixed words of another output)."""
    from cdss.io import render
    rules = all_rules()
    vocab = resources.vocabulary()
    codes = {code for section in CODE_SECTIONS for code in vocab[section]}
    codes |= set(vocab["urgencies"]) | set(vocab["status_labels"]) | set(vocab["recommendation_kinds"])
    codes |= set(vocab["treatment_categories"]) | set(vocab["profiles"])
    codes |= {c.data["code"] for rule in rules for c in rule.then if c.kind == "warn"}
    enum_values = set()
    for spec in field_catalogue().values():
        enum_values |= {v for v in spec.get("enum", ()) if isinstance(v, str)}
        enum_values |= {v for v in spec.get("items", {}).get("enum", ()) if isinstance(v, str)}
    dotted = {p for p in field_catalogue() if "." in p}  # a section name ("pain") is a word; checked below
    paths = dotted | {"/" + p.replace(".", "/") for p in field_catalogue()}
    enum_values |= {p for p in field_catalogue() if "." not in p}
    facts = {c.data["name"] for rule in rules for c in rule.then if c.kind == "assert"}
    rule_ids = {rule.id for rule in rules}
    allowed = {lang: set() for lang in LANGS}
    kb = load()
    for lang in LANGS:
        texts = [DISCLAIMER[lang], *render.HEAD[lang].values(), *(extra_texts or {}).get(lang, ())]
        for section in (*CODE_SECTIONS, "urgencies", "profiles"):
            texts += [spec["label"][lang] for spec in vocab[section].values()]
        texts += [label[lang] for label in vocab["status_labels"].values()]
        texts += [rule.title.pick(lang) for rule in rules] + [rule.rationale.pick(lang) for rule in rules]
        texts += [c.data[lang] for rule in rules for c in rule.then if c.kind == "warn"]
        texts += strings(kb.phrases.fields, lang) + strings(kb.phrases.words, lang)
        texts += strings(kb.phrases.facts, lang) + strings(kb.phrases.scores, lang)
        for text in texts:
            allowed[lang] |= {t.lower() for t in tokens(text)}
    single = {c for c in codes | enum_values if "_" not in c}
    return {"underscored": {c for c in codes | enum_values if "_" in c}, "single": single, "paths": paths,
            "facts": facts, "rule_ids": rule_ids, "allowed": allowed}


def offences(text: str, lang: str, f: dict, case_id: str = "") -> list[str]:
    """Codes, field paths, fact names, rule ids and enum values the text shows."""
    if case_id:
        text = text.replace(case_id, "")  # the case's own id is named in the heading
    out = []
    for token in tokens(text):
        if "_" in token:
            out.append(f"snake_case token {token!r}")
        if token in f["paths"] or token in f["facts"] or token in f["rule_ids"]:
            out.append(f"field path, fact or rule id {token!r}")
        for part in re.split(r"[.\-/]", token):
            if part in f["single"] and part.lower() not in f["allowed"][lang]:
                out.append(f"code or enum value {part!r}")
    out += [f"bracketed code {m!r}" for m in re.findall(r"\[[a-z0-9_.-]+\]", text)]
    return out
