"""Result-level policies: what the engine does after the rules reach their fixpoint.

These are the decisions that concern the result as a whole rather than one pathway: merging what several
rules concluded, letting a red flag outrank routine advice, the NSAID safety rules, and keeping the result
free of the conflicts that pathways.md forbids. The clinical knowledge they apply (codes, flags, texts) is
data in rules/knowledge_base.yaml, read once into `kb.policy` (cdss/kb/policy.py); this module only says
how to apply it, in the order pathways.md gives ("Order of evaluation"). Each policy that changes the
result leaves one `policy.*` entry in the trace, so that nothing appears or disappears without a reason.
"""

from __future__ import annotations

import weakref
from collections import defaultdict

from attrs import define, evolve, field

from cdss import resources
from cdss.kb import labels, placeholders
from cdss.kb.conditions import STATUS_RANK, trial_witness
from cdss.kb.policy import ClinicalPolicy
from cdss.kb.rules import KnowledgeBase
from cdss.model import Condition, Contribution, DoNot, Matched, RedFlag, Recommendation, Result, Text, TraceEntry, Warning

RED_FLAG_STATUS_RANK = {"suspected": 1, "confirmed": 2}
KIND_RANK = {"exam": 0, "lab": 1, "imaging": 2, "referral": 3, "treatment": 4, "advice": 5}
CATEGORY_RANK = {"self_management": 0, "physical": 1, "pharmacological": 2, "injection": 3, "surgical": 4, None: 5}
LAST_STEP = 99  # what a policy adds comes after the rules' own steps
MAX_GROUPS = 512  # merged items of several rules' conclusions kept per knowledge base (Prepared.group_item): 494
# combinations were met in 50,000 synthetic cases, the first 512 met answer >99.9 % of the calls, and a
# table of 4,096 kept growing for ~1,000,000 cases (the direct worker +11.5 % of its RSS from 10,000 cases)


@define
class Draft:
    """The result while the policies shape it."""

    policy: ClinicalPolicy
    case: dict
    facts: frozenset  # the derived facts the rules asserted
    red_flags: list
    conditions: list
    recommendations: list
    do_not: list
    warnings: dict = field(factory=dict)  # code -> Warning
    trace: list = field(factory=list)

    @property
    def flag_codes(self) -> set[str]:
        return {flag.code for flag in self.red_flags}

    def note(self, policy: str, matched, asserted) -> None:
        if asserted:
            self.trace.append(TraceEntry(f"policy.{policy}", tuple(dict.fromkeys(matched)), tuple(asserted)))

    def warn(self, code: str, message: Text, for_, rule: str) -> None:
        found = self.warnings.get(code)
        if found is None:
            self.warnings[code] = Warning(code, message, (rule,), tuple(sorted(set(for_))),
                                          label=labels.label("warnings", code))
        else:
            self.warnings[code] = evolve(found, rules=_union([found.rules, (rule,)]),
                                         for_=tuple(sorted(set(found.for_) | set(for_))))

    def add(self, rec: Recommendation) -> None:
        """A recommendation a policy brings in, merged with one of the same code (most urgent, every `for`)."""
        rank = self.policy.urgency_rank
        for i, have in enumerate(self.recommendations):
            if have.code == rec.code:
                lead, other = (have, rec) if rank[have.urgency] <= rank[rec.urgency] else (rec, have)
                self.recommendations[i] = evolve(
                    lead, for_=tuple(sorted(set(have.for_) | set(rec.for_))), rules=_union([have.rules, rec.rules]),
                    sources=_union([have.sources, rec.sources]), step=min(have.step, rec.step),
                    contributions=lead.contributions + other.contributions)
                return
        self.recommendations.append(rec)


def _union(groups) -> tuple:
    return tuple(dict.fromkeys(item for group in groups for item in group))


