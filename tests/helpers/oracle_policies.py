"""The oracle's own result-level policies: what fired -> the result, written from the contract alone.

Independent of cdss/engine/policies.py on purpose (a policy shared by engine and oracle could never be
caught wrong by the differential test). Written from ../shared/spec/cases-and-results.md ("Results":
merging, order) and ../shared/spec/pathways.md ("Definitions": a failed or running trial, imaging and its
do-not; "Withholding"), for the result-level policies the engine applies today: merging duplicates,
a study already done, a failed or running trial not repeated, the NSAID contraindication, withholding
treatment under an emergency or urgent red flag, no `routine_imaging` do-not beside imaging or a spinal
red flag, no glucocorticoid do-not beside `bridging_glucocorticoid`. When the engine gains a policy of the
revised spec (infection bans, the safety net, ...), add it here too, from the spec.

The result is plain data with what the differential test and the case expectations read.
"""

from __future__ import annotations

from types import SimpleNamespace

URGENCIES = ["emergency", "urgent", "soon", "routine"]
CONDITION_STATUSES = ["suspected", "probable", "confirmed"]
FLAG_STATUSES = ["suspected", "confirmed"]
KINDS = ["exam", "lab", "imaging", "referral", "treatment"]  # the order a clinician acts in
CATEGORIES = ["self_management", "physical", "pharmacological", "injection", "surgical", None]
GLUCOCORTICOID_BANS = ("oral_corticosteroids", "long_term_glucocorticoids")


def most_urgent(urgencies) -> str:
    return min(urgencies, key=URGENCIES.index)


class Item(SimpleNamespace):
    """One red flag, condition, recommendation, do-not or warning of the result."""

    @property
    def for_(self) -> tuple:
        return self.targets

    def to_dict(self) -> dict:
        out = {"code": self.code}
        for key in ("status", "urgency", "icd10", "kind"):
            if hasattr(self, key):
                out[key] = getattr(self, key)
        if hasattr(self, "targets"):
            out["for"] = list(self.targets)
        return out


class OracleResult(SimpleNamespace):
    def to_dict(self) -> dict:
        return {"red_flags": [i.to_dict() for i in self.red_flags], "conditions": [i.to_dict() for i in self.conditions],
                "recommendations": [i.to_dict() for i in self.recommendations],
                "do_not": [i.to_dict() for i in self.do_not], "warnings": [i.to_dict() for i in self.warnings],
                "trace": [{"rule": rule} for rule in self.fired]}


