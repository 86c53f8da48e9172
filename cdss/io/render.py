"""Turn a Result into what a clinician reads: red flags first, then conditions, next steps in the order to
act, advice against and warnings, each with a "because" line that states the case facts behind it.

The text is words only, in the chosen language: labels for codes, the contract's urgency and status words,
and the knowledge base's phrases for case facts (rules/phrases.yaml). It shows no code, field path or
enum value (a trailing `[code]` only with show_codes), and ends by saying that this is decision support
for a clinician, not a diagnosis. `--format json` keeps the codes.
"""

from __future__ import annotations

import json

from cdss.io import jsonbytes
from cdss.kb import labels
from cdss.kb.phrases import EMPTY, Phrases
from cdss.kb.rules import KnowledgeBase
from cdss.model import DISCLAIMER, ErrorResult, Matched, Result

HEAD = {
    "en": {"red_flags": "RED FLAGS (act on these first)", "conditions": "CONDITIONS (decision support, not a diagnosis)",
           "next": "NEXT STEPS (in the order to act)", "do_not": "ADVISE AGAINST", "warnings": "WARNINGS",
           "because": "because", "for": "for", "none": "No red flag, condition or recommendation was reached.",
           "chain": "why", "found": "found", "case": "case", "knowledge_base": "knowledge base", "icd10": "ICD-10",
           "rules": "rules"},
    "nl": {"red_flags": "ALARMSYMPTOMEN (eerst hierop handelen)",
           "conditions": "AANDOENINGEN (beslisondersteuning, geen diagnose)",
           "next": "VOLGENDE STAPPEN (in volgorde van handelen)", "do_not": "AFRADEN", "warnings": "WAARSCHUWINGEN",
           "because": "omdat", "for": "voor", "none": "Geen alarmsymptoom, aandoening of advies bereikt.",
           "chain": "waarom", "found": "gevonden", "case": "casus", "knowledge_base": "kennisbank", "icd10": "ICD-10",
           "rules": "regels"},
}
MAX_BECAUSE = 6
DASH = " — "


def to_json(result: Result | ErrorResult, lang: str = "en", indent: int | None = 2) -> str:
    """Deterministic JSON: keys in contract order, no locale, no floats re-rounded."""
    if indent is None:
        return jsonbytes.compact(result.to_dict(lang)).decode()
    return json.dumps(result.to_dict(lang), ensure_ascii=False, indent=indent)


class _Chain:
    """Walks the trace back from a conclusion to the case facts that produced it, and says them in words."""

    def __init__(self, result: Result, phrases: Phrases, lang: str):
        self.phrases, self.lang = phrases, lang
        self.entries = {entry.rule: entry for entry in result.trace}
        self.asserters: dict[tuple[str, str], list[str]] = {}
        for entry in result.trace:
            for item in entry.asserted:
                kind, _, rest = item.partition(":")
                name = rest.split(":")[0]
                self.asserters.setdefault((kind, name), []).append(entry.rule)

    def fields(self, rules, seen=None) -> list[Matched]:
        seen = set() if seen is None else seen
        out: list[Matched] = []
        for rule in rules:
            if rule in seen or rule not in self.entries:
                continue
            seen.add(rule)
            for matched in self.entries[rule].matched:
                if matched.kind in ("field", "trial"):
                    out.append(matched)
                elif matched.kind in ("fact", "condition", "red_flag") and not matched.absent:
                    out.extend(self.fields(self.asserters.get((matched.kind, matched.ref), ()), seen))
        return list(dict.fromkeys(out))

    def said(self, matched) -> list[str]:
        """The witnesses in words, each once; one the catalogue cannot say is left out, never shown raw."""
        out = [self.phrases.matched(m, self.lang) for m in matched]
        return list(dict.fromkeys(text for text in out if text))

    def because(self, rules) -> str:
        found = self.fields(rules)
        said = self.said([m for m in found if not m.absent]) or self.said(found)
        text = "; ".join(said[:MAX_BECAUSE])
        return text + ("; ..." if len(said) > MAX_BECAUSE else "")

    def explain(self, rules, kb: KnowledgeBase | None, show_codes: bool, depth: int = 0, seen=None) -> list[str]:
        seen = set() if seen is None else seen
        h = HEAD[self.lang]
        lines = []
        pad = "      " + "  " * depth
        for rule in rules:
            entry = self.entries.get(rule)
            if entry is None or rule in seen:
                continue
            seen.add(rule)
            known = kb.by_id.get(rule) if kb else None
            title = known.title.pick(self.lang) if known else ""
            lines.append(f"{pad}<- {title}" + (f" [{rule}]" if show_codes else ""))
            lines.append(f"{pad}   {h['found']}: {'; '.join(self.said(entry.matched)) or '-'}")
            for matched in entry.matched:
                if matched.kind in ("fact", "condition", "red_flag") and not matched.absent:
                    lines += self.explain(self.asserters.get((matched.kind, matched.ref), ()), kb, show_codes,
                                          depth + 1, seen)
        return lines


