"""Rules that say what another rule already says whenever they fire."""

from __future__ import annotations

from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.findings import Finding
from cdss.audit.rule_parts import conclusion_key, show_conclusion


class RedundancyCheck(Check):
    """Rules that say what another rule already says whenever they fire: one rule's conditions imply the
    other's, and they share a conclusion (redundant when every conclusion is shared)."""

    name = "redundancy"

    def check(self, ctx: AuditContext) -> list[Finding]:
        by_key: dict[tuple, list] = {}
        for rule in ctx.rules:
            if not ctx.reachable(rule):
                continue
            for c in rule.then:
                by_key.setdefault(conclusion_key(c), [])
                if rule not in by_key[conclusion_key(c)]:
                    by_key[conclusion_key(c)].append(rule)
        pairs = {}
        for key, rules in by_key.items():
            for a in rules:
                for b in rules:
                    if a.id != b.id:
                        pairs.setdefault((a.id, b.id), (a, b))
        implies = {}
        f = ctx.logic.formulas
        for (ida, idb), (a, b) in pairs.items():
            implies[(ida, idb)] = ctx.solve(ctx.fire(a), f.not_(ctx.fire(b))) is None
        out, reported = [], set()
        for (ida, idb), (a, b) in sorted(pairs.items(), key=lambda kv: (kv[1][0].file, kv[1][0].line)):
            if not implies[(ida, idb)]:
                continue
            mine = {conclusion_key(c): c for c in a.then}
            theirs = {conclusion_key(c) for c in b.then}
            shared = [c for key, c in mine.items() if key in theirs]
            equivalent = implies.get((idb, ida), False)
            if equivalent and set(mine) == theirs:
                first, second = sorted((a, b), key=lambda r: (r.file, r.line))
                if (first.id, second.id) in reported:
                    continue
                reported.add((first.id, second.id))
                out.append(Finding("duplicate-rule", "warning",
                                   f"fires on exactly the same cases as {first.id} and concludes the same: "
                                   "one of the two is redundant", ctx.place(second), (ctx.place(first),)))
            elif len(shared) == len(mine):
                out.append(Finding("subsumed-rule", "warning",
                                   f"whenever this rule fires, {b.id} fires too and concludes everything it does "
                                   f"({'; '.join(show_conclusion(c) for c in shared)}): it is redundant",
                                   ctx.place(a), (ctx.place(b),)))
            elif not equivalent:
                out.append(Finding("subsumed-conclusion", "info",
                                   f"whenever this rule fires, {b.id} fires too and also concludes "
                                   f"{'; '.join(show_conclusion(c) for c in shared)}",
                                   ctx.place(a), (ctx.place(b),)))
        return out
