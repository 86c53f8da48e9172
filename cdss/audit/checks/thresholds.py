"""Gaps and overlaps in threshold families: rules over the same number field whose bands should meet."""

from __future__ import annotations

from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.findings import Finding
from cdss.audit.logic.bands import Band, Interval, band_of, fields_of
from cdss.audit.rule_parts import conclusion_key, describe
from cdss.kb.conditions import FactTest, top_level_tests
from cdss.kb.fields import field_catalogue

OUTCOMES = ("red_flag", "recommend", "condition")  # conclusions whose urgency or status can differ by threshold


class ThresholdCheck(Check):
    """Gaps and overlaps in threshold families: rules over the same number field that differ only in their
    band of that field (same file, same other conditions, same kind of conclusion), or that give the
    same code at different urgencies or statuses."""

    name = "thresholds"

    def check(self, ctx: AuditContext) -> list[Finding]:
        facts = self._band_facts(ctx)
        catalogue = field_catalogue()
        members: dict[tuple, list] = {}
        for rule in ctx.rules:
            tests = top_level_tests(rule.when)
            for path in sorted(set().union(*(fields_of(t, facts) for t in tests)) if tests else ()):
                if catalogue.get(path, {}).get("type") not in ("integer", "number"):
                    continue
                band, context, where = None, [], []
                for test in tests:
                    part = band_of(test, path, facts)
                    if part is None:
                        context.append(test)
                    else:
                        band = part if band is None else band.intersect(part)
                        where.append(test)
                if band is None:
                    continue
                where = next((t for t in where if not isinstance(t, FactTest)), where[0])
                kinds = tuple(sorted({c.kind for c in rule.then}))
                entry = (rule, band, where)
                members.setdefault(("same-context", rule.file, path, frozenset(context), kinds), []).append(entry)
                codes = frozenset((c.kind, c.data.get("code")) for c in rule.then if c.kind in OUTCOMES)
                if codes:
                    members.setdefault(("alternatives", path, codes), []).append(entry)
        out, seen = [], set()
        for key, family in members.items():
            if len(family) < 2 or (key[0] == "alternatives" and len({_detail(r) for r, _, _ in family}) < 2):
                continue
            path = key[2] if key[0] == "same-context" else key[1]
            for finding in self._family(ctx, path, family):
                if (finding.check, finding.place, finding.message) not in seen:
                    seen.add((finding.check, finding.place, finding.message))
                    out.append(finding)
        return out

    @staticmethod
    def _band_facts(ctx) -> dict:
        """Facts asserted by exactly one rule whose condition is a band over one field."""
        asserters: dict[str, list] = {}
        for rule in ctx.rules:
            for c in rule.then:
                if c.kind == "assert":
                    asserters.setdefault(c.data["name"], []).append(rule)
        out = {}
        for name, rules in asserters.items():
            if len(rules) != 1:
                continue
            paths = fields_of(rules[0].when, {})
            if len(paths) == 1:
                path = next(iter(paths))
                band = band_of(rules[0].when, path, {})
                if band is not None:
                    out[name] = (path, band)
        return out

    def _family(self, ctx, path: str, family: list) -> list[Finding]:
        """Pair each band that runs up to a threshold (`x < 44`) with the nearest band that runs on from
        one (`x >= 45`), when each is the other's nearest: such a pair splits the field, and should meet
        exactly. Nested bands (`x >= 16`, `x >= 45`) are levels, not a split, and are left alone."""
        spec = field_catalogue()[path]
        integer = spec.get("type") == "integer"
        live = [item for item in family if item[1].intervals]
        low = min((item[1].intervals[0].low for item in live), default=0)
        high = max((item[1].intervals[-1].high for item in live), default=0)
        below = [item for item in live if _ray(item[1], low, high) == "below"]
        above = [item for item in live if _ray(item[1], low, high) == "above"]
        out = []
        for a in below:
            b = min(above, key=lambda item: abs(item[1].intervals[0].low - a[1].intervals[-1].high), default=None)
            if b is None or b[0].id == a[0].id:
                continue
            back = min(below, key=lambda item: abs(b[1].intervals[0].low - item[1].intervals[-1].high))
            if back[0].id != a[0].id:
                continue
            top, top_closed = a[1].intervals[-1].high, a[1].intervals[-1].high_closed
            start, start_closed = b[1].intervals[0].low, b[1].intervals[0].low_closed
            first, second = sorted((a, b), key=lambda item: (item[0].file, item[0].line))
            here, there = ctx.place(second[0], second[2]), ctx.place(first[0], first[2])
            mine, theirs = describe(second[2], 60), describe(first[2], 60)
            gap = Interval(top, not top_closed, start, not start_closed)
            if not gap.empty(integer):
                out.append(Finding(
                    "threshold-gap", "warning",
                    f"{path} {gap.show()} (e.g. {gap.example(integer):g}) is covered by neither this rule "
                    f"(`{mine}`) nor {first[0].id} (`{theirs}`)", here, (there,)))
            both = Interval(start, start_closed, top, top_closed)
            if not both.empty(integer):
                out.append(Finding(
                    "threshold-overlap", "warning",
                    f"{path} {both.show()} satisfies both this rule (`{mine}`) and {first[0].id} (`{theirs}`)",
                    here, (there,)))
        return out


def _ray(band: Band, low: float, high: float) -> str | None:
    """"below" for a band that runs from the family's lowest value up to a threshold, "above" for one that
    runs from a threshold on to the family's highest (a shared floor such as `age >= 16` is no split)."""
    first, last = band.intervals[0], band.intervals[-1]
    if first.low == low and last.high < high:
        return "below"
    if last.high == high and first.low > low:
        return "above"
    return None


def _detail(rule) -> tuple:
    return tuple(sorted((conclusion_key(c) for c in rule.then if c.kind in OUTCOMES), key=repr))
