"""Derived facts: tested but never asserted, or asserted but never tested (by a rule or by a result-level
policy of rules/knowledge_base.yaml)."""

from __future__ import annotations

from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.findings import Finding
from cdss.kb.conditions import FactTest


class FactCheck(Check):
    """Derived facts: a fact tested but never asserted (a typo or a dead chain), asserted but never tested
    (dead weight)."""

    name = "facts"

    def check(self, ctx: AuditContext) -> list[Finding]:
        out = []
        asserted: dict[str, list] = {}
        for rule in ctx.rules:
            for conclusion in rule.then:
                if conclusion.kind == "assert":
                    asserted.setdefault(conclusion.data["name"], []).append(rule)
        tested = set(ctx.kb.policy.facts_read())
        for rule in ctx.rules:
            for node in rule.when.walk():
                if isinstance(node, FactTest):
                    tested.add(node.name)
                    if node.name not in asserted:
                        out.append(Finding("unasserted-fact", "error",
                                           f"tests fact {node.name!r}, which no rule asserts", ctx.place(rule, node)))
        for name, rules in sorted(asserted.items()):
            if name not in tested:
                for rule in rules:
                    out.append(Finding("unused-fact", "warning",
                                       f"asserts fact {name!r}, which no rule or policy tests", ctx.place(rule)))
        return out
