"""Words for people: question texts for the case fields (cdss/data/fhir_questionnaire.yaml) and labels for
the contract's codes (from the vocabulary, once it carries them; until then a readable form of the code)."""

from __future__ import annotations

import functools

import jsonschema
import yaml

from cdss import resources

TEXTS_FILE = resources.DATA_DIR / "fhir_questionnaire.yaml"
LANGS = ("en", "nl")


@functools.cache
def questionnaire_texts() -> dict:
    with open(TEXTS_FILE, encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    jsonschema.validate(data, resources.schema("fhir_questionnaire"))
    return data


def field_text(path: str) -> dict:
    """{en, nl} for a case field: its own text, else its last part's (`findings`, `kl_grade`)."""
    fields = questionnaire_texts()["fields"]
    found = fields.get(path) or fields.get(path.rsplit(".", 1)[-1])
    return found or {lang: _readable(path.rsplit(".", 1)[-1]) for lang in LANGS}


def section_text(name: str) -> dict:
    return questionnaire_texts()["sections"].get(name) or {lang: _readable(name) for lang in LANGS}


def value_text(value: str) -> dict:
    """{en, nl} for an answer value: the questionnaire's text, else the code's vocabulary label."""
    found = questionnaire_texts()["values"].get(value)
    if found:
        return found
    return {lang: code_label(value, lang) for lang in LANGS}


def code_label(code: str, lang: str = "en") -> str:
    """The contract's label of a code in a language, from the vocabulary; a readable form of the code while
    the vocabulary has no label for it."""
    entry = _vocabulary_labels().get(code)
    if entry:
        return entry.get(lang) or entry.get("en") or _readable(code)
    return _readable(code)


@functools.cache
def _vocabulary_labels() -> dict:
    """code -> {en, nl}, wherever the vocabulary holds a label: `{code: {label: {en, nl}}}` or
    `{code: {en, nl}}` under any of its sections."""
    out: dict = {}

    def visit(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict):
                    label = value.get("label") if isinstance(value.get("label"), dict) else value
                    if isinstance(label, dict) and isinstance(label.get("en"), str):
                        out.setdefault(key, {lang: label.get(lang) for lang in LANGS if isinstance(label.get(lang), str)})
                    visit(value)
                elif isinstance(value, list):
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(resources.vocabulary())
    return out


def _readable(code: str) -> str:
    text = code.replace("_", " ")
    return text[:1].upper() + text[1:]