class Prepared:
    """What shaping a result needs that depends only on the knowledge base, worked out once per knowledge
    base rather than once per case (`prepared(kb)`).

    Most codes in a result come from one rule alone, and such an item is the same for every case that fires
    that rule: a rule without placeholders (cdss.kb.placeholders) has the same rationale in every case. So
    each conclusion of such a rule has its single-rule item made here, by the same merge function a case
    uses (so the two cannot differ), labelled, and shared by every result in which that rule alone gives
    the code (result items are frozen; a policy that changes one makes a new one). A code that several rules
    give is merged once per combination of their conclusions (`group_item`); a rule whose texts hold
    placeholders is merged per case as before. Each item is made the first time a case needs it (a one-case
    `cdss evaluate` needs a handful of the rule base's ~370)."""

    def __init__(self, kb: KnowledgeBase):
        vocab, rank = resources.vocabulary(), kb.policy.urgency_rank
        self._merge = {"red_flag": lambda entry: _merge_red_flags([entry], rank),
                       "condition": lambda entry: _merge_conditions([entry], [], vocab),
                       "recommend": lambda entry: _merge_recommendations([entry], rank),
                       "advise_against": _merge_do_not_one,
                       "warn": lambda entry: list(_merge_warnings([entry]).values())}
        self._by_id = kb.by_id
        # id(conclusion) -> (rule, item or None); the rule is checked by identity, so that a conclusion met
        # with another rule object (a rule with its placeholders filled, a rule base built by hand) is merged
        # afresh. Only the knowledge base's own rules' conclusions are kept: they live as long as it does.
        self.alone: dict[int, tuple] = {}
        self._order = kb.order_of
        self._ranks: dict[int, tuple] = {}  # id(stratum_of) -> (stratum_of, rule id -> trace position)
        self.groups: dict[tuple, tuple] = {}  # ids of a group's conclusions -> (the group, its merged item)
        # id -> every item made here, shared by many results (kept alive here, so an id found is the item's
        # own): a result's writer renders their JSON once (cdss.io.result_json)
        self.shared: dict[int, object] = {}

    def trace_rank(self, stratum_of: dict) -> dict:
        """Rule id -> its place in the trace (by stratum, then rule-base order), for an engine's strata."""
        found = self._ranks.get(id(stratum_of))
        if found is None or found[0] is not stratum_of:
            order = self._order
            ranked = sorted(stratum_of, key=lambda rule_id: (stratum_of[rule_id], order.get(rule_id, 0)))
            found = self._ranks[id(stratum_of)] = (stratum_of, {rule_id: i for i, rule_id in enumerate(ranked)})
        return found[1]

    def item(self, rule, conclusion):
        """The single-rule item of this rule's conclusion, or None when it must be merged per case."""
        found = self.alone.get(id(conclusion))
        if found is None:
            found = self._prepare(rule, conclusion)
        return found[1] if found is not None and found[0] is rule else None

    def _own(self, rule, conclusion) -> bool:
        """Whether this is a conclusion of one of the knowledge base's own rules, with texts that are the
        same in every case (no placeholders)."""
        return (self._by_id.get(rule.id) is rule and not rule.placeholders and conclusion.kind in self._merge
                and any(own is conclusion for own in rule.then))

    def group_item(self, group: list, merge):
        """The item that several rules' conclusions give one code (`group`: (rule, conclusion) pairs in
        rule-base order), merged by `merge` the first time that combination is met and kept: a combination
        recurs from case to case (the hip and the knee rules advising against the same thing), and merging
        was ~1/5 of shaping a result. None when one of the rules is not the knowledge base's own or has
        placeholders: the group is merged per case. At most MAX_GROUPS combinations are kept."""
        key = tuple(id(conclusion) for _, conclusion in group)
        found = self.groups.get(key)
        if found is not None and all(kept_rule is rule and kept is conclusion
                                     for (kept_rule, kept), (rule, conclusion) in zip(found[0], group)):
            return found[1]
        if not all(self._own(rule, conclusion) for rule, conclusion in group):
            return None
        try:
            (item,) = merge([(rule, conclusion.data) for rule, conclusion in group])
        except Exception:  # a group the merge refuses: left to the case, which reports it
            return None
        if len(self.groups) < MAX_GROUPS:
            self.groups[key] = (tuple(group), item)
            self.shared[id(item)] = item
        return item

    def _prepare(self, rule, conclusion):
        """Make and keep the item of a conclusion of one of the knowledge base's own rules (None for
        anything else: it is merged per case)."""
        if not self._own(rule, conclusion):
            return None
        try:
            (item,) = self._merge[conclusion.kind]((rule, conclusion.data))
        except Exception:  # a conclusion the merge refuses: left to the case, which reports it
            item = None
        found = self.alone[id(conclusion)] = (rule, item)
        if item is not None:
            self.shared[id(item)] = item
        return found


