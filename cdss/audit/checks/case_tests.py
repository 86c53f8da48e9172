"""Must-fire and must-not-fire cases: every stable or test rule has both under cases/."""

from __future__ import annotations

from pathlib import Path

from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.findings import Finding, Place

TESTED_STATUSES = ("stable", "test")


class TestCaseCheck(Check):
    """Every stable or test rule has a case under cases/ that must make it fire and a near miss that must
    not (`expected.rules_fired` / `expected.rules_not_fired`); cases name only rules that exist."""

    name = "test-cases"

    def check(self, ctx: AuditContext) -> list[Finding]:
        if ctx.cases_dir is None:
            return []
        if not Path(ctx.cases_dir).is_dir():
            return [Finding("untested-rule", "warning", f"no cases folder at {ctx.cases_dir}: must-fire and "
                            "must-not-fire cases not checked (use --cases DIR)", Place(None, str(ctx.cases_dir)))]
        out = []
        named = ctx.expectations
        for rule in ctx.rules:
            if rule.status not in TESTED_STATUSES:
                continue
            severity = "error" if rule.status == "stable" else "warning"
            have = named.get(rule.id, {"fire": [], "miss": []})
            missing = [what for what, kind in (("a must-fire case (expected.rules_fired)", "fire"),
                                               ("a must-not-fire near miss (expected.rules_not_fired)", "miss"))
                       if not have[kind]]
            if missing:
                out.append(Finding("untested-rule", severity,
                                   f"{rule.status} rule without {' and without '.join(missing)} under {ctx.cases_dir}",
                                   ctx.place(rule)))
        known = {entry.id for entry in ctx.kb.entries}
        for rule_id, files in sorted(named.items()):
            if rule_id not in known:
                for file in sorted(set(files["fire"] + files["miss"])):
                    out.append(Finding("unknown-rule-in-case", "warning",
                                       f"the case names rule {rule_id!r}, which does not exist", Place(None, file)))
        return out
