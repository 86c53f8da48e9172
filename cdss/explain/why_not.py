"""Why was X *not* concluded? Every rule that could conclude a code, and what stopped each.

For a code the result lacks (a recommendation, condition, red flag or do-not), `why_not` names every rule
that concludes it directly, and for each one either

- the first condition of its `when` that failed, with the case's value or "not recorded"; when that
  condition needs a derived thing (a fact, a condition, a red flag), the rules that could have concluded
  that thing, each explained the same way (through the facts it needs), or
- the result-level policy that removed the code after the rule fired (a red flag withholding treatment, a
  failed trial, a study already done), as the `policy.*` trace entries record it.

It reads only the case, the knowledge base and the result (its trace says what fired and what was
concluded), never an engine's internals: the same function serves `cdss evaluate --why-not`, its
`--format json`, and the CDS Hooks service's card detail, whichever engine produced the result.
"""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from cdss.errors import CdssError
from cdss.kb.conditions import (MISSING, All, Any_, ConditionTest, Count, FactTest, FieldRef, FieldTest, Node, Not,
                                RedFlagTest, Score, TrialTest, Facts, lookup)
from cdss.kb.rules import KnowledgeBase, Rule
from cdss.model import Case, Matched, Result

KINDS = (("recommendations", "recommendation", "recommend"), ("conditions", "condition", "condition"),
         ("red_flags", "red_flag", "red_flag"), ("do_not", "do_not", "advise_against"))
MAX_DEPTH = 8  # chains in the rule base are ~3 deep; this only stops a runaway walk
OPS = {"eq": "=", "ne": "!=", "in": "in", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=",
       "contains": "contains", "contains_any": "contains any of", "present": "is recorded",
       "absent": "is not recorded"}


class UnknownCode(CdssError):
    """A --why-not code that is not in the contract's vocabulary."""


@frozen
class Failure:
    """The first condition of a rule that did not hold on the case.

    kind: field | fact | condition | red_flag | trial | any | not | count | score | holds.
    `value` is the case's value (None with recorded=False: not recorded); `needs` names the rules that
    could have concluded the derived thing this condition tests; `alternatives` holds, for an `any`, a
    `count` or a `score`, the failure of each part that did not hold."""

    kind: str
    test: str
    detail: str = ""
    field: str | None = None
    value: Any = None
    recorded: bool = True
    line: int | None = None
    needs: tuple[str, ...] = ()
    alternatives: tuple["Failure", ...] = ()

    def to_dict(self) -> dict:
        out: dict = {"kind": self.kind, "test": self.test}
        if self.detail:
            out["detail"] = self.detail
        if self.field is not None:
            out["field"] = self.field
            out["value"] = _jsonable(self.value) if self.recorded else None
            out["recorded"] = self.recorded
        if self.line is not None:
            out["line"] = self.line
        if self.needs:
            out["needs"] = list(self.needs)
        if self.alternatives:
            out["alternatives"] = [a.to_dict() for a in self.alternatives]
        return out


@frozen
class Removal:
    """A policy that removed the code from the result after a rule concluded it."""

    policy: str
    removed: tuple[str, ...]
    because: tuple[Matched, ...]

    def to_dict(self) -> dict:
        return {"policy": self.policy, "removed": list(self.removed), "because": [m.to_dict() for m in self.because]}


@frozen
class RuleWhy:
    """One rule that could conclude the code (or something it needs): did it fire, and what stopped it."""

    rule: str
    title: str
    file: str
    line: int
    concludes: str
    fired: bool
    failure: Failure | None = None
    removed_by: tuple[Removal, ...] = ()

    def to_dict(self, rules: dict) -> dict:
        out = {"rule": self.rule, "title": self.title, "file": self.file, "line": self.line,
               "concludes": self.concludes, "fired": self.fired}
        if self.failure is not None:
            out["failed"] = _with_needs(self.failure, rules)
        if self.removed_by:
            out["removed_by"] = [r.to_dict() for r in self.removed_by]
        return out


@frozen
class WhyNot:
    """The answer for one code and one case. `rules` holds every rule explained (the direct ones and those
    reached through needed facts), by id; `direct` the ids of the rules that conclude the code itself."""

    case_id: str
    code: str
    kind: str  # recommendation | condition | red_flag | do_not
    in_result: bool
    item: dict | None
    direct: tuple[str, ...]
    rules: dict = field(factory=dict)
    chain: tuple[dict, ...] = ()  # in_result: the trace entries behind the item, as --explain walks them
    profile: str = ""

    def to_dict(self) -> dict:
        out: dict = {"case_id": self.case_id, "code": self.code, "kind": self.kind, "in_result": self.in_result}
        if self.in_result:
            out["item"] = self.item
            out["chain"] = list(self.chain)
            return out
        out["rules"] = [self.rules[r].to_dict(self.rules) for r in self.direct]
        return out