_PREPARED: dict[int, tuple] = {}  # id(kb) -> (weak reference to the kb, Prepared)


def prepared(kb: KnowledgeBase) -> Prepared:
    """The knowledge base's Prepared, made on first use and dropped with the knowledge base."""
    found = _PREPARED.get(id(kb))
    if found is not None and found[0]() is kb:
        return found[1]
    table = Prepared(kb)
    _PREPARED[id(kb)] = (weakref.ref(kb), table)
    weakref.finalize(kb, _PREPARED.pop, id(kb), None)
    return table


def build_result(run, kb: KnowledgeBase, stratum_of: dict, engine: str = "durable") -> Result:
    vocab = resources.vocabulary()
    policy = kb.policy
    rank = policy.urgency_rank
    ready = prepared(kb)
    by_kind: dict[str, list] = defaultdict(list)
    conclusions = run.conclusions
    if getattr(run, "placeholders", True):  # a rule with placeholders fired (a run of another kind: look)
        conclusions = placeholders.filled(conclusions, getattr(run, "facts", None), getattr(kb, "phrases", None))
    for rule, conclusion in sorted(conclusions, key=lambda rc: rc[0].order):
        by_kind[conclusion.kind].append((rule, conclusion))
    fired = run.fired
    trace = [fired[rule_id] for rule_id in sorted(fired, key=ready.trace_rank(stratum_of).__getitem__)]
    classifications = [(rule, c.data) for rule, c in by_kind["classify"]]
    classified = {data["code"] for _, data in classifications}
    d = Draft(policy=policy, case=run.case.data, facts=frozenset(run.facts.derived),
              red_flags=_merged(by_kind["red_flag"], ready, lambda items: _merge_red_flags(items, rank)),
              conditions=_merged(by_kind["condition"], ready,
                                 lambda items: _merge_conditions(items, classifications, vocab), classified),
              recommendations=_merged(by_kind["recommend"], ready, lambda items: _merge_recommendations(items, rank)),
              do_not=_merged(by_kind["advise_against"], ready, _merge_do_not), trace=trace)
    d.warnings = {w.code: w for w in _merged(by_kind["warn"], ready,
                                             lambda items: list(_merge_warnings(items).values()))}
    for step in PIPELINE:
        step(d)
    flag_codes = d.flag_codes
    return Result(
        case_id=run.case.id, knowledge_base=kb.identity,
        red_flags=tuple(sorted(d.red_flags, key=lambda f: (rank[f.urgency], f.code))),
        conditions=tuple(sorted(d.conditions, key=lambda c: (-STATUS_RANK[c.status], c.code))),
        recommendations=tuple(sorted(d.recommendations, key=lambda r: _act_order(r, flag_codes, rank))),
        do_not=tuple(sorted(d.do_not, key=lambda item: item.code)),
        warnings=tuple(d.warnings[code] for code in sorted(d.warnings)),
        trace=tuple(d.trace), engine=engine)


def _merged(pairs, ready: Prepared, merge, per_case=frozenset()) -> list:
    """One item per code, in order of each code's first rule: a code that one rule alone gives takes that
    rule's prepared item, a code that several give the item kept for that combination (both unless its code
    is in `per_case`), and the rest are merged by `merge` (a list of (rule, data) in rule-base order ->
    items in the same order of codes; each code's item depends on its own entries alone)."""
    groups: dict[str, list] = {}
    for rule, conclusion in pairs:
        groups.setdefault(conclusion.data["code"], []).append((rule, conclusion))
    out, rest = [], []
    for code, group in groups.items():
        if code in per_case:
            item = None
        else:
            item = ready.item(*group[0]) if len(group) == 1 else ready.group_item(group, merge)
        if item is None:
            rest.extend((rule, conclusion.data) for rule, conclusion in group)
            out.append(code)
        else:
            out.append(item)
    if rest:
        made = {item.code: item for item in merge(rest)}
        out = [made[entry] if isinstance(entry, str) else entry for entry in out]
    return out


