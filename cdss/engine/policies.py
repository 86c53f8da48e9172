"""Result-level policies: what the engine does after the rules reach their fixpoint.

These are the decisions that concern the result as a whole rather than one pathway: merging what several
rules concluded, letting a red flag outrank routine advice, and keeping the result free of the conflicts
that pathways.md forbids. Each policy that changes the result leaves a `policy.*` entry in the trace, so
that nothing disappears without a reason.
"""

from __future__ import annotations

from collections import defaultdict

from attrs import evolve

from cdss.kb.conditions import STATUS_RANK, lookup
from cdss.kb.rules import KnowledgeBase
from cdss.model import Condition, Contribution, DoNot, Matched, RedFlag, Recommendation, Result, Text, TraceEntry, Warning
from cdss import resources

URGENCY_RANK = {"emergency": 0, "urgent": 1, "soon": 2, "routine": 3}
RED_FLAG_STATUS_RANK = {"suspected": 1, "confirmed": 2}
KIND_RANK = {"exam": 0, "lab": 1, "imaging": 2, "referral": 3, "treatment": 4}
CATEGORY_RANK = {"self_management": 0, "physical": 1, "pharmacological": 2, "injection": 3, "surgical": 4, None: 5}
GLUCOCORTICOID_DO_NOTS = ("oral_corticosteroids", "long_term_glucocorticoids")

WITHHELD = Text(
    en="Treatment advice of the other pathways is withheld while an emergency or urgent red flag stands; deal with the red flag first.",
    nl="Behandeladvies van de andere paden wordt achtergehouden zolang er een spoedeisende of dringende alarmsituatie is; pak die eerst aan.")
NSAID_CONTRAINDICATED = Text(
    en="Oral NSAIDs are left out because they are contraindicated for this patient; topical NSAIDs remain the safer choice.",
    nl="Orale NSAID's zijn weggelaten omdat ze voor deze patiënt gecontra-indiceerd zijn; lokale NSAID's blijven de veiligere keuze.")


def _union(groups) -> tuple:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def build_result(run, kb: KnowledgeBase, stratum_of: dict) -> Result:
    vocab = resources.vocabulary()
    order = kb.order_of
    by_kind: dict[str, list] = defaultdict(list)
    for rule, conclusion in sorted(run.conclusions, key=lambda rc: rc[0].order):
        by_kind[conclusion.kind].append((rule, conclusion.data))
    trace = [TraceEntry(rule_id, witnesses, asserted)
             for rule_id, (witnesses, asserted) in sorted(run.fired.items(),
                                                           key=lambda kv: (stratum_of[kv[0]], order[kv[0]]))]
    red_flags = _merge_red_flags(by_kind["red_flag"])
    flag_codes = {flag.code for flag in red_flags}
    conditions = _merge_conditions(by_kind["condition"], by_kind["classify"], vocab)
    recommendations = _merge_recommendations(by_kind["recommend"])
    do_not = _merge_do_not(by_kind["advise_against"])
    warnings = {}
    for rule, data in by_kind["warn"]:
        warnings.setdefault(data["code"], Warning(data["code"], Text(data["en"], data["nl"]), (rule.id,)))

    case = run.case.data
    recommendations = _study_already_done(recommendations, case, trace)
    recommendations = _failed_trial_not_repeated(recommendations, case, kb, flag_codes, trace)
    recommendations = _nsaid_contraindicated(recommendations, case, warnings, trace)
    recommendations = _red_flag_withholds_treatment(recommendations, red_flags, flag_codes, warnings, trace)
    do_not = _no_routine_imaging_beside_imaging(do_not, recommendations, red_flags, trace)
    do_not = _no_glucocorticoid_do_not_beside_bridging(do_not, recommendations, trace)

    return Result(
        case_id=run.case.id, knowledge_base=kb.identity,
        red_flags=tuple(sorted(red_flags, key=lambda f: (URGENCY_RANK[f.urgency], f.code))),
        conditions=tuple(sorted(conditions, key=lambda c: (-STATUS_RANK[c.status], c.code))),
        recommendations=tuple(sorted(recommendations, key=lambda r: _act_order(r, flag_codes))),
        do_not=tuple(sorted(do_not, key=lambda d: d.code)),
        warnings=tuple(warnings[code] for code in sorted(warnings)),
        trace=tuple(trace))


def _by_code(items) -> dict[str, list]:
    """Conclusions grouped by code, each group in rule-base order (items arrive in that order)."""
    grouped: dict[str, list] = defaultdict(list)
    for rule, data in items:
        grouped[data["code"]].append((rule, data))
    return grouped