def result(case: dict, concluded: list, fired: list, manifest: dict, vocabulary: dict,
           default_weeks: float) -> OracleResult:
    """`concluded`: (rule order, kind, data) for every conclusion of every rule that fired."""
    concluded = sorted(concluded, key=lambda c: c[0])
    flags, conditions, recs, bans, warnings = {}, {}, {}, {}, {}
    classified = {}
    for order, kind, data in concluded:
        code = data.get("code")
        if kind == "red_flag":
            flags.setdefault(code, []).append(data)
        elif kind == "condition":
            conditions.setdefault(code, []).append(data)
        elif kind == "classify":
            classified.setdefault(code, data["icd10"])
        elif kind == "recommend":
            recs.setdefault(code, []).append(data)
        elif kind == "advise_against":
            bans.setdefault(code, set()).update(data.get("for", ()))
        elif kind == "warn":
            warnings.setdefault(code, Item(code=code))

    red_flags = [Item(code=code, status=max((d["status"] for d in ds), key=FLAG_STATUSES.index),
                      urgency=most_urgent(d["urgency"] for d in ds)) for code, ds in flags.items()]
    flag_codes = set(flags)
    merged_conditions = []
    for code, ds in conditions.items():
        status = max((d["status"] for d in ds), key=CONDITION_STATUSES.index)
        strongest = next(d for d in ds if d["status"] == status)  # the first rule to reach that status
        icd10 = classified.get(code) or strongest.get("icd10") or vocabulary["conditions"][code]["default_icd10"]
        merged_conditions.append(Item(code=code, status=status, icd10=icd10))

    # A recommendation keeps what each rule gave it, so that narrowing its `for` keeps the right urgency.
    recommendations = []
    for code, ds in recs.items():
        known = vocabulary["recommendations"][code]
        recommendations.append(Item(code=code, kind=known["kind"], category=known.get("category"),
                                    step=min(d.get("step", 0) for d in ds),
                                    parts=[(tuple(d.get("for", ())), d["urgency"]) for d in ds]))
    do_not = [Item(code=code, targets=tuple(sorted(targets))) for code, targets in bans.items()]

    recommendations = [r for r in recommendations if r.code not in case.get("imaging", {})]
    recommendations = _trials_used_up(recommendations, case, manifest, flag_codes, default_weeks)
    if (case.get("systemic") or {}).get("nsaid_contraindicated") is True:
        kept = [r for r in recommendations if r.code != "oral_nsaid_with_ppi"]
        if len(kept) < len(recommendations):
            warnings["nsaid_contraindicated"] = Item(code="nsaid_contraindicated")
        recommendations = kept
    if any(f.urgency in ("emergency", "urgent") for f in red_flags):
        kept = []
        for r in recommendations:
            own = [t for t in _targets(r) if t in flag_codes]
            if r.kind != "treatment":
                kept.append(r)
            elif own:
                kept.append(_narrowed(r, own))
        if len(kept) < len(recommendations):
            warnings["treatment_withheld"] = Item(code="treatment_withheld")
        recommendations = kept
    imaged = {t for r in recommendations if r.kind == "imaging" for t in _targets(r)}
    spine_or_flag_imaged = "spinal_serious_pathology" in flag_codes or bool(imaged & flag_codes)
    bridged = {t for r in recommendations if r.code == "bridging_glucocorticoid" for t in _targets(r)}
    kept_bans = []
    for item in do_not:
        targets = item.targets
        if item.code == "routine_imaging":
            if spine_or_flag_imaged:
                continue
            targets = tuple(t for t in targets if t not in imaged)
        if item.code in GLUCOCORTICOID_BANS and bridged:
            targets = tuple(t for t in targets if t not in bridged)
        if targets or not item.targets:
            kept_bans.append(Item(code=item.code, targets=targets))

    for r in recommendations:
        r.targets = tuple(sorted(_targets(r)))
        r.urgency = most_urgent(u for _, u in r.parts)

    def act_order(r):
        group = 0 if set(r.targets) & flag_codes else (1 if r.kind != "treatment" else 2)
        return (group, URGENCIES.index(r.urgency), 0 if group == 1 else r.step, KINDS.index(r.kind),
                CATEGORIES.index(r.category), r.code)

    return OracleResult(
        red_flags=sorted(red_flags, key=lambda f: (URGENCIES.index(f.urgency), f.code)),
        conditions=sorted(merged_conditions, key=lambda c: (-CONDITION_STATUSES.index(c.status), c.code)),
        recommendations=sorted(recommendations, key=act_order),
        do_not=sorted(kept_bans, key=lambda d: d.code),
        warnings=[warnings[code] for code in sorted(warnings)],
        fired=list(fired))


def _targets(rec) -> list[str]:
    return sorted({t for targets, _ in rec.parts for t in targets})


def _narrowed(rec, targets) -> Item:
    """The recommendation for `targets` only: the parts of rules that serve none of them leave with theirs."""
    targets = set(targets)
    parts = [(tuple(t for t in f if t in targets), u) for f, u in rec.parts if not f or set(f) & targets]
    return Item(code=rec.code, kind=rec.kind, category=rec.category, step=rec.step, parts=parts or rec.parts)


def _trials_used_up(recs, case, manifest, flag_codes, default_weeks):
    """pathways.md, Definitions: a treatment whose trial failed (>= the limit, response none or partial)
    or is still running (< the limit) for a condition's joint is not recommended again for that
    condition, unless it is never used up, or serves a red flag."""
    trials = case.get("treatments", [])
    never = manifest.get("never_used_up", {})
    joints = manifest.get("condition_joints", {})
    out = []
    for r in recs:
        targets = _targets(r)
        if r.kind != "treatment" or not trials or not targets:
            out.append(r)
            continue
        keep = []
        for target in targets:
            if target in flag_codes or r.code in never.get("all", ()) or r.code in never.get(target, ()):
                keep.append(target)
                continue
            joint = joints.get(target)
            used = any(t["code"] == r.code and (joint is None or t.get("joint", joint) == joint)
                       and (t["weeks"] < default_weeks or t["response"] in ("none", "partial")) for t in trials)
            if not used:
                keep.append(target)
        if keep:
            out.append(r if keep == targets else _narrowed(r, keep))
    return out