def _by_code(items) -> dict[str, list]:
    """Conclusions grouped by code, each group in rule-base order (items arrive in that order)."""
    grouped: dict[str, list] = defaultdict(list)
    for rule, data in items:
        grouped[data["code"]].append((rule, data))
    return grouped


def _act_order(rec: Recommendation, flag_codes: set, rank: dict) -> tuple:
    """Red-flag actions first, then diagnostics and referrals, then treatment by ladder step, then advice."""
    if any(target in flag_codes for target in rec.for_):
        group = 0
    elif rec.kind == "treatment":
        group = 2
    elif rec.kind == "advice":
        group = 3
    else:
        group = 1
    step = rec.step if group != 1 else 0
    return (group, rank[rec.urgency], step, KIND_RANK[rec.kind], CATEGORY_RANK[rec.category], rec.code)


# -- merging what several rules concluded ------------------------------------------------------------

def _merge_red_flags(items, rank: dict) -> list[RedFlag]:
    """One entry per flag, at its most urgent urgency and highest status. Its rationale gives the reason of
    every rule that raised it, the leading rule's first (a Kocher count adds its probability, say)."""
    out = []
    for code, entries in _by_code(items).items():
        status = max((d["status"] for _, d in entries), key=RED_FLAG_STATUS_RANK.get)
        urgency = min((d["urgency"] for _, d in entries), key=rank.get)
        ordered = sorted(entries, key=lambda e: (rank[e[1]["urgency"]], -RED_FLAG_STATUS_RANK[e[1]["status"]], e[0].order))
        reasons = list(dict.fromkeys(r.rationale for r, _ in ordered))
        rationale = reasons[0] if len(reasons) == 1 else Text(" ".join(t.en for t in reasons), " ".join(t.nl for t in reasons))
        out.append(RedFlag(code, status, urgency, rationale, _union([(r.id,) for r, _ in entries]),
                           _union(r.sources for r, _ in entries), label=labels.label("red_flags", code)))
    return out


def _merge_conditions(items, classifications, vocab) -> list[Condition]:
    out = []
    for code, entries in _by_code(items).items():
        status = max((d["status"] for _, d in entries), key=STATUS_RANK.get)
        lead = min(entries, key=lambda e: (-STATUS_RANK[e[1]["status"]], e[0].order))
        icd10 = next((d["icd10"] for r, d in classifications if d["code"] == code), None)
        if icd10 is None:
            icd10 = lead[1].get("icd10") or vocab["conditions"][code]["default_icd10"]
        rules = _union([(r.id,) for r, _ in entries] + [(r.id,) for r, d in classifications if d["code"] == code])
        sources = _union([r.sources for r, _ in entries] + [r.sources for r, d in classifications if d["code"] == code])
        out.append(Condition(code, status, icd10, lead[0].rationale, rules, sources,
                             label=labels.label("conditions", code)))
    return out


def _merge_recommendations(items, rank: dict) -> list[Recommendation]:
    out = []
    for code, entries in _by_code(items).items():
        first = entries[0][1]
        ranked = sorted(entries, key=lambda e: (rank[e[1]["urgency"]], e[0].order)) if len(entries) > 1 else entries
        lead = ranked[0]  # the most urgent, then the first in rule-base order
        out.append(Recommendation(
            code=code, kind=first["kind"], category=first["category"], urgency=lead[1]["urgency"],
            for_=tuple(sorted({target for _, d in entries for target in d.get("for", ())})),
            rationale=lead[0].rationale, rules=tuple(dict.fromkeys(r.id for r, _ in entries)),
            sources=_union(r.sources for r, _ in entries),
            step=min(d.get("step", 0) for _, d in entries),
            contributions=tuple(Contribution(r.id, tuple(d.get("for", ())), r.rationale, r.sources, d["urgency"])
                                for r, d in ranked), label=labels.label("recommendations", code)))
    return out