def _act_order(rec: Recommendation, flag_codes: set) -> tuple:
    """Red-flag actions first, then diagnostics and referrals, then treatment by ladder step."""
    if any(target in flag_codes for target in rec.for_):
        group = 0
    elif rec.kind != "treatment":
        group = 1
    else:
        group = 2
    step = rec.step if group != 1 else 0
    return (group, URGENCY_RANK[rec.urgency], step, KIND_RANK[rec.kind], CATEGORY_RANK[rec.category], rec.code)


def _merge_red_flags(items) -> list[RedFlag]:
    grouped = _by_code(items)
    out = []
    for code, entries in grouped.items():
        status = max((d["status"] for _, d in entries), key=RED_FLAG_STATUS_RANK.get)
        urgency = min((d["urgency"] for _, d in entries), key=URGENCY_RANK.get)
        lead = min(entries, key=lambda e: (URGENCY_RANK[e[1]["urgency"]], -RED_FLAG_STATUS_RANK[e[1]["status"]], e[0].order))[0]
        out.append(RedFlag(code, status, urgency, lead.rationale, _union([(r.id,) for r, _ in entries]),
                           _union(r.sources for r, _ in entries)))
    return out


def _merge_conditions(items, classifications, vocab) -> list[Condition]:
    grouped = _by_code(items)
    out = []
    for code, entries in grouped.items():
        status = max((d["status"] for _, d in entries), key=STATUS_RANK.get)
        lead = min(entries, key=lambda e: (-STATUS_RANK[e[1]["status"]], e[0].order))
        icd10 = next((d["icd10"] for r, d in classifications if d["code"] == code), None)
        if icd10 is None:
            icd10 = lead[1].get("icd10") or vocab["conditions"][code]["default_icd10"]
        rules = _union([(r.id,) for r, _ in entries] + [(r.id,) for r, d in classifications if d["code"] == code])
        sources = _union([r.sources for r, _ in entries] + [r.sources for r, d in classifications if d["code"] == code])
        out.append(Condition(code, status, icd10, lead[0].rationale, rules, sources))
    return out


def _merge_recommendations(items) -> list[Recommendation]:
    grouped = _by_code(items)
    out = []
    for code, entries in grouped.items():
        first = entries[0][1]
        ranked = sorted(entries, key=lambda e: (URGENCY_RANK[e[1]["urgency"]], e[0].order)) if len(entries) > 1 else entries
        lead = ranked[0]  # the most urgent, then the first in rule-base order
        out.append(Recommendation(
            code=code, kind=first["kind"], category=first["category"], urgency=lead[1]["urgency"],
            for_=tuple(sorted({target for _, d in entries for target in d.get("for", ())})),
            rationale=lead[0].rationale, rules=tuple(dict.fromkeys(r.id for r, _ in entries)),
            sources=_union(r.sources for r, _ in entries),
            step=min(d.get("step", 0) for _, d in entries),
            contributions=tuple(Contribution(r.id, tuple(d.get("for", ())), r.rationale, r.sources, d["urgency"])
                                for r, d in ranked)))
    return out


def _merge_do_not(items) -> list[DoNot]:
    grouped = _by_code(items)
    return [DoNot(code, tuple(sorted(set(_union(d.get("for", ()) for _, d in entries)))), entries[0][0].rationale,
                  _union([(r.id,) for r, _ in entries]), _union(r.sources for r, _ in entries),
                  tuple(Contribution(r.id, tuple(d.get("for", ())), r.rationale, r.sources) for r, d in entries))
            for code, entries in grouped.items()]


def _note(trace: list, policy: str, matched: list[Matched], asserted: list[str]) -> None:
    if asserted:
        trace.append(TraceEntry(f"policy.{policy}", tuple(dict.fromkeys(matched)), tuple(asserted)))


def _study_already_done(recs, case, trace):
    """A study already in `imaging` is never recommended again."""
    done = case.get("imaging", {})
    keep, removed, matched = [], [], []
    for rec in recs:
        if rec.code in done:
            removed.append(f"removed:{rec.code}")
            matched.append(Matched("field", f"/imaging/{rec.code}", None))
        else:
            keep.append(rec)
    _note(trace, "study-already-done", matched, removed)
    return keep


def _failed_trial_not_repeated(recs, case, kb, flag_codes, trace):
    """A treatment whose trial failed, or is still running, for a condition's joint is not recommended
    again for that condition, unless it is never used up (rules/knowledge_base.yaml)."""
    trials = case.get("treatments", [])
    if not trials:
        return recs
    limit = kb.failed_min_weeks
    never = kb.manifest["never_used_up"]
    joints = kb.manifest["condition_joints"]
    keep, removed, matched = [], [], []
    for rec in recs:
        if rec.kind != "treatment":
            keep.append(rec)
            continue
        targets = []
        for target in rec.for_:
            if target in flag_codes or rec.code in never["all"] or rec.code in never.get(target, ()):
                targets.append(target)
                continue
            joint = joints.get(target)
            used = [(i, t) for i, t in enumerate(trials) if t["code"] == rec.code
                    and (joint is None or t.get("joint", joint) == joint)
                    and (t["weeks"] < limit or t["response"] in ("none", "partial"))]
            if used:
                matched.extend(Matched("trial", f"/treatments/{i}", f"{t['code']} {t['weeks']:g} weeks, response {t['response']}")
                               for i, t in used)
                removed.append(f"removed:{rec.code}:for:{target}")
            else:
                targets.append(target)
        if targets or not rec.for_:
            keep.append(rec if len(targets) == len(rec.for_) else _with_for(rec, targets))
    _note(trace, "failed-trial-not-repeated", matched, removed)
    return keep


