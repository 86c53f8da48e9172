"""How close each durable-rules ruleset is to each durable-rules limit (cdss/engine/capacity.py).

The compiler packs every stratum's rules into rulesets that stay under a budget of each limit; this check
reports each ruleset's largest count per limit (info), warns past the budget and fails past the limit,
so that a rule base durable-rules would refuse (error 108 or 107, more than 4,096 rules), hang on
(more than 512 sibling tests) or fail at run time (error 303) never ships. Whether durable-rules really
builds the rulesets is tried too, by the audit run (a `load-error` naming the rule that broke it)."""

from __future__ import annotations

from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.findings import Finding, Place
from cdss.engine import capacity
from cdss.errors import RuleFileError


class CapacityCheck(Check):
    """Each ruleset's usage of each durable-rules limit."""

    name = "capacity"

    def check(self, ctx: AuditContext) -> list[Finding]:
        from cdss.engine.compiler import compile_knowledge
        if not ctx.rules or ctx.kb.errors or ctx.kb.unknown_fields:
            return []  # the compiler lays out only a rule base that loads (the load check reports the rest)
        try:
            program = compile_knowledge(ctx.kb)
        except RuleFileError as error:
            return [Finding("engine-capacity", "error", f"the rules cannot be laid out for durable-rules: {error.message}",
                            Place(error.rule_id, error.file, error.line))]
        out = []
        for partition in program.partitions:
            first = partition.rules[0].rule
            place = Place(None, first.file, first.line)
            rows = list(partition.usage.rows())
            for limit, count, share, where in rows:
                if count > limit.limit:
                    out.append(Finding("engine-capacity", "error",
                                       f"ruleset {partition.name}: {count} of {limit.limit} ({limit.key}, at {where}): "
                                       f"{limit.what}", place))
                elif share > capacity.BUDGET:
                    out.append(Finding("engine-capacity", "warning",
                                       f"ruleset {partition.name}: {count} of {limit.limit} ({share:.0%}, {limit.key}, "
                                       f"at {where}) is past the compiler's budget of {capacity.BUDGET:.0%}", place))
            usage = ", ".join(f"{limit.key} {count}/{limit.limit} ({share:.0%})" for limit, count, share, _ in rows)
            out.append(Finding("engine-capacity", "info",
                               f"ruleset {partition.name} ({_strata(partition.strata)}{', lazy' if partition.lazy else ''}, {len(partition.rules)} rules, "
                               f"{partition.rules[0].rule.id} .. {partition.rules[-1].rule.id}): {usage}", place))
        return out


def _strata(strata: tuple[int, ...]) -> str:
    return f"stratum {strata[0]}" if len(strata) == 1 else "strata " + ", ".join(map(str, strata))
