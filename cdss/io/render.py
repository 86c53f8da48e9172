"""Turn a Result into what a clinician reads: red flags first, then conditions, next steps in the order to
act, advice against, each with a one-line "because" that names the case facts behind it."""

from __future__ import annotations

import json

from cdss.io import jsonbytes
from cdss.kb.rules import KnowledgeBase
from cdss.model import DISCLAIMER, ErrorResult, Matched, Result

HEAD = {
    "en": {"red_flags": "RED FLAGS (act on these first)", "conditions": "CONDITIONS (decision support, not a diagnosis)",
           "next": "NEXT STEPS (in the order to act)", "do_not": "ADVISE AGAINST", "warnings": "WARNINGS",
           "because": "because", "for": "for", "none": "No red flag, condition or recommendation was reached.",
           "chain": "why"},
    "nl": {"red_flags": "ALARMSIGNALEN (eerst handelen)", "conditions": "AANDOENINGEN (beslisondersteuning, geen diagnose)",
           "next": "VOLGENDE STAPPEN (in volgorde van handelen)", "do_not": "AFRADEN", "warnings": "WAARSCHUWINGEN",
           "because": "omdat", "for": "voor", "none": "Geen alarmsignaal, aandoening of advies bereikt.",
           "chain": "waarom"},
}
MAX_BECAUSE = 6


def to_json(result: Result | ErrorResult, lang: str = "en", indent: int | None = 2) -> str:
    """Deterministic JSON: keys in contract order, no locale, no floats re-rounded."""
    if indent is None:
        return jsonbytes.compact(result.to_dict(lang)).decode()
    return json.dumps(result.to_dict(lang), ensure_ascii=False, indent=indent)


class _Chain:
    """Walks the trace back from a conclusion to the case fields that produced it."""

    def __init__(self, result: Result):
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

    def because(self, rules, lang: str = "en") -> str:
        found = [m for m in self.fields(rules) if not m.absent] or self.fields(rules)
        text = "; ".join(m.describe(lang) for m in found[:MAX_BECAUSE])
        return text + ("; ..." if len(found) > MAX_BECAUSE else "")

    def explain(self, rules, kb: KnowledgeBase | None, lang: str, depth: int = 0, seen=None) -> list[str]:
        seen = set() if seen is None else seen
        lines = []
        pad = "      " + "  " * depth
        for rule in rules:
            entry = self.entries.get(rule)
            if entry is None or rule in seen:
                continue
            seen.add(rule)
            known = kb.by_id.get(rule) if kb else None
            title = known.title.pick(lang) if known else ""
            lines.append(f"{pad}<- {rule}" + (f": {title}" if title else ""))
            shown = "; ".join(m.describe(lang) for m in entry.matched) or "-"
            lines.append(f"{pad}   matched: {shown}")
            for matched in entry.matched:
                if matched.kind in ("fact", "condition", "red_flag") and not matched.absent:
                    lines += self.explain(self.asserters.get((matched.kind, matched.ref), ()), kb, lang, depth + 1, seen)
        return lines


def explain_lines(result: Result, rules, kb: KnowledgeBase | None = None, lang: str = "en") -> list[str]:
    """--explain's chain behind the items concluded by `rules` (what `--why-not` shows for a present code)."""
    return _Chain(result).explain(rules, kb, lang)


def _plain(role: str, text: str) -> str:
    return text


def to_text(result: Result | ErrorResult, kb: KnowledgeBase | None = None, lang: str = "en", explain: bool = False,
            paint=_plain, show_rules: bool = False) -> str:
    """The result as a clinician reads it. `paint(role, text)` may style a piece (roles: heading, red_flag,
    urgency:<urgency>); the CLI passes one that colours a terminal. `show_rules` adds the rule ids behind
    each item (`cdss evaluate -v`)."""
    if isinstance(result, ErrorResult):
        return f"{result.file}: {result.pointer or '/'}: {result.message}\n"
    h = HEAD["nl" if lang == "nl" else "en"]
    chain = _Chain(result)
    lines = [f"cdss - case {result.case_id} - knowledge base {result.knowledge_base.version} "
             f"(sha256 {result.knowledge_base.sha256[:12]})",
             DISCLAIMER["nl" if lang == "nl" else "en"], ""]

    shown: set[str] = set()

    def add_reason(rules, rationale) -> None:
        lines.append(f"      {h['because']}: {chain.because(rules, lang)}")
        if show_rules:
            lines.append(f"      rules: {', '.join(rules)}")
        text = rationale.pick(lang)
        if text not in shown:  # a reason shared by several items is printed once, at the first
            shown.add(text)
            lines.append(f"      {text}")
        if explain:
            lines.append(f"      {h['chain']}:")
            lines.extend(chain.explain(rules, kb, lang))

    if result.red_flags:
        lines.append(paint("heading", h["red_flags"]))
        for flag in result.red_flags:
            lines.append(paint("red_flag", f"  !! {flag.code} - {flag.status}, {flag.urgency.upper()}"))
            add_reason(flag.rules, flag.rationale)
        lines.append("")
    if result.conditions:
        lines.append(paint("heading", h["conditions"]))
        for condition in result.conditions:
            lines.append(f"  -  {condition.code} - {condition.status} ({condition.icd10})")
            add_reason(condition.rules, condition.rationale)
        lines.append("")
    if result.recommendations:
        lines.append(paint("heading", h["next"]))
        for number, rec in enumerate(result.recommendations, 1):
            target = f" - {h['for']} {', '.join(rec.for_)}" if rec.for_ else ""
            kind = rec.kind if rec.category is None else f"{rec.kind}: {rec.category}"
            urgency = paint(f"urgency:{rec.urgency}", f"[{rec.urgency}]")
            lines.append(f"  {number:>2}. {urgency} {rec.code} ({kind}){target}")
            add_reason(rec.rules, rec.rationale)
        lines.append("")
    if result.do_not:
        lines.append(paint("heading", h["do_not"]))
        for item in result.do_not:
            target = f" - {h['for']} {', '.join(item.for_)}" if item.for_ else ""
            lines.append(f"  x  {item.code}{target}")
            lines.append(f"      {item.rationale.pick(lang)}")
        lines.append("")
    if result.warnings:
        lines.append(paint("heading", h["warnings"]))
        for warning in result.warnings:
            lines.append(f"  *  {warning.message.pick(lang)}")
        lines.append("")
    if not (result.red_flags or result.conditions or result.recommendations or result.do_not):
        lines += [h["none"], ""]
    return "\n".join(lines)
