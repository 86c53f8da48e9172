"""What both engines share: one case's knowledge while its rules fire, and what firing a rule does.

The engines differ only in how they find the rules that may fire (durable-rules' Rete network, or the
direct engine's indexes). Both fire pending rules one at a time, lowest rule-base index first, and a rule
fires when its whole condition holds on the case's knowledge at that moment: so the two agree byte for
byte, whichever order their own machinery discovers the rules in.
"""

from __future__ import annotations

from cdss.kb.checks import checker
from cdss.kb.conditions import Facts
from cdss.kb.rules import Conclusion, KnowledgeBase, Rule
from cdss.model import Case, TraceEntry


class CaseRun:
    """What one case accumulates while its rules fire."""

    def __init__(self, case: Case, kb: KnowledgeBase):
        self.case = case
        self.facts = Facts(case=case.data, trials=kb.policy.trials)
        self.fired: dict[str, TraceEntry] = {}  # rule id -> its trace entry (what it matched and asserted)
        self.conclusions: list[tuple[Rule, Conclusion]] = []
        self.placeholders = False  # whether a rule whose texts name case facts fired (cdss.kb.placeholders)


class Firing:
    """What firing a rule needs that is the same in every case, made once per engine: for each rule, a
    function that fires it in a case (`firer`), with what it asserts (for the trace) and its condition as
    a checker (cdss/kb/checks.py). A rule's firer is made the first time the rule is woken: a one-case
    `cdss evaluate` wakes ~50 of ~300 rules, and making all the checkers was ~5 % of its cold start. The
    direct engine takes the firers by rule-base index (`by_index`, None until `of` makes one), so that
    waking a rule looks nothing up by name. (Two threads may both make one; they make the same.)"""

    def __init__(self, rules):
        self.rules = tuple(rules)
        self._by_id: dict = {}
        self.by_index: list = [None] * len(self.rules)

    def _make(self, rule: Rule):
        made = self._by_id.get(rule.id)
        if made is None:
            made = self._by_id[rule.id] = firer(rule, tuple(rule.describe_conclusions()), checker(rule.when))
        return made

    def of(self, index: int):
        """The firer of the rule at `index` of the rules this Firing was made with."""
        made = self.by_index[index]
        if made is None:
            made = self.by_index[index] = self._make(self.rules[index])
        return made

    def __call__(self, run: "CaseRun", rule: Rule) -> list[Conclusion] | None:
        return self._make(rule)(run)


def firer(rule: Rule, asserted: tuple[str, ...], holds):
    """A function of a CaseRun that fires `rule` if it has not fired and its condition holds, recording its
    conclusions and trace entry, and gives the conclusions that were new to the case's knowledge (None
    when the rule did not fire). `holds` is the rule's condition as a checker (the same answer as
    `rule.when.holds`, faster). What each conclusion records is worked out here, once (`_effect`)."""
    rule_id, filled = rule.id, bool(rule.placeholders)
    steps = tuple(((rule, conclusion), conclusion, *_effect(conclusion)) for conclusion in rule.then)

    def fire(run: CaseRun) -> list[Conclusion] | None:
        fired = run.fired
        if rule_id in fired:
            return None  # a rule fires once per case, whichever pattern match woke it
        facts = run.facts
        witnesses = holds(facts)
        if witnesses is None:
            return None
        new, conclusions = [], run.conclusions
        if filled:
            run.placeholders = True
        for pair, conclusion, table, key, value in steps:
            conclusions.append(pair)
            # A conclusion is new when it adds a derived thing that other rules may test: a fact, a
            # condition status, a red flag urgency.
            if table is None:
                continue
            if table == "derived":
                if key in facts.derived:
                    continue
                facts.derived.add(key)
            else:
                have = (facts.conditions if table == "conditions" else facts.red_flags).setdefault(key, set())
                if value in have:
                    continue
                have.add(value)
            new.append(conclusion)
        # Each witness once. Witnesses with different refs differ (a Matched's ref is part of its equality),
        # and a set of ref strings is far cheaper than hashing each Matched (an attrs method in Python).
        if len(witnesses) > 1 and len({matched.ref for matched in witnesses}) < len(witnesses):
            witnesses = dict.fromkeys(witnesses)
        fired[rule_id] = TraceEntry(rule_id, tuple(witnesses), asserted)
        return new
    return fire


def _effect(conclusion: Conclusion) -> tuple[str | None, str | None, str | None]:
    """Where a conclusion is recorded in the case's knowledge (`Facts`): (table, key, value), a derived
    fact's name, a condition code and status, a red flag code and urgency; (None, None, None) for a
    conclusion no rule tests (a recommendation, a warning)."""
    d = conclusion.data
    if conclusion.kind == "assert":
        return "derived", d["name"], None
    if conclusion.kind == "condition":
        return "conditions", d["code"], d["status"]
    if conclusion.kind == "red_flag":
        return "red_flags", d["code"], d["urgency"]
    return None, None, None
