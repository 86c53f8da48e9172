"""The conflicts pathways.md forbids, reasoned over the rules' conditions, each with a witness case that the
engine evaluates: imaging beside the no-routine-imaging do-not, bridging glucocorticoid beside a
glucocorticoid do-not, treatment advice beside an emergency red flag. The codes come from the knowledge
base's policy (rules/knowledge_base.yaml), the same data the result-level policies apply."""

from __future__ import annotations

from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.findings import Finding
from cdss.kb.conditions import FieldTest


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
        place, related = ctx.place(b), (ctx.place(a),)
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

        do_not = ctx.kb.policy.imaging.do_not
        return self._pairs(ctx, "imaging", "recommend", imaging, f"do-not {do_not}", "advise_against",
                           (do_not,), "conflict-imaging",
                           "the policy no-routine-imaging-do-not-beside-imaging drops the do-not", not_done)

    def _glucocorticoid(self, ctx):
        def no_pressing_flag(ctx, rule):
            f = ctx.logic.formulas
            flags = [f.defn(("flag", code, u)) for code in ctx.vocab["red_flags"] for u in ("emergency", "urgent")]
            return [f.not_(f.or_(flags))]

        policy = ctx.kb.policy
        return self._pairs(ctx, "a bridging glucocorticoid", "recommend", policy.glucocorticoid_treatments,
                           "a glucocorticoid do-not", "advise_against", policy.glucocorticoid_do_nots, "conflict-glucocorticoid",
                           "the policy no-glucocorticoid-do-not-beside-bridging drops the do-not", no_pressing_flag)

    def _emergency(self, ctx):
        out = []
        flags = set(ctx.vocab["red_flags"])
        kinds = ctx.vocab["recommendations"]
        treating = [rule for rule in ctx.rules if ctx.reachable(rule) and any(
            c.kind == "recommend" and kinds[c.data["code"]]["kind"] == "treatment"
            and not set(c.data.get("for", ())) & flags for c in rule.then)]
        f = ctx.logic.formulas
        for flag_rule in ctx.rules:
            raised = [c.data["code"] for c in flag_rule.then if c.kind == "red_flag" and c.data["urgency"] == "emergency"]
            if not raised or not ctx.reachable(flag_rule):
                continue
            remaining = {ctx.index[r.id]: r for r in treating if r.id != flag_rule.id}
            beside, found = [], []  # found: (model, the first treating rule it makes fire)
            while remaining:
                wanted = [ctx.logic.fire(i) for i in remaining]
                model = ctx.solve(ctx.fire(flag_rule), f.or_(wanted), prefer=wanted)
                if model is None:
                    break
                hits = [i for i in remaining if model.defs.get(("fire", i))]
                if not hits:
                    break
                found.append((model, remaining[hits[0]]))
                for i in hits:
                    beside.append(remaining.pop(i))
            if not beside:
                continue
            # The witness: the first model that a valid case realises (the solver may pick numeric regions that
            # no values can meet together, e.g. an ESR above 40 yet under half the age).
            model, treated = next(((m, r) for m, r in found if m.case() is not None), found[0])
            names = ", ".join(r.id for r in beside[:6]) + (f" and {len(beside) - 6} more" if len(beside) > 6 else "")
            what = (f"{flag_rule.id} (emergency red flag {', '.join(raised)}) can stand on one case beside "
                    f"treatment advice of {len(beside)} rule(s): {names}")
            finding = self._verdict(ctx, "conflict-emergency", what, treated, flag_rule, model,
                                    "the policy red-flag-withholds-treatment withholds that treatment",
                                    _holds_treatment_beside_emergency)
            out.append(Finding(finding.check, finding.severity, finding.message, ctx.place(flag_rule),
                               tuple(ctx.place(r) for r in beside), finding.witness))
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