def _merge_do_not(items) -> list[DoNot]:
    return [DoNot(code, tuple(sorted(set(_union(d.get("for", ()) for _, d in entries)))), entries[0][0].rationale,
                  _union([(r.id,) for r, _ in entries]), _union(r.sources for r, _ in entries),
                  tuple(Contribution(r.id, tuple(d.get("for", ())), r.rationale, r.sources) for r, d in entries),
                  label=labels.label("do_not", code))
            for code, entries in _by_code(items).items()]


def _merge_do_not_one(entry) -> list[DoNot]:
    return _merge_do_not([entry])


def _merge_warnings(items) -> dict[str, Warning]:
    """One warning per code, for everything its rules name, with each distinct message once."""
    out = {}
    for code, entries in _by_code(items).items():
        texts = list(dict.fromkeys((d["en"], d["nl"]) for _, d in entries))
        out[code] = Warning(code, Text(" ".join(en for en, _ in texts), " ".join(nl for _, nl in texts)),
                            _union([(r.id,) for r, _ in entries]),
                            tuple(sorted({t for _, d in entries for t in d.get("for", ())})),
                            label=labels.label("warnings", code))
    return out


def _with_for(item, targets, rank: dict):
    """The item narrowed to `targets`, keeping only the rules (and their reasons) that serve one of them."""
    targets = tuple(targets)
    kept = tuple(c for c in item.contributions if not c.for_ or set(c.for_) & set(targets)) or item.contributions
    changes = dict(for_=targets, contributions=kept, rules=_union([(c.rule,) for c in kept]),
                   rationale=kept[0].rationale, sources=_union(c.sources for c in kept))
    if isinstance(item, Recommendation):
        changes["urgency"] = min((c.urgency for c in kept), key=rank.get)
    return evolve(item, **changes)


def _narrow(d: Draft, items: list, drop, label: str) -> tuple[list, list[str]]:
    """Each item without the targets `drop(item, target)` says go; an item left serving nothing goes too
    (one that served nothing goes when `drop(item, None)`). Returns the items kept and what was removed."""
    keep, removed = [], []
    for item in items:
        if not item.for_:
            if drop(item, None):
                removed.append(f"removed:{label}{item.code}")
            else:
                keep.append(item)
            continue
        targets = [t for t in item.for_ if not drop(item, t)]
        if len(targets) == len(item.for_):
            keep.append(item)
        elif targets:
            removed.extend(f"removed:{label}{item.code}:for:{t}" for t in item.for_ if t not in targets)
            keep.append(_with_for(item, targets, d.policy.urgency_rank))
        else:
            removed.append(f"removed:{label}{item.code}")
    return keep, removed


# -- the policies, in pathways.md's order of evaluation ------------------------------------------------

def study_already_done(d: Draft) -> None:
    """A study already in `imaging` is never recommended again, except a red flag's emergency study, which
    is recommended again unless it shows the flag's finding (cases have no dates)."""
    done = d.case.get("imaging", {})
    if not done or not any(rec.code in done for rec in d.recommendations):
        return  # nothing recommended was done already (most cases): nothing to narrow
    again = {(s.flag, s.study): s.finding for s in d.policy.imaging.emergency_studies}

    def drop(rec, target):
        if rec.code not in done:
            return False
        finding = again.get((target, rec.code))
        return finding is None or finding in done[rec.code].get("findings", ())

    d.recommendations, removed = _narrow(d, d.recommendations, drop, "")
    matched = [Matched("field", f"/imaging/{code}", None) for code in dict.fromkeys(
        r.split(":")[1] for r in removed)]
    d.note("study-already-done", matched, removed)


def failed_trial_not_repeated(d: Draft) -> None:
    """A treatment whose trial failed, or is still running, for a condition's joint is not recommended
    again for that condition, unless it is never used up (rules/knowledge_base.yaml)."""
    trials = d.case.get("treatments", [])
    tried = {t["code"] for t in trials}
    if not tried or not any(rec.code in tried for rec in d.recommendations if rec.kind == "treatment"):
        return  # no treatment recommended was tried: nothing to narrow
    policy, flags = d.policy, d.flag_codes
    matched = []

    def used(rec, target):
        if rec.kind != "treatment" or target is None or target in flags or policy.never_used_up_for(rec.code, target):
            return False
        joint = policy.condition_joints.get(target)
        hits = [(i, t) for i, t in enumerate(trials) if t["code"] == rec.code
                and (joint is None or t.get("joint", joint) == joint) and policy.trials.used_up(t)]
        matched.extend(trial_witness(i, t) for i, t in hits)
        return bool(hits)

    d.recommendations, removed = _narrow(d, d.recommendations, used, "")
    d.note("failed-trial-not-repeated", matched, removed)


