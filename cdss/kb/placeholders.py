"""Case facts in rule texts: placeholders that a rule's rationale or warning message may hold.

A rule text states the case's facts in words where it needs them (the contract: "Rationales and
messages ... state the case's facts in words"). It names them declaratively, and cdss fills them in when
the rule fires:

    {labs.crp_mg_l}          the case's value of a field, in the catalogue's words ("CRP 62 mg/l")
    {count} / {count_total}  how many items of the rule's `count` hold, and of how many
    {points}                 the total of the rule's `score`; {points:joints} one domain's points
    {lookup:NAME}            a text chosen by a number, from the rule's own `lookups` table

Nothing here is a format string: a placeholder is looked up by name in a fixed set of kinds, its value
is a number cdss formats or a phrase from the knowledge base, and the text is filled in one pass (a value
is never scanned for placeholders). An unknown placeholder, a stray brace, a `{count}` in a rule with no
`count`, or a lookup the rule does not define is a load error naming the file, the rule and the line.
"""

from __future__ import annotations

import re

import attrs

from cdss.errors import RuleFileError
from cdss.kb.conditions import MISSING, Count, Facts, Node, Score, lookup
from cdss.kb.fields import field_catalogue
from cdss.kb.phrases import Phrases, number
from cdss.model import Text

TOKEN = re.compile(r"\{([^{}]*)\}")
KINDS = "a case field ({labs.crp_mg_l}), {count}, {count_total}, {points}, {points:DOMAIN} or {lookup:NAME}"


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _nodes(when: Node, kind: type) -> list:
    return [node for node in when.walk() if isinstance(node, kind)]


def check(rule_id: str, when: Node, texts: dict[str, str], lookups: dict, fail) -> bool:
    """Refuse what a rule's texts cannot fill; `texts` maps where (e.g. 'rationale.nl') to the text, `fail(where,
    message)` raises. True when the rule has placeholders at all."""
    found = False
    catalogue = field_catalogue()
    for where, text in texts.items():
        if text.count("{") != len(tokens(text)) or text.count("}") != len(tokens(text)):
            fail(where, f"a brace that is not a placeholder in {where}; a placeholder names {KINDS}")
        for token in tokens(text):
            found = True
            head, _, tail = token.partition(":")
            if token in ("count", "count_total"):
                if len(_nodes(when, Count)) != 1:
                    fail(where, f"{{{token}}} in {where} needs exactly one `count` in the rule's condition")
            elif head == "points":
                scores = _nodes(when, Score)
                if len(scores) != 1:
                    fail(where, f"{{{token}}} in {where} needs exactly one `score` in the rule's condition")
                if tail and tail not in {d.name for d in scores[0].domains}:
                    fail(where, f"{{{token}}} in {where}: the rule's score has no domain {tail!r}")
            elif head == "lookup" and tail:
                if tail not in lookups:
                    fail(where, f"{{{token}}} in {where}: the rule defines no lookup {tail!r} (under `lookups`)")
            elif token not in catalogue or token == "id":
                fail(where, f"unknown placeholder {{{token}}} in {where}; a placeholder names {KINDS}")
    for name, spec in lookups.items():
        source = spec["of"]
        if source in ("count", "count_total") and len(_nodes(when, Count)) != 1:
            fail(f"lookups.{name}", f"lookup {name!r} reads `{source}`, but the rule has no single `count`")
        if source.startswith("points") and len(_nodes(when, Score)) != 1:
            fail(f"lookups.{name}", f"lookup {name!r} reads `{source}`, but the rule has no single `score`")
    return found


def _quantity(token: str, when: Node, facts: Facts):
    if token in ("count", "count_total"):
        count = _nodes(when, Count)[0]
        return count.hits(facts) if token == "count" else len(count.items)
    score = _nodes(when, Score)[0]
    total, found = score.tally(facts)
    _, _, domain = token.partition(":")
    if not domain:
        return total
    return next((m.value for m in found if m.kind == "score" and m.ref == domain), 0)


def fill_text(text: str, lang: str, when: Node, lookups: dict, facts: Facts, phrases: Phrases) -> str:
    """A rule text with its placeholders filled for one case (in one pass)."""
    def value(match: re.Match) -> str:
        token = match.group(1)
        head, _, tail = token.partition(":")
        if token in ("count", "count_total") or head == "points":
            return number(_quantity(token, when, facts), lang)
        if head == "lookup":
            spec = lookups[tail]
            n = _quantity(spec["of"], when, facts)
            chosen = None
            for step in sorted(spec["steps"], key=lambda s: s["at_least"]):
                if n >= step["at_least"]:
                    chosen = step
            return "" if chosen is None else chosen["nl" if lang == "nl" else "en"]
        got = lookup(facts.case, tuple(token.split(".")))
        said = phrases.absent(token, lang) if got is MISSING else phrases.value(token, got, lang)
        return said or ""
    return TOKEN.sub(value, text)


def filled(conclusions: list, facts: Facts, phrases: Phrases | None) -> list:
    """(rule, conclusion) pairs with every placeholder of the rules' rationales and warnings filled for
    this case; rules without placeholders are passed through untouched."""
    if phrases is None or not any(getattr(rule, "placeholders", False) for rule, _ in conclusions):
        return conclusions
    out, done = [], {}
    for rule, conclusion in conclusions:
        if not getattr(rule, "placeholders", False):
            out.append((rule, conclusion))
            continue
        if rule.id not in done:
            done[rule.id] = attrs.evolve(rule, rationale=Text(
                fill_text(rule.rationale.en, "en", rule.when, rule.lookups, facts, phrases),
                fill_text(rule.rationale.nl, "nl", rule.when, rule.lookups, facts, phrases)))
        if conclusion.kind == "warn":
            data = dict(conclusion.data)
            for lang in ("en", "nl"):
                data[lang] = fill_text(data[lang], lang, rule.when, rule.lookups, facts, phrases)
            conclusion = attrs.evolve(conclusion, data=data)
        out.append((done[rule.id], conclusion))
    return out


def refuse(file: str, rule_id: str, line_of):
    """A `fail(where, message)` for `check` that raises the loader's error with the line of `where`."""
    def fail(where: str, message: str):
        raise RuleFileError(file, message, rule_id=rule_id, line=line_of(where))
    return fail
