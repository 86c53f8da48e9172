"""The checks of `cdss audit rules`: small validator classes, each returning findings with a severity.

Every check works on the rule base as written (`audit_source`), and the ones that need to know what one
case can make happen ask `audit_logic`, which follows chains of rules down to the case fields. Where a
question is answered "yes, one case can", the answer comes with a witness case; when the rule base loads,
the witness is evaluated by the real engine, so that a conflict is only called an error when the result a
clinician would see really holds it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from cdss import resources
from cdss.audit.logic.bands import Band, Interval, band_of, fields_of
from cdss.audit.logic.formulas import RuleLogic
from cdss.audit.findings import Finding, Place
from cdss.audit.source import TEXT_FIELDS, RuleSource, describe
from cdss.kb.conditions import Any_, ConditionTest, Count, FactTest, FieldTest, Not, RedFlagTest, Score, top_level_tests
from cdss.kb.fields import field_catalogue
from cdss.kb.rules import Conclusion
from cdss.kb.yamlfile import line_at

GLUCOCORTICOID_TREATMENTS = ("bridging_glucocorticoid",)
GLUCOCORTICOID_DO_NOTS = ("oral_corticosteroids", "long_term_glucocorticoids")
TESTED_STATUSES = ("stable", "test")
OUTCOMES = ("red_flag", "recommend", "condition")  # conclusions whose urgency or status can differ by threshold


class AuditContext:
    """What the checks share: the rules, their logic, the cases' expectations, and (when the rule base
    loads) the engine to evaluate witness cases."""

    def __init__(self, source: RuleSource, cases_dir: Path | None = None, kb=None):
        self.source = source
        self.rules = source.rules
        self.vocab = resources.vocabulary()
        self.logic = RuleLogic(self.rules, self.vocab["red_flags"], source.failed_min_weeks)
        self.index = {rule.id: i for i, rule in enumerate(self.rules)}
        self.cases_dir = cases_dir
        self.kb = kb
        self.queries = 0
        self.findings: list[Finding] = []  # the static findings, once the checks have run

    def solve(self, *roots, prefer=()):
        self.queries += 1
        return self.logic.solve(*roots, prefer=prefer)

    def fire(self, rule) -> int:
        return self.logic.fire(self.index[rule.id])

    @functools.cached_property
    def reachability(self) -> tuple[set[int], set[int], list]:
        """(reachable, unreachable) rule indices, and the models found on the way (reused by other checks)."""
        reachable, unreachable, models = set(), set(), []
        for i in range(len(self.rules)):
            if i in reachable:
                continue
            wanted = [self.logic.fire(j) for j in range(i + 1, len(self.rules)) if j not in reachable]
            model = self.solve(self.logic.fire(i), prefer=wanted)
            if model is None:
                unreachable.add(i)
                continue
            models.append(model)
            reachable |= {key[1] for key, on in model.defs.items() if key[0] == "fire" and on}
        return reachable, unreachable, models

    def reachable(self, rule) -> bool:
        return self.index[rule.id] in self.reachability[0]

    def run_witness(self, model, case_id: str = "audit-witness"):
        """(case data, fired rule ids, result dict) for a model, or None when it cannot be evaluated."""
        if self.kb is None:
            return None
        data = model.case(case_id)
        if data is None:
            return None
        from cdss.io import cases
        from cdss.engine import policies
        from cdss.engine import evaluator_for
        from cdss.errors import CdssError
        from cdss.model import Case
        try:
            cases.validate(data, case_id)
            evaluator = evaluator_for(self.kb)
            run = evaluator.run(Case(case_id, data))
            result = policies.build_result(run, self.kb, evaluator.stratum_of)
        except CdssError:
            return None
        return data, set(run.fired), result.to_dict()

    @functools.cached_property
    def expectations(self) -> dict[str, dict[str, list[str]]]:
        """rule id -> {"fire": [case files], "miss": [case files]} from `expected` under cases/."""
        out: dict[str, dict[str, list[str]]] = {}
        for path, data in self.case_data:
            expected = data.get("expected") if isinstance(data, dict) else None
            if not isinstance(expected, dict):
                continue
            for key, kind in (("rules_fired", "fire"), ("rules_not_fired", "miss")):
                for rule_id in expected.get(key, ()) if isinstance(expected.get(key), list) else ():
                    out.setdefault(rule_id, {"fire": [], "miss": []})[kind].append(str(path))
        return out

    @functools.cached_property
    def case_data(self) -> list[tuple[Path, dict]]:
        if self.cases_dir is None or not Path(self.cases_dir).is_dir():
            return []
        out = []
        for path in sorted(Path(self.cases_dir).rglob("*.json")):
            try:
                out.append((path, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                continue
        return out


def conclusion_key(conclusion: Conclusion) -> tuple:
    """Two conclusions with the same key say the same thing."""
    items = []
    for key, value in sorted(conclusion.data.items()):
        items.append((key, tuple(sorted(value)) if isinstance(value, list) else value))
    return (conclusion.kind,) + tuple(items)


def show_conclusion(conclusion: Conclusion) -> str:
    d = conclusion.data
    target = f" for {', '.join(d['for'])}" if d.get("for") else ""
    if conclusion.kind == "assert":
        return f"fact {d['name']}"
    if conclusion.kind == "recommend":
        return f"recommend {d['code']} ({d['urgency']}){target}"
    if conclusion.kind == "advise_against":
        return f"do-not {d['code']}{target}"
    if conclusion.kind == "condition":
        return f"condition {d['code']} {d['status']}"
    if conclusion.kind == "red_flag":
        return f"red flag {d['code']} {d['status']} ({d['urgency']})"
    if conclusion.kind == "classify":
        return f"classify {d['code']} as {d['icd10']}"
    return f"warning {d['code']}"


class Check:
    """Base of the validators: a name, and check(context) -> findings."""

    name = "check"

    def check(self, ctx: AuditContext) -> list[Finding]:
        raise NotImplementedError


class LoadCheck(Check):
    """What the reader found: unreadable files, rules that do not parse, duplicate ids, unknown fields; and
    what the loader and compiler would refuse (e.g. a cycle through `not`)."""

    name = "load"

    def check(self, ctx: AuditContext) -> list[Finding]:
        out = list(ctx.source.findings)
        for entry in ctx.source.entries:
            if entry.duplicate_of is not None:
                out.append(Finding("duplicate-id", "error",
                                   f"duplicate rule id (first defined at {entry.duplicate_of.where()}); "
                                   "the loader refuses the rule base", entry.place, (entry.duplicate_of,)))
        for unknown in ctx.source.unknown_fields:
            close = _closest(unknown.path)
            out.append(Finding("unknown-field", "error",
                               f"tests field {unknown.path!r}, which the case schema lacks{close}: "
                               "no valid case can record it", unknown.place))
        return out


def _closest(path: str) -> str:
    from difflib import get_close_matches
    close = get_close_matches(path, field_catalogue(), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class TextCheck(Check):
    """Sources and Dutch text: every rule cites a source and speaks both languages."""

    name = "texts"

    def check(self, ctx: AuditContext) -> list[Finding]:
        out = []
        for name, item in ctx.source.file_data.items():
            data, root = item["data"], item["root"]
            for key in ("title", "description"):
                text = data.get(key)
                if isinstance(text, dict) and not _filled(text.get("nl")):
                    out.append(Finding("missing-dutch", "error", f"the file's {key} has no Dutch text",
                                       Place(None, name, line_at(root, [key]))))
        for entry in ctx.source.entries:
            if entry.id is None or entry.duplicate_of is not None or entry.status == "deprecated":
                continue
            root = ctx.source.file_data[entry.file]["root"]

            def place(*parts):
                return Place(entry.id, entry.file, line_at(root, ["rules", entry.index, *parts]))

            raw = entry.raw
            sources = raw.get("sources")
            if not isinstance(sources, list) or not sources:
                out.append(Finding("missing-source", "error", "the rule cites no source", place("sources")))
            else:
                for i, source in enumerate(sources):
                    if not _filled(source) or len(str(source).strip()) < 3:
                        out.append(Finding("missing-source", "error", f"source {i + 1} is empty", place("sources", i)))
            for key in TEXT_FIELDS:
                text = raw.get(key)
                if text is None and key == "limitations":
                    continue
                if not isinstance(text, dict) or not _filled(text.get("en")):
                    out.append(Finding("missing-text", "error", f"the rule has no English {key}", place(key)))
                    continue
                out += _dutch(text, f"{key}", place(key, "nl") if _filled(text.get("nl")) else place(key))
            for i, conclusion in enumerate(raw.get("then", ()) if isinstance(raw.get("then"), list) else ()):
                warn = conclusion.get("warn") if isinstance(conclusion, dict) else None
                if isinstance(warn, dict):
                    out += _dutch(warn, f"warning {warn.get('code')}", place("then", i, "warn"))
        return out


def _filled(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _dutch(text: dict, what: str, place: Place) -> list[Finding]:
    if not _filled(text.get("nl")):
        return [Finding("missing-dutch", "error", f"the {what} has no Dutch text", place)]
    if text["nl"].strip() == str(text.get("en", "")).strip() and len(text["nl"]) >= 12:
        return [Finding("dutch-copy", "warning", f"the Dutch {what} is a copy of the English", place)]
    return []


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
        tested = set()
        for rule in ctx.rules:
            for node in rule.when.walk():
                if isinstance(node, FactTest):
                    tested.add(node.name)
                    if node.name not in asserted:
                        out.append(Finding("unasserted-fact", "error",
                                           f"tests fact {node.name!r}, which no rule asserts", ctx.source.place(rule, node)))
        for name, rules in sorted(asserted.items()):
            if name not in tested:
                for rule in rules:
                    out.append(Finding("unused-fact", "warning",
                                       f"asserts fact {name!r}, which no rule tests", ctx.source.place(rule)))
        return out


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
                               ctx.source.place(rule), related))
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
                        tuple(ctx.source.place(ctx.rules[j]) for j in sources))
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
                               ctx.source.place(rule, item)))
        return out


def positive_alternatives(node, under_not: bool = False):
    """The items of any / count / score nodes that are not under a `not`: the rule's branches."""
    if isinstance(node, Not):
        return
    if isinstance(node, (Any_, Count)):
        for item in node.items:
            yield item
    if isinstance(node, Score):
        for domain in node.domains:
            for _, item in domain.options:
                yield item
    for child in node.children():
        yield from positive_alternatives(child)


