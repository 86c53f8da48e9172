"""Rules no case can make fire (following chains of rules down to the case fields), and alternatives that
can never be the reason a rule fires."""

from __future__ import annotations

from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.findings import Finding
from cdss.audit.rule_parts import describe, positive_alternatives
from cdss.kb.conditions import ConditionTest, FactTest, FieldTest, RedFlagTest, top_level_tests
from cdss.kb.fields import field_catalogue


class ReachabilityCheck(Check):
    """Rules no case can make fire, following chains: a rule that needs a fact only an unreachable rule
    asserts is itself unreachable. And alternatives (of any, count, score) that can never be the reason a
    rule fires."""

    name = "reachability"

    def check(self, ctx: AuditContext) -> list[Finding]:
        reachable, unreachable, models = ctx.reachability
        out = []
        for i in sorted(unreachable):
            rule = ctx.rules[i]
            reason, related = self._reason(ctx, rule, unreachable)
            out.append(Finding("unreachable-rule", "error", f"no case can make this rule fire: {reason}",
                               ctx.place(rule), related))
        for i in sorted(reachable):
            out += self._dead_alternatives(ctx, ctx.rules[i], models)
        return out

    def _reason(self, ctx: AuditContext, rule, unreachable: set[int]) -> tuple[str, tuple]:
        logic = ctx.logic
        for test in top_level_tests(rule.when):
            keys = []
            if isinstance(test, FactTest):
                keys, what = [("fact", test.name)], f"fact {test.name}"
            elif isinstance(test, ConditionTest):
                keys = [("cond", test.code, s) for s in test.statuses]
                what = f"condition {test.code} ({'/'.join(test.statuses)})"
            elif isinstance(test, RedFlagTest) and test.code != "any":
                keys, what = [("flag", test.code, u) for u in test.urgencies], f"red flag {test.code}"
            elif isinstance(test, FieldTest) and test.path not in field_catalogue() and test.op != "absent":
                return f"it tests field {test.path!r}, which the case schema lacks", ()
            else:
                continue
            sources = sorted({j for key in keys for j in logic.asserters.get(key, ())})
            if not sources:
                return f"it needs {what}, which no rule concludes", ()
            if all(j in unreachable for j in sources):
                names = ", ".join(ctx.rules[j].id for j in sources)
                return (f"it needs {what}, which only unreachable rules conclude ({names})",
                        tuple(ctx.place(ctx.rules[j]) for j in sources))
        return ("its conditions can never hold together (thresholds, negations or the rules it depends on "
                "exclude each other)", ())

    def _dead_alternatives(self, ctx: AuditContext, rule, models) -> list[Finding]:
        out = []
        fire = ctx.fire(rule)
        for item in positive_alternatives(rule.when):
            formula = ctx.logic.node(item)
            if any(m.holds(fire) and m.holds(formula) for m in models):
                continue
            model = ctx.solve(fire, formula)
            if model is not None:
                models.append(model)
                continue
            out.append(Finding("dead-alternative", "warning",
                               f"the alternative `{describe(item, 90)}` can never hold when the rule fires",
                               ctx.place(rule, item)))
        return out