def _with_for(item, targets):
    """The item narrowed to `targets`, keeping only the rules (and their reasons) that serve one of them."""
    targets = tuple(targets)
    kept = tuple(c for c in item.contributions if not c.for_ or set(c.for_) & set(targets)) or item.contributions
    changes = dict(for_=targets, contributions=kept, rules=_union([(c.rule,) for c in kept]),
                   rationale=kept[0].rationale, sources=_union(c.sources for c in kept))
    if isinstance(item, Recommendation):
        changes["urgency"] = min((c.urgency for c in kept), key=URGENCY_RANK.get)
    return evolve(item, **changes)


def _nsaid_contraindicated(recs, case, warnings, trace):
    if lookup(case, ("systemic", "nsaid_contraindicated")) is not True:
        return recs
    keep = [rec for rec in recs if rec.code != "oral_nsaid_with_ppi"]
    if len(keep) != len(recs):
        warnings["nsaid_contraindicated"] = Warning("nsaid_contraindicated", NSAID_CONTRAINDICATED,
                                                    ("policy.nsaid-contraindicated",))
        _note(trace, "nsaid-contraindicated", [Matched("field", "/systemic/nsaid_contraindicated", True)],
              ["removed:oral_nsaid_with_ppi", "warning:nsaid_contraindicated"])
    return keep


def _red_flag_withholds_treatment(recs, red_flags, flag_codes, warnings, trace):
    """While an emergency or urgent red flag stands, only the red flags' own treatments remain."""
    pressing = [f for f in red_flags if f.urgency in ("emergency", "urgent")]
    if not pressing:
        return recs
    keep, removed = [], []
    for rec in recs:
        if rec.kind != "treatment":
            keep.append(rec)
            continue
        own = [t for t in rec.for_ if t in flag_codes]
        if not own:
            removed.append(f"removed:{rec.code}")
        else:
            keep.append(rec if len(own) == len(rec.for_) else _with_for(rec, own))
    if removed:
        warnings["treatment_withheld"] = Warning("treatment_withheld", WITHHELD, ("policy.red-flag-withholds-treatment",))
        _note(trace, "red-flag-withholds-treatment", [Matched("red_flag", f.code, f.urgency) for f in pressing],
              removed + ["warning:treatment_withheld"])
    return keep


def _no_routine_imaging_beside_imaging(do_not, recs, red_flags, trace):
    """No `do_not: routine_imaging` for a condition that gets imaging, nor beside a red flag whose
    work-up is imaging (a spinal red flag always counts, pathways.md §0)."""
    imaged = {t for rec in recs if rec.kind == "imaging" for t in rec.for_}
    flag_codes = {f.code for f in red_flags}
    flag_imaging = "spinal_serious_pathology" in flag_codes or bool(imaged & flag_codes)
    keep, removed = [], []
    for item in do_not:
        if item.code != "routine_imaging":
            keep.append(item)
            continue
        if flag_imaging:
            removed.append("removed:do_not:routine_imaging")
            continue
        targets = tuple(t for t in item.for_ if t not in imaged)
        if len(targets) != len(item.for_):
            removed.extend(f"removed:do_not:routine_imaging:for:{t}" for t in item.for_ if t in imaged)
        if targets or not item.for_:
            keep.append(item if targets == item.for_ else _with_for(item, targets))
    _note(trace, "no-routine-imaging-do-not-beside-imaging",
          [Matched("red_flag", c) for c in sorted(flag_codes)] if flag_imaging else [], removed)
    return keep


def _no_glucocorticoid_do_not_beside_bridging(do_not, recs, trace):
    bridged = {t for rec in recs if rec.code == "bridging_glucocorticoid" for t in rec.for_}
    if not bridged:
        return do_not
    keep, removed = [], []
    for item in do_not:
        if item.code not in GLUCOCORTICOID_DO_NOTS:
            keep.append(item)
            continue
        targets = tuple(t for t in item.for_ if t not in bridged)
        removed.extend(f"removed:do_not:{item.code}:for:{t}" for t in item.for_ if t in bridged)
        if targets:
            keep.append(item if targets == item.for_ else _with_for(item, targets))
    _note(trace, "no-glucocorticoid-do-not-beside-bridging", [], removed)
    return keep