class ConflictCheck(Check):
    """The conflicts pathways.md forbids, reasoned over the rules' conditions: can one case make two rules
    fire whose conclusions clash? Each pair found gets a witness case; the engine then shows whether the
    result holds the clash (error) or a result-level policy takes it out (info)."""

    name = "conflicts"

    def check(self, ctx: AuditContext) -> list[Finding]:
        return self._imaging(ctx) + self._glucocorticoid(ctx) + self._emergency(ctx)

    @staticmethod
    def _concluding(ctx, kind: str, codes, target: str | None = None):
        for rule in ctx.rules:
            if not ctx.reachable(rule):
                continue
            for c in rule.then:
                if c.kind == kind and c.data["code"] in codes and (target is None or target in c.data.get("for", ())):
                    yield rule
                    break

    def _pairs(self, ctx, code_a, kind_a, codes_a, code_b, kind_b, codes_b, check, policy, extra):
        out = []
        for condition in ctx.vocab["conditions"]:
            for a in self._concluding(ctx, kind_a, codes_a, condition):
                for b in self._concluding(ctx, kind_b, codes_b, condition):
                    if a.id == b.id:
                        continue
                    roots = [ctx.fire(a), ctx.fire(b)] + extra(ctx, a)
                    model = ctx.solve(*roots) or ctx.solve(ctx.fire(a), ctx.fire(b))
                    if model is None:
                        continue
                    what = (f"{a.id} ({code_a} for {condition}) and {b.id} ({code_b} for {condition}) "
                            "can fire on one case")
                    out.append(self._verdict(ctx, check, what, a, b, model, policy,
                                             lambda result: _holds_pair(result, condition, codes_a, kind_a, codes_b)))
        return out

    def _verdict(self, ctx, check, what, a, b, model, policy, clash) -> Finding:
        place, related = ctx.source.place(b), (ctx.source.place(a),)
        ran = ctx.run_witness(model)
        if ran is None:
            return Finding(check, "warning", f"{what} (witness not evaluated: the rule base does not load or the "
                           "witness is not a valid case)", place, related, model.case())
        data, fired, result = ran
        if not {a.id, b.id} <= fired:
            return Finding(check, "warning", f"{what} by reasoning, but the witness case did not make both fire; "
                           "check by hand", place, related, data)
        if clash(result):
            return Finding(check, "error", f"{what}, and the result holds both (witness case attached)",
                           place, related, data)
        return Finding(check, "info", f"{what}; the result stays consistent because {policy}", place, related, data)

    def _imaging(self, ctx):
        studies = set(ctx.vocab.get("imaging_studies", ()))
        imaging = [code for code, spec in ctx.vocab["recommendations"].items() if spec["kind"] == "imaging"]

        def not_done(ctx, rule):
            codes = {c.data["code"] for c in rule.then if c.kind == "recommend" and c.data["code"] in studies}
            return [ctx.logic.field(FieldTest(f"imaging.{code}", "absent", True)) for code in sorted(codes)]

        return self._pairs(ctx, "imaging", "recommend", imaging, "do-not routine_imaging", "advise_against",
                           ("routine_imaging",), "conflict-imaging",
                           "the policy no-routine-imaging-do-not-beside-imaging drops the do-not", not_done)

    def _glucocorticoid(self, ctx):
        def no_pressing_flag(ctx, rule):
            flags = [ctx.logic.f.defn(("flag", code, u)) for code in ctx.vocab["red_flags"] for u in ("emergency", "urgent")]
            return [ctx.logic.f.not_(ctx.logic.f.or_(flags))]

        return self._pairs(ctx, "bridging_glucocorticoid", "recommend", GLUCOCORTICOID_TREATMENTS,
                           "a glucocorticoid do-not", "advise_against", GLUCOCORTICOID_DO_NOTS, "conflict-glucocorticoid",
                           "the policy no-glucocorticoid-do-not-beside-bridging drops the do-not", no_pressing_flag)

    def _emergency(self, ctx):
        out = []
        flags = set(ctx.vocab["red_flags"])
        kinds = ctx.vocab["recommendations"]
        treating = [rule for rule in ctx.rules if ctx.reachable(rule) and any(
            c.kind == "recommend" and kinds[c.data["code"]]["kind"] == "treatment"
            and not set(c.data.get("for", ())) & flags for c in rule.then)]
        f = ctx.logic.f
        for flag_rule in ctx.rules:
            raised = [c.data["code"] for c in flag_rule.then if c.kind == "red_flag" and c.data["urgency"] == "emergency"]
            if not raised or not ctx.reachable(flag_rule):
                continue
            remaining = {ctx.index[r.id]: r for r in treating if r.id != flag_rule.id}
            beside, first = [], None
            while remaining:
                wanted = [ctx.logic.fire(i) for i in remaining]
                model = ctx.solve(ctx.fire(flag_rule), f.or_(wanted), prefer=wanted)
                if model is None:
                    break
                first = first or model
                hits = [i for i in remaining if model.defs.get(("fire", i))]
                if not hits:
                    break
                for i in hits:
                    beside.append(remaining.pop(i))
            if not beside:
                continue
            names = ", ".join(r.id for r in beside[:6]) + (f" and {len(beside) - 6} more" if len(beside) > 6 else "")
            what = (f"{flag_rule.id} (emergency red flag {', '.join(raised)}) can stand on one case beside "
                    f"treatment advice of {len(beside)} rule(s): {names}")
            finding = self._verdict(ctx, "conflict-emergency", what, beside[0], flag_rule, first,
                                    "the policy red-flag-withholds-treatment withholds that treatment",
                                    _holds_treatment_beside_emergency)
            out.append(Finding(finding.check, finding.severity, finding.message, ctx.source.place(flag_rule),
                               tuple(ctx.source.place(r) for r in beside), finding.witness))
        return out


