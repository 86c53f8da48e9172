"""The phrase catalogue (`rules/phrases.yaml`): case facts in words, in English and Dutch.

What a rule matched (a field and its value, a derived fact, a concluded condition, a trial, a count, a
score) is said with the catalogue's phrases: `pain.hip: both` is "hip pain on both sides" / "heuppijn aan
beide kanten", `labs.crp_mg_l: 62` is "CRP 62 mg/L" / "CRP 62 mg/l". A template names only the
placeholders its place allows ({value}, {items}, {name}, ...); cdss fills them in one pass with numbers it
formats itself and phrases from the catalogue, so nothing a case holds is ever read as a template.
"""

from __future__ import annotations

import re
from typing import Any

from attrs import field, frozen

from cdss.kb import labels
from cdss.kb.fields import field_catalogue, kind_of
from cdss.model import Matched

FILE = "phrases.yaml"
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# The placeholders each template may use.
TEMPLATE_PLACEHOLDERS = {
    "number": {"value"}, "list": {"items"},
    "not_recorded": {"name"}, "not": {"phrase"}, "count": {"hits", "total"}, "points": {"name", "points"},
    "one_point": {"name"}, "trial": {"treatment", "weeks", "response"}, "weeks": {"n"},
    "trial_at": {"treatment", "joint", "weeks", "response"}, "trial_absent": {"treatment"},
    "condition": {"label", "status"}, "no_condition": {"label"}, "red_flag": {"label", "urgency"},
    "no_red_flag": {"label"},
}


def fill(template: str, values: dict[str, str]) -> str:
    """A template with its placeholders replaced, in one pass: what is put in is never scanned again."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def number(value: Any, lang: str) -> str:
    """A number as a clinician writes it: no trailing .0, and a decimal comma in Dutch."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    text = repr(value) if isinstance(value, float) else str(value)
    return text.replace(".", ",") if lang == "nl" else text


def _pick(text: dict | None, lang: str) -> str | None:
    return None if text is None else text["nl" if lang == "nl" else "en"]


def _dotted(ref: str) -> str:
    return ref.lstrip("/").replace("/", ".")