def _with_needs(failure: Failure, rules: dict, seen: frozenset = frozenset(), depth: int = 0) -> dict:
    """A failure as JSON with the rules it needs written out in place (each rule once along a path)."""
    out = failure.to_dict()
    if failure.needs:
        needed = []
        for rule_id in failure.needs:
            why = rules.get(rule_id)
            if why is None or rule_id in seen or depth >= MAX_DEPTH:
                needed.append({"rule": rule_id, "explained": "above"})
                continue
            entry = {"rule": why.rule, "file": why.file, "line": why.line, "concludes": why.concludes,
                     "fired": why.fired}
            if why.failure is not None:
                entry["failed"] = _with_needs(why.failure, rules, seen | {rule_id}, depth + 1)
            needed.append(entry)
        out["needs"] = needed
    if failure.alternatives:
        out["alternatives"] = [_with_needs(a, rules, seen, depth) for a in failure.alternatives]
    return out


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def code_kind(code: str) -> tuple[str, str, str]:
    """(result list, kind name, conclusion kind) of a contract code, or UnknownCode with a suggestion."""
    from cdss import resources
    vocab = resources.vocabulary()
    for part, name, conclusion in KINDS:
        if code in vocab.get(part, ()):
            return part, name, conclusion
    from difflib import get_close_matches
    known = [c for part, _, _ in KINDS for c in vocab.get(part, ())]
    close = get_close_matches(code, known, n=1)
    raise UnknownCode(f"{code!r} is not a recommendation, condition, red flag or do-not code of the contract"
                      + (f"; did you mean {close[0]!r}?" if close else ""))


def facts_of(case: Case, result: Result, kb: KnowledgeBase) -> tuple[Facts, set[str]]:
    """The case's final knowledge and the rules that fired, rebuilt from the result's trace."""
    facts = Facts(case=case.data, trials=kb.policy.trials)
    fired = set()
    for entry in result.trace:
        if entry.rule.startswith("policy."):
            continue
        fired.add(entry.rule)
        for token in entry.asserted:
            kind, _, rest = token.partition(":")
            if kind == "fact":
                facts.derived.add(rest)
            elif kind == "condition":
                code, _, status = rest.partition(":")
                facts.conditions.setdefault(code, set()).add(status)
            elif kind == "red_flag":
                code, status, urgency = (rest.split(":") + ["", ""])[:3]
                facts.red_flags.setdefault(code, set()).add(urgency)
    return facts, fired


def _concluders(kb: KnowledgeBase, conclusion_kind: str, code: str, accept=lambda data: True) -> list[tuple[Rule, str]]:
    out = []
    for rule in kb.rules:
        for c in rule.then:
            if c.kind != conclusion_kind:
                continue
            name = c.data.get("name") if conclusion_kind == "assert" else c.data.get("code")
            if name == code and accept(c.data):
                out.append((rule, c.describe()))
                break
    return out