def _holds_pair(result: dict, condition: str, codes_a, kind_a: str, codes_b) -> bool:
    lists = {"recommend": "recommendations", "advise_against": "do_not"}
    left = any(item["code"] in codes_a and condition in item["for"] for item in result[lists[kind_a]])
    right = any(item["code"] in codes_b and condition in item["for"] for item in result["do_not"])
    return left and right


def _holds_treatment_beside_emergency(result: dict) -> bool:
    """pathways.md: a treatment other than a red flag's own (any flag that stands) beside an emergency flag."""
    flags = {f["code"] for f in result["red_flags"]}
    emergency = any(f["urgency"] == "emergency" for f in result["red_flags"])
    return emergency and any(r["kind"] == "treatment" and not set(r["for"]) & flags
                             for r in result["recommendations"])


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
        f = ctx.logic.f
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
                                   "one of the two is redundant", ctx.source.place(second), (ctx.source.place(first),)))
            elif len(shared) == len(mine):
                out.append(Finding("subsumed-rule", "warning",
                                   f"whenever this rule fires, {b.id} fires too and concludes everything it does "
                                   f"({'; '.join(show_conclusion(c) for c in shared)}): it is redundant",
                                   ctx.source.place(a), (ctx.source.place(b),)))
            elif not equivalent:
                out.append(Finding("subsumed-conclusion", "info",
                                   f"whenever this rule fires, {b.id} fires too and also concludes "
                                   f"{'; '.join(show_conclusion(c) for c in shared)}",
                                   ctx.source.place(a), (ctx.source.place(b),)))
        return out


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
            here, there = ctx.source.place(second[0], second[2]), ctx.source.place(first[0], first[2])
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
                                   ctx.source.place(rule)))
        known = {entry.id for entry in ctx.source.entries}
        for rule_id, files in sorted(named.items()):
            if rule_id not in known:
                for file in sorted(set(files["fire"] + files["miss"])):
                    out.append(Finding("unknown-rule-in-case", "warning",
                                       f"the case names rule {rule_id!r}, which does not exist", Place(None, file)))
        return out


CHECKS: tuple[type[Check], ...] = (LoadCheck, TextCheck, FactCheck, ReachabilityCheck, ConflictCheck,
                                   RedundancyCheck, ThresholdCheck, TestCaseCheck)