def explain_lines(result: Result, rules, kb: KnowledgeBase | None = None, lang: str = "en",
                  show_codes: bool = False) -> list[str]:
    """--explain's chain behind the items concluded by `rules` (what `--why-not` shows for a present code)."""
    lang = "nl" if lang == "nl" else "en"
    return _Chain(result, kb.phrases if kb is not None else EMPTY, lang).explain(rules, kb, show_codes)


def _plain(role: str, text: str) -> str:
    return text


def _targets(codes, lang: str, h: dict) -> str:
    """`for` as labels."""
    names = [found.pick(lang) for code in codes if (found := labels.target(code)) is not None]
    return f"{DASH}{h['for']}: {'; '.join(names)}" if names else ""


def _said(item, lang: str) -> str:
    return item.label.pick(lang) if item.label is not None else ""


def to_text(result: Result | ErrorResult, kb: KnowledgeBase | None = None, lang: str = "en", explain: bool = False,
            show_codes: bool = False, paint=_plain, show_rules: bool = False) -> str:
    """The result as a clinician reads it. `paint(role, text)` may style a piece (roles: heading, red_flag,
    urgency:<urgency>); the CLI passes one that colours a terminal. `show_codes` ends each item with its
    [code]; `show_rules` adds the rule ids behind each item (`cdss evaluate -v`)."""
    if isinstance(result, ErrorResult):
        return f"{result.file}: {result.pointer or '/'}: {result.message}\n"
    lang = "nl" if lang == "nl" else "en"
    h = HEAD[lang]
    chain = _Chain(result, kb.phrases if kb is not None else EMPTY, lang)
    identity = result.knowledge_base
    profile = labels.words("profiles", identity.profile, lang) or ""
    lines = [f"cdss{DASH}{h['case']} {result.case_id}{DASH}{h['knowledge_base']} {identity.version}, {profile} "
             f"(sha256 {identity.sha256[:12]})", ""]

    def code(item) -> str:
        return f" [{item.code}]" if show_codes else ""

    shown: set[str] = set()

    def reason(rules, rationale) -> None:
        because = chain.because(rules)
        if because:
            lines.append(f"      {h['because']}: {because}")
        if show_rules:
            lines.append(f"      {h['rules']}: {', '.join(rules)}")
        text = rationale.pick(lang)
        if text not in shown:  # a reason shared by several items is printed once, at the first
            shown.add(text)
            lines.append(f"      {text}")
        if explain:
            lines.append(f"      {h['chain']}:")
            lines.extend(chain.explain(rules, kb, show_codes))

    def status(value: str) -> str:
        return labels.words("statuses", value, lang) or ""

    def urgency(value: str) -> str:
        return labels.words("urgencies", value, lang) or ""

    if result.red_flags:
        lines.append(paint("heading", h["red_flags"]))
        for flag in result.red_flags:
            lines.append(paint("red_flag", f"  !! {_said(flag, lang)}{DASH}{status(flag.status)}{DASH}"
                                           f"{urgency(flag.urgency)}{code(flag)}"))
            reason(flag.rules, flag.rationale)
        lines.append("")
    if result.conditions:
        lines.append(paint("heading", h["conditions"]))
        for condition in result.conditions:
            lines.append(f"  -  {_said(condition, lang)}{DASH}{status(condition.status)} "
                         f"({h['icd10']} {condition.icd10}){code(condition)}")
            reason(condition.rules, condition.rationale)
        lines.append("")
    if result.recommendations:
        lines.append(paint("heading", h["next"]))
        for number, rec in enumerate(result.recommendations, 1):
            when = paint(f"urgency:{rec.urgency}", urgency(rec.urgency))
            lines.append(f"  {number:>2}. {_said(rec, lang)}{DASH}{when}{_targets(rec.for_, lang, h)}{code(rec)}")
            reason(rec.rules, rec.rationale)
        lines.append("")
    if result.do_not:
        lines.append(paint("heading", h["do_not"]))
        for item in result.do_not:
            lines.append(f"  x  {_said(item, lang)}{_targets(item.for_, lang, h)}{code(item)}")
            text = item.rationale.pick(lang)
            if text not in shown:  # one rule advising against several things says why once
                shown.add(text)
                lines.append(f"      {text}")
        lines.append("")
    if result.warnings:
        lines.append(paint("heading", h["warnings"]))
        for warning in result.warnings:
            message = warning.message.pick(lang)
            title = _said(warning, lang) or message
            lines.append(f"  *  {title}{_targets(warning.for_, lang, h)}{code(warning)}")
            if message != title:
                lines.append(f"      {message}")
        lines.append("")
    if not (result.red_flags or result.conditions or result.recommendations or result.do_not):
        lines += [h["none"], ""]
    lines.append(DISCLAIMER[lang])
    return "\n".join(lines)