def bans(d: Draft) -> None:
    """pathways.md §0.2 and §0.4: while a banning flag stands, at any urgency, its banned treatments and
    do-nots never reach the result, whichever rule gave them."""
    for ban in d.policy.bans:
        standing = sorted(f.code for f in d.red_flags if f.code in ban.flags)
        if not standing:
            continue
        removed, withheld = [], False
        keep = []
        for rec in d.recommendations:
            if rec.kind == "treatment" and ban.bans(rec.code, rec.category):
                removed.append(f"removed:{rec.code}")
                withheld = withheld or bool(set(rec.for_) - d.flag_codes) or not rec.for_
            else:
                keep.append(rec)
        d.recommendations = keep
        kept_do_not = [item for item in d.do_not if item.code not in ban.do_nots]
        removed += [f"removed:do_not:{item.code}" for item in d.do_not if item.code in ban.do_nots]
        d.do_not = kept_do_not
        rule = f"{ban.name}-ban"
        if withheld:
            d.warn(d.policy.treatment_withheld, d.policy.withholding.message, standing, f"policy.{rule}")
            removed.append(f"warning:{d.policy.treatment_withheld}")
        d.note(rule, [Matched("red_flag", code) for code in standing], removed)


def red_flag_withholds_treatment(d: Draft) -> None:
    """pathways.md §0, Withholding: while an emergency flag stands only the red flags' own treatments
    remain; while an urgent one stands, other pathways keep only what the knowledge base lists (education,
    stay active), and stay active goes too under the flags that need rest until excluded."""
    if not d.red_flags:
        return  # nothing withholds without a flag
    w, flags = d.policy.withholding, {f.code: f for f in d.red_flags}
    pressing = [f for f in d.red_flags if f.urgency in w.keep]
    allowed = None
    for flag in pressing:
        keep = set(w.keep[flag.urgency])
        allowed = keep if allowed is None else allowed & keep
    blockers = {code: [f for f in w.withheld_under.get(code, ()) if f in flags] for code in w.withheld_under}
    for flag, by_code in w.withheld_under_when.items():
        for code, fact in by_code.items():
            if flag in flags and fact in d.facts:
                blockers.setdefault(code, []).append(flag)
    why: set[str] = set()

    def withheld(rec, target):
        if rec.kind != "treatment" or target in flags:
            return False
        reasons = [f.code for f in pressing if rec.code not in allowed] if pressing else []
        reasons += blockers.get(rec.code, [])
        why.update(reasons)
        return bool(reasons)

    d.recommendations, removed = _narrow(d, d.recommendations, withheld, "")
    if removed:
        d.warn(d.policy.treatment_withheld, w.message, why, "policy.red-flag-withholds-treatment")
        removed.append(f"warning:{d.policy.treatment_withheld}")
    d.note("red-flag-withholds-treatment", [Matched("red_flag", code, flags[code].urgency) for code in sorted(why)],
           removed)


def urgent_flag_advice(d: Draft) -> None:
    """pathways.md §0: each urgent flag adds safe pain relief and safety-netting advice for itself."""
    w = d.policy.withholding
    vocab = resources.vocabulary()["recommendations"]
    added, matched = [], []
    for flag in sorted(d.red_flags, key=lambda f: f.code):
        if flag.urgency != w.advice_urgency:
            continue
        matched.append(Matched("red_flag", flag.code, flag.urgency))
        for code in w.advice:
            rationale = w.advice_rationale[code]
            d.add(Recommendation(code=code, kind=vocab[code]["kind"], category=vocab[code].get("category"),
                                 urgency=flag.urgency, for_=(flag.code,), rationale=rationale,
                                 rules=("policy.urgent-flag-advice",), sources=w.sources, step=LAST_STEP,
                                 contributions=(Contribution("policy.urgent-flag-advice", (flag.code,), rationale,
                                                             w.sources, flag.urgency),),
                                 label=labels.label("recommendations", code)))
            added.append(f"recommend:{code}:{flag.urgency}:for:{flag.code}")
    d.note("urgent-flag-advice", matched, added)


