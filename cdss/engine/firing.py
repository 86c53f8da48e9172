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
from cdss.model import Case


class CaseRun:
    """What one case accumulates while its rules fire."""

    def __init__(self, case: Case, kb: KnowledgeBase):
        self.case = case
        self.facts = Facts(case=case.data, trials=kb.policy.trials)
        self.fired: dict[str, tuple] = {}  # rule id -> (witnesses, asserted)
        self.conclusions: list[tuple[Rule, Conclusion]] = []


class Firing:
    """What firing a rule needs that is the same in every case, made once per engine: for each rule, a
    function that fires it in a case (`firer`), with what it asserts (for the trace) and its condition as
    a checker (cdss/kb/checks.py). A rule's firer is made the first time the rule is woken: a one-case
    `cdss evaluate` wakes ~50 of ~300 rules, and making all the checkers was ~5 % of its cold start. The
    direct engine keeps the firers by rule-base index (`of`), so that waking a rule looks nothing up by
    name. (Two threads may both make one; they make the same.)"""

    def __init__(self, rules):
        self.rules = tuple(rules)
        self._by_id: dict = {}
        self._by_index: list = [None] * len(self.rules)

    def _make(self, rule: Rule):
        made = self._by_id.get(rule.id)
        if made is None:
            made = self._by_id[rule.id] = firer(rule, tuple(rule.describe_conclusions()), checker(rule.when))
        return made

    def of(self, index: int):
        """The firer of the rule at `index` of the rules this Firing was made with."""
        made = self._by_index[index]
        if made is None:
            made = self._by_index[index] = self._make(self.rules[index])
        return made

    def __call__(self, run: "CaseRun", rule: Rule) -> list[Conclusion] | None:
        return self._make(rule)(run)


def firer(rule: Rule, asserted: tuple[str, ...], holds):
    """A function of a CaseRun that fires `rule` if it has not fired and its condition holds, recording its
    conclusions and trace entry, and gives the conclusions that were new to the case's knowledge (None
    when the rule did not fire). `holds` is the rule's condition as a checker (the same answer as
    `rule.when.holds`, faster)."""
    rule_id, then = rule.id, rule.then

    def fire(run: CaseRun) -> list[Conclusion] | None:
        fired = run.fired
        if rule_id in fired:
            return None  # a rule fires once per case, whichever pattern match woke it
        witnesses = holds(run.facts)
        if witnesses is None:
            return None
        new = []
        for conclusion in then:
            run.conclusions.append((rule, conclusion))
            if _apply(run, conclusion):
                new.append(conclusion)
        # each witness once (most rules have a single one, which needs no hashing)
        fired[rule_id] = (tuple(dict.fromkeys(witnesses)) if len(witnesses) > 1 else tuple(witnesses), asserted)
        return new
    return fire


def _apply(run: CaseRun, conclusion: Conclusion) -> bool:
    """Record a conclusion in the case's knowledge; True when it adds a derived thing (a fact, a condition
    status, a red flag urgency) that other rules may test."""
    d, facts = conclusion.data, run.facts
    if conclusion.kind == "assert":
        if d["name"] in facts.derived:
            return False
        facts.derived.add(d["name"])
        return True
    if conclusion.kind == "condition":
        have, value = facts.conditions.setdefault(d["code"], set()), d["status"]
    elif conclusion.kind == "red_flag":
        have, value = facts.red_flags.setdefault(d["code"], set()), d["urgency"]
    else:
        return False
    if value in have:
        return False
    have.add(value)
    return True