@frozen
class Phrases:
    """The loaded catalogue, and the titles of the rules that assert each fact (a fact's fallback words)."""

    fields: dict
    scores: dict
    facts: dict
    words: dict
    fact_titles: dict = field(factory=dict, eq=False)  # fact name -> Text

    # -- one field ---------------------------------------------------------------------------------
    def name(self, path: str, lang: str) -> str | None:
        entry = self.fields.get(path)
        if entry is None:
            return None
        return _pick(entry.get("name") or entry.get("if_true"), lang)

    def absent(self, path: str, lang: str) -> str | None:
        entry = self.fields.get(path)
        if entry is None:
            return None
        if "absent" in entry:
            return _pick(entry["absent"], lang)
        name = self.name(path, lang)
        return None if name is None else fill(self.word("not_recorded", lang), {"name": name})

    def value(self, path: str, value: Any, lang: str) -> str | None:
        """The case's value of a field in words, or None when the catalogue has no words for it."""
        entry = self.fields.get(path)
        if entry is None:
            return None
        if isinstance(value, bool):
            return _pick(entry.get("if_true" if value else "if_false"), lang)
        if isinstance(value, (int, float)):
            if value == 1 and "one" in entry:
                return _pick(entry["one"], lang)
            template = _pick(entry.get("number"), lang)
            return None if template is None else fill(template, {"value": number(value, lang)})
        if isinstance(value, str):
            return _pick(entry.get("values", {}).get(value), lang)
        if isinstance(value, (list, tuple)):
            if not value:
                return _pick(entry.get("empty"), lang) or self.name(path, lang)
            items = [_pick(entry.get("items", {}).get(item), lang) for item in value]
            template = _pick(entry.get("list"), lang)
            if template is None or None in items:
                return None
            return fill(template, {"items": self.join(items, lang)})
        if isinstance(value, dict):  # a study: it was done
            return _pick(entry.get("present"), lang)
        return None

    # -- what a rule matched -----------------------------------------------------------------------
    def matched(self, m: Matched, lang: str) -> str | None:
        """One witness of the trace in words, or None when it cannot be said without a code."""
        if m.kind == "field":
            path = _dotted(m.ref)
            if m.absent:
                return self.absent(path, lang)
            if m.value is None:
                return self.value(path, {}, lang) or self.name(path, lang)
            return self.value(path, m.value, lang)
        if m.kind == "fact":
            phrase = self.fact(m.ref, lang)
            if phrase is None or not m.absent:
                return phrase
            return fill(self.word("not", lang), {"phrase": phrase})
        if m.kind == "condition":
            name = labels.words("conditions", m.ref, lang)
            if name is None:
                return None
            if m.absent or m.value is None:
                return fill(self.word("no_condition", lang), {"label": _lower(name)})
            return fill(self.word("condition", lang), {"label": _lower(name),
                                                       "status": labels.words("statuses", m.value, lang) or ""})
        if m.kind == "red_flag":
            if m.ref == "any":
                return self.word("no_any_red_flag" if m.absent else "any_red_flag", lang)
            name = labels.words("red_flags", m.ref, lang)
            if name is None:
                return None
            if m.absent or m.value is None:
                return fill(self.word("no_red_flag", lang), {"label": _lower(name)})
            return fill(self.word("red_flag", lang), {"label": _lower(name),
                                                      "urgency": labels.words("urgencies", m.value, lang) or ""})
        if m.kind == "trial":
            return self.trial(m, lang)
        if m.kind == "count":
            hits, total = m.detail if m.detail else (m.value, None)
            if total is None:
                return None
            return fill(self.word("count", lang), {"hits": number(hits, lang), "total": number(total, lang)})
        if m.kind == "score":
            name = _pick(self.scores.get(m.ref), lang)
            if name is None:
                return None
            if m.value == 1:
                return fill(self.word("one_point", lang), {"name": name})
            return fill(self.word("points", lang), {"name": name, "points": number(m.value, lang)})
        return None

    def fact(self, name: str, lang: str) -> str | None:
        text = self.facts.get(name)
        if text is not None:
            return _pick(text, lang)
        title = self.fact_titles.get(name)
        return None if title is None else _lower(title.pick(lang))

    def trial(self, m: Matched, lang: str) -> str | None:
        if m.absent:
            treatment = labels.words("recommendations", m.ref, lang)
            return None if treatment is None else fill(self.word("trial_absent", lang),
                                                       {"treatment": _lower(treatment)})
        if not m.detail:
            return None
        code, weeks, response, joint = m.detail
        treatment = labels.words("recommendations", code, lang)
        said = _pick(self.words["response"].get(response), lang)
        if treatment is None or said is None:
            return None
        span = self.word("one_week", lang) if weeks == 1 else fill(self.word("weeks", lang), {"n": number(weeks, lang)})
        values = {"treatment": treatment, "weeks": span, "response": said}
        if joint is not None:
            values["joint"] = _pick(self.words["joint"].get(joint), lang) or ""
            return fill(self.word("trial_at", lang), values)
        return fill(self.word("trial", lang), values)

    # -- small words -------------------------------------------------------------------------------
    def word(self, name: str, lang: str) -> str:
        return _pick(self.words[name], lang)

    def join(self, items: list[str], lang: str) -> str:
        if len(items) <= 1:
            return "".join(items)
        return ", ".join(items[:-1]) + f" {self.word('and', lang)} " + items[-1]


def _lower(label: str) -> str:
    """A label inside a sentence: 'Hip fracture' -> 'hip fracture' (but 'HLA-B27', 'MRI ...' stay)."""
    return label[0].lower() + label[1:] if len(label) > 1 and label[1].islower() else label