def treated_only_without_flag(d: Draft) -> None:
    """pathways.md §0: a condition whose treatment rules run only while no joint-infection flag stands
    (crystal arthritis) has its treatment kept out by that flag: say so."""
    w = d.policy.withholding
    for condition in sorted(c.code for c in d.conditions):
        standing = sorted(f for f in w.treated_only_without.get(condition, ()) if f in d.flag_codes)
        if standing:
            d.warn(d.policy.treatment_withheld, w.message, standing, "policy.treated-only-without-red-flag")
            d.note("treated-only-without-red-flag",
                   [Matched("condition", condition)] + [Matched("red_flag", code) for code in standing],
                   [f"warning:{d.policy.treatment_withheld}"])


def _oral_nsaid(d: Draft) -> Recommendation | None:
    return next((rec for rec in d.recommendations if rec.code == d.policy.nsaid.oral), None)


def nsaid_contraindicated(d: Draft) -> None:
    """NSAIDs contraindicated (derived.yaml): no oral NSAID, with a warning; topical NSAIDs stay."""
    n = d.policy.nsaid
    oral = _oral_nsaid(d)
    if oral is None or n.contraindicated_fact not in d.facts:
        return
    d.recommendations.remove(oral)
    d.warn(n.contraindicated_warning, n.contraindicated_message, oral.for_, "policy.nsaid-contraindicated")
    d.note("nsaid-contraindicated", [Matched("fact", n.contraindicated_fact)],
           [f"removed:{oral.code}", f"warning:{n.contraindicated_warning}"])


def nsaid_dropped_by_age(d: Draft) -> None:
    """At 75 or over no oral NSAID for a crystal arthritis flare (colchicine and prednisolone remain)."""
    n = d.policy.nsaid
    oral = _oral_nsaid(d)
    if oral is None or n.dropped_fact not in d.facts:
        return
    d.recommendations, removed = _narrow(d, d.recommendations,
                                         lambda rec, t: rec.code == oral.code and t in n.dropped_for, "")
    d.note("nsaid-dropped-by-age", [Matched("fact", n.dropped_fact)], removed)


def nsaid_safety_check(d: Draft) -> None:
    """NSAID status unknown and an oral NSAID recommended: check before prescribing (same `for`)."""
    n = d.policy.nsaid
    oral = _oral_nsaid(d)
    if oral is None or n.safety_check is None or n.status_unknown_fact not in d.facts:
        return
    spec = resources.vocabulary()["recommendations"][n.safety_check]
    d.add(Recommendation(code=n.safety_check, kind=spec["kind"], category=spec.get("category"), urgency=oral.urgency,
                         for_=oral.for_, rationale=n.safety_check_rationale, rules=("policy.nsaid-safety-check",),
                         sources=n.sources, step=0,
                         contributions=(Contribution("policy.nsaid-safety-check", oral.for_, n.safety_check_rationale,
                                                     n.sources, oral.urgency),),
                         label=labels.label("recommendations", n.safety_check)))
    d.note("nsaid-safety-check", [Matched("fact", n.status_unknown_fact)],
           [f"recommend:{n.safety_check}:{oral.urgency}"])


def nsaid_caution(d: Draft) -> None:
    """NSAID caution and an oral NSAID recommended: a warning."""
    n = d.policy.nsaid
    oral = _oral_nsaid(d)
    if oral is None or n.caution_fact not in d.facts:
        return
    d.warn(n.caution_warning, n.caution_message, oral.for_, "policy.nsaid-caution")
    d.note("nsaid-caution", [Matched("fact", n.caution_fact)], [f"warning:{n.caution_warning}"])