class _Explainer:
    def __init__(self, kb: KnowledgeBase, facts: Facts, fired: set[str], result: Result):
        self.kb, self.facts, self.fired, self.result = kb, facts, fired, result
        self.rules: dict[str, RuleWhy] = {}

    def rule(self, rule: Rule, concludes: str, code: str | None = None, depth: int = 0) -> None:
        if rule.id in self.rules:
            return
        fired = rule.id in self.fired
        if fired:
            removed = self.removals(code) if code is not None else ()
            why = RuleWhy(rule.id, rule.title.en, rule.file, rule.line, concludes, True, removed_by=removed)
            self.rules[rule.id] = why
            return
        # Placeholder first: a rule that (indirectly) needs itself is explained once.
        self.rules[rule.id] = RuleWhy(rule.id, rule.title.en, rule.file, rule.line, concludes, False)
        failure = self.failure(rule.when, depth)
        if failure is None:
            failure = Failure("holds", "its condition holds on this case",
                              "but it did not fire (an engine fault, or the rule is new since the result was made)")
        self.rules[rule.id] = RuleWhy(rule.id, rule.title.en, rule.file, rule.line, concludes, False, failure)

    def removals(self, code: str) -> tuple[Removal, ...]:
        out = []
        for entry in self.result.trace:
            if not entry.rule.startswith("policy."):
                continue
            hits = tuple(token for token in entry.asserted if _removes(token, code))
            if hits:
                out.append(Removal(entry.rule, hits, entry.matched))
        return tuple(out)

    def failure(self, node: Node, depth: int) -> Failure | None:
        """The first part of `node` that does not hold, explained; None when it holds."""
        if node.holds(self.facts) is not None:
            return None
        if isinstance(node, All):
            for item in node.items:
                found = self.failure(item, depth)
                if found is not None:
                    return found
            return None
        if isinstance(node, FieldTest):
            return self.field(node)
        if isinstance(node, FactTest):
            needs = self.need(_concluders(self.kb, "assert", node.name), depth)
            return Failure("fact", f"fact {node.name}", "not derived for this case", needs=needs)
        if isinstance(node, ConditionTest):
            have = sorted(self.facts.conditions.get(node.code, ()))
            detail = f"concluded only as {', '.join(have)}" if have else "not concluded for this case"
            needs = self.need(_concluders(self.kb, "condition", node.code,
                                          lambda d: d.get("status") in node.statuses), depth)
            return Failure("condition", f"condition {node.code} ({' or '.join(node.statuses)})", detail, needs=needs)
        if isinstance(node, RedFlagTest):
            urgencies = " or ".join(node.urgencies)
            if node.code == "any":
                return Failure("red_flag", f"any red flag ({urgencies})", "no such red flag was raised")
            have = sorted(self.facts.red_flags.get(node.code, ()))
            detail = f"raised only as {', '.join(have)}" if have else "not raised for this case"
            needs = self.need(_concluders(self.kb, "red_flag", node.code,
                                          lambda d: d.get("urgency") in node.urgencies), depth)
            return Failure("red_flag", f"red flag {node.code} ({urgencies})", detail, needs=needs)
        if isinstance(node, TrialTest):
            return self.trial(node)
        if isinstance(node, Any_):
            parts = tuple(f for f in (self.failure(item, depth) for item in node.items) if f is not None)
            return Failure("any", f"any of {len(node.items)} alternatives", "none of them holds", alternatives=parts)
        if isinstance(node, Not):
            shown = "; ".join(m.describe() for m in (node.item.holds(self.facts) or ())) or "it holds"
            return Failure("not", f"not ({describe(node.item)})", f"but it holds: {shown}")
        if isinstance(node, Count):
            hits = sum(1 for item in node.items if item.holds(self.facts) is not None)
            if node.at_most is not None and hits > node.at_most:
                return Failure("count", f"at most {node.at_most} of {len(node.items)}", f"{hits} hold")
            parts = tuple(f for f in (self.failure(item, depth) for item in node.items) if f is not None)
            return Failure("count", f"at least {node.at_least} of {len(node.items)}", f"only {hits} hold",
                           alternatives=parts)
        if isinstance(node, Score):
            total, found = node.tally(self.facts)
            points = "; ".join(f"{m.ref} {m.value:g}" for m in found if m.kind == "score")
            bound = f"at least {node.at_least:g}" if total < node.at_least else f"at most {node.at_most:g}"
            return Failure("score", f"score {bound}", f"scored {total:g} ({points})")
        return Failure("other", describe(node), "does not hold")

    def need(self, concluders: list[tuple[Rule, str]], depth: int) -> tuple[str, ...]:
        if depth >= MAX_DEPTH:
            return tuple(rule.id for rule, _ in concluders)
        for rule, concludes in concluders:
            self.rule(rule, concludes, None, depth + 1)
        return tuple(rule.id for rule, _ in concluders)

    def field(self, node: FieldTest) -> Failure:
        value = lookup(self.facts.case, node.parts)
        recorded = value is not MISSING
        detail = f"the case has {node.path} = {_show(value)}" if recorded else f"{node.path} is not recorded"
        if isinstance(node.operand, FieldRef) and recorded:
            other = lookup(self.facts.case, node.operand.parts)
            if other is MISSING:
                detail += f"; {node.operand.path} is not recorded"
            else:
                detail += f"; {node.operand.path} = {_show(other)} (so the limit is {_show(node.operand.value(self.facts.case))})"
        return Failure("field", describe(node), detail, field=node.path,
                       value=(list(value) if isinstance(value, list) else value) if recorded else None,
                       recorded=recorded, line=node.line)

    def trial(self, node: TrialTest) -> Failure:
        trials = [t for t in self.facts.case.get("treatments", ()) if t.get("code") == node.code]
        if not trials:
            detail = f"no trial of {node.code} is recorded"
        else:
            detail = "recorded: " + "; ".join(
                f"{t['code']} {t['weeks']:g} weeks, response {t['response']}"
                + (f", {t['joint']}" if t.get("joint") else "") for t in trials)
        return Failure("trial", describe(node), detail, field="treatments", value=None if not trials else
                       [dict(t) for t in trials], recorded=bool(trials))