def from_data(data: dict, fact_titles: dict | None = None) -> Phrases:
    return Phrases(data["fields"], data["scores"], data["facts"], data["words"], fact_titles or {})


EMPTY = Phrases({}, {}, {}, {})


# -- what the catalogue must hold ------------------------------------------------------------------

def needs(path: str) -> list[str]:
    """The entries a field's phrases need, by the field's type in the case schema."""
    spec = field_catalogue().get(path)
    if spec is None:
        return []
    kind = kind_of(spec)
    if kind == "boolean":
        return ["if_true", "if_false"]
    if kind == "enum":
        return ["name"] + [f"values.{v}" for v in spec["enum"]]
    if kind in ("number", "integer"):
        return ["name", "number"]
    if kind == "array":
        items = spec.get("items", {})
        if "$ref" in items or "enum" not in items:
            return ["name"]
        return ["name", "list"] + [f"items.{v}" for v in items["enum"]]
    if kind == "object":
        return ["name", "present", "absent"]
    return ["name"]


def missing(phrases: Phrases, path: str) -> list[str]:
    """What the catalogue lacks to say a field in words (empty: nothing)."""
    entry = phrases.fields.get(path)
    if entry is None:
        return ["every phrase"]
    out = []
    for need in needs(path):
        if need == "name" and ("name" in entry or "if_true" in entry):
            continue
        node: Any = entry
        for part in need.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            out.append(need)
    return out


def template_problems(data: dict) -> list[tuple[list, str]]:
    """(place, message) for each placeholder a template may not use (each place allows its own,
    TEMPLATE_PLACEHOLDERS), and for each stray brace."""
    out = []

    def check(parts: list, text: dict, allowed: set[str]) -> None:
        for lang in ("en", "nl"):
            found = PLACEHOLDER.findall(text.get(lang, ""))
            stray = text.get(lang, "").count("{") != len(found) or text.get(lang, "").count("}") != len(found)
            if set(found) - allowed or stray:
                shown = ", ".join("{" + p + "}" for p in sorted(allowed)) or "none"
                out.append((parts + [lang], f"{'/'.join(map(str, parts + [lang]))}: a placeholder or brace this "
                                            f"text may not hold (it may use {shown})"))

    for path, entry in data.get("fields", {}).items():
        for key, text in entry.items():
            if isinstance(text, dict) and {"en", "nl"} <= set(text):
                check(["fields", path, key], text, TEMPLATE_PLACEHOLDERS.get(key, set()))
            elif isinstance(text, dict):
                for value, item in text.items():
                    check(["fields", path, key, value], item, set())
    for section in ("scores", "facts"):
        for name, text in data.get(section, {}).items():
            check([section, name], text, set())
    for name, text in data.get("words", {}).items():
        if {"en", "nl"} <= set(text):
            check(["words", name], text, TEMPLATE_PLACEHOLDERS.get(name, set()))
        else:
            for value, item in text.items():
                check(["words", name, value], item, set())
    return out


def field_problems(data: dict) -> list[tuple[list, str]]:
    """(place, message) for entries of fields the case schema does not have (a typo would leave the field
    it meant without words), and for entries whose parts do not fit the field's type."""
    catalogue = field_catalogue()
    out = []
    for path, entry in data.get("fields", {}).items():
        if path not in catalogue:
            from difflib import get_close_matches
            close = get_close_matches(path, catalogue, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            out.append((["fields", path], f"fields/{path}: no such case field{hint}"))
            continue
        spec = catalogue[path]
        kind = kind_of(spec)
        known = set(spec.get("enum", ())) if kind == "enum" else set(spec.get("items", {}).get("enum", ()))
        for key in ("values", "items"):
            for value in entry.get(key, {}):
                if value not in known:
                    out.append((["fields", path, key, value], f"fields/{path}/{key}/{value}: not a value of the field"))
    return out