def no_routine_imaging_beside_imaging(d: Draft) -> None:
    """No `do_not: routine_imaging` for a condition that gets imaging, nor beside a red flag whose own
    work-up includes imaging, nor while a flag that the knowledge base names stands at one of its urgencies
    (serious spinal pathology, urgent)."""
    im = d.policy.imaging
    if not any(item.code == im.do_not for item in d.do_not):
        return  # the do-not is not in the result: nothing to take away
    imaged = {t for rec in d.recommendations if rec.kind == "imaging" for t in rec.for_}
    standing = sorted(f.code for f in d.red_flags if f.urgency in im.withheld_by_flags.get(f.code, ())
                      or (im.withheld_beside_flag_imaging and f.code in imaged))
    keep, removed = [], []
    for item in d.do_not:
        if item.code != im.do_not:
            keep.append(item)
        elif standing:
            removed.append(f"removed:do_not:{item.code}")
        else:
            kept, gone = _narrow(d, [item], lambda _, t: t in imaged, "do_not:")
            keep += kept
            removed += gone
    d.do_not = keep
    d.note("no-routine-imaging-do-not-beside-imaging", [Matched("red_flag", code) for code in standing], removed)


def no_glucocorticoid_do_not_beside_bridging(d: Draft) -> None:
    """A bridging glucocorticoid never stands beside a glucocorticoid do-not for the same condition."""
    policy = d.policy
    bridged = {t for rec in d.recommendations if rec.code in policy.glucocorticoid_treatments for t in rec.for_}
    if not bridged:
        return
    d.do_not, removed = _narrow(d, d.do_not, lambda item, t: item.code in policy.glucocorticoid_do_nots
                                and t in bridged, "do_not:")
    d.note("no-glucocorticoid-do-not-beside-bridging", [], removed)


def red_flag_warning(d: Draft) -> None:
    """pathways.md §0: a red flag adds the warning `red_flag` for it."""
    rf = d.policy.red_flag_warning
    if rf is None or not d.red_flags:
        return
    rank = d.policy.urgency_rank
    flags = sorted(d.red_flags, key=lambda f: (rank[f.urgency], f.code))
    texts = list(dict.fromkeys(rf.messages.get(f.code, rf.fallback) for f in flags))
    given = d.warnings.get(rf.warning)  # a rule's own words for a flag (a Kocher count) follow the flags' messages
    if given is not None:
        texts.append(given.message)
    message = Text(" ".join(t.en for t in texts), " ".join(t.nl for t in texts))
    d.warn(rf.warning, message, [f.code for f in flags], "policy.red-flag-warning")
    d.warnings[rf.warning] = evolve(d.warnings[rf.warning], message=message)
    d.note("red-flag-warning", [Matched("red_flag", f.code, f.urgency) for f in flags], [f"warning:{rf.warning}"])


def safety_net(d: Draft) -> None:
    """pathways.md, Safety net: no condition and no red flag -> `no_pathway_matched` and safety-netting."""
    net = d.policy.safety_net
    if net is None or d.red_flags or d.conditions:
        return
    message = net.message_with_work_up if d.recommendations else net.message_alone
    spec = resources.vocabulary()["recommendations"][net.recommend]
    d.warn(net.warning, message, (), "policy.safety-net")
    d.add(Recommendation(code=net.recommend, kind=spec["kind"], category=spec.get("category"), urgency=net.urgency,
                         for_=(), rationale=net.rationale, rules=("policy.safety-net",), sources=net.sources,
                         step=LAST_STEP,
                         contributions=(Contribution("policy.safety-net", (), net.rationale, net.sources, net.urgency),),
                         label=labels.label("recommendations", net.recommend)))
    d.note("safety-net", [], [f"warning:{net.warning}", f"recommend:{net.recommend}:{net.urgency}"])


PIPELINE = (
    study_already_done,
    failed_trial_not_repeated,
    bans,
    red_flag_withholds_treatment,
    urgent_flag_advice,
    treated_only_without_flag,
    nsaid_contraindicated,
    nsaid_dropped_by_age,
    nsaid_safety_check,
    nsaid_caution,
    no_routine_imaging_beside_imaging,
    no_glucocorticoid_do_not_beside_bridging,
    red_flag_warning,
    safety_net,
)