def _removes(token: str, code: str) -> bool:
    """Whether a policy's `removed:...` token removed this code (wholly or for one target)."""
    if not token.startswith("removed:"):
        return False
    rest = token[len("removed:"):]
    if rest.startswith("do_not:"):
        rest = rest[len("do_not:"):]
    return rest == code or rest.startswith(code + ":for:")


def _show(value) -> str:
    if value is MISSING:
        return "not recorded"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe(node: Node) -> str:
    """A condition as an author reads it: `patient.age_years >= 45`, `fact derived.adult`."""
    if isinstance(node, FieldTest):
        op = OPS.get(node.op, node.op)
        if node.op in ("present", "absent"):
            return f"{node.path} {op}"
        operand = node.operand
        if isinstance(operand, FieldRef):
            shown = operand.path + (f" x {operand.times:g}" if operand.times != 1 else "") + \
                (f" + {operand.plus:g}" if operand.plus else "")
        else:
            shown = _show(operand)
        return f"{node.path} {op} {shown}"
    if isinstance(node, FactTest):
        return f"fact {node.name}"
    if isinstance(node, ConditionTest):
        return f"condition {node.code} ({' or '.join(node.statuses)})"
    if isinstance(node, RedFlagTest):
        return f"red flag {node.code} ({' or '.join(node.urgencies)})"
    if isinstance(node, TrialTest):
        limit = f", at least {node.min_weeks:g} weeks" if node.min_weeks is not None else ""
        joint = f", {node.joint}" if node.joint else ""
        many = f"{node.at_least} x " if node.at_least != 1 else ""
        return f"trial {many}{node.code} ({node.outcome}{limit}{joint})"
    if isinstance(node, All):
        return " and ".join(describe(i) for i in node.items)
    if isinstance(node, Any_):
        return "any of (" + "; ".join(describe(i) for i in node.items) + ")"
    if isinstance(node, Not):
        return f"not ({describe(node.item)})"
    if isinstance(node, Count):
        return f"at least {node.at_least} of (" + "; ".join(describe(i) for i in node.items) + ")"
    if isinstance(node, Score):
        return f"score at least {node.at_least:g}"
    return type(node).__name__


def _chain(result: Result, rules: tuple[str, ...]) -> tuple[dict, ...]:
    """The trace entries behind an item, walked back through what each matched (as --explain does)."""
    entries = {entry.rule: entry for entry in result.trace}
    asserters: dict[tuple[str, str], list[str]] = {}
    for entry in result.trace:
        for token in entry.asserted:
            kind, _, rest = token.partition(":")
            asserters.setdefault((kind, rest.split(":")[0]), []).append(entry.rule)
    out, seen = [], set()

    def walk(ids, depth):
        for rule in ids:
            entry = entries.get(rule)
            if entry is None or rule in seen:
                continue
            seen.add(rule)
            out.append({"rule": rule, "depth": depth, "matched": [m.to_dict() for m in entry.matched]})
            for m in entry.matched:
                if m.kind in ("fact", "condition", "red_flag") and not m.absent:
                    walk(asserters.get((m.kind, m.ref), ()), depth + 1)
    walk(rules, 0)
    return tuple(out)


def why_not(case: Case, result: Result, kb: KnowledgeBase, code: str, lang: str = "en") -> WhyNot:
    """Why `result` (the evaluation of `case` under `kb`) lacks `code`; or, when it holds it, the chain."""
    part, kind, conclusion_kind = code_kind(code)
    profile = getattr(kb.identity, "profile", "")
    item = next((i for i in getattr(result, part) if i.code == code), None)
    if item is not None:
        return WhyNot(result.case_id, code, kind, True, item.to_dict(lang), tuple(item.rules),
                      chain=_chain(result, tuple(item.rules)), profile=profile)
    facts, fired = facts_of(case, result, kb)
    explainer = _Explainer(kb, facts, fired, result)
    direct = _concluders(kb, conclusion_kind, code)
    for rule, concludes in direct:
        explainer.rule(rule, concludes, code)
    return WhyNot(result.case_id, code, kind, False, None, tuple(rule.id for rule, _ in direct),
                  rules=explainer.rules, profile=profile)
