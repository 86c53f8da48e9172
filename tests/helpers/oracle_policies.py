"""The result-level policies of pathways.md, written a second time for the differential oracle.

cdss applies them in cdss/engine/policies.py, reading the clinical policy through cdss/kb/policy.py. If
the oracle called that code too, a policy bug would be in both sides of the comparison and no test could
see it. So this module shares nothing with either: it reads `rules/knowledge_base.yaml` and the
vocabulary as plain YAML and states each policy from the text of pathways.md (Definitions, §0
Withholding, Ladders "NSAID safety", Safety net, Order of evaluation, Conflicts). It works on plain
records and gives what the differential test compares: codes, statuses, urgencies, `for`, warnings.

A recommendation is kept as its contributions (one per rule or policy that gave it, each with its own
`for` and urgency): its urgency is the most urgent contribution that still serves something in the result,
so that narrowing it to fewer targets may lower it, as "the most urgent of the rules behind it" says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STATUS_RANK = {"suspected": 1, "probable": 2, "confirmed": 3}
FLAG_STATUS_RANK = {"suspected": 1, "confirmed": 2}


@dataclass(frozen=True)
class Item:
    """One red flag, condition, recommendation, do-not or warning of the oracle's result."""

    code: str
    status: str | None = None
    urgency: str | None = None
    icd10: str | None = None
    for_: tuple = ()
    kind: str | None = None
    category: str | None = None

    def to_dict(self) -> dict:
        out = {"code": self.code}
        for key in ("status", "urgency", "icd10", "kind", "category"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["for"] = list(self.for_)
        return out


@dataclass(frozen=True)
class OracleResult:
    red_flags: tuple
    conditions: tuple
    recommendations: tuple  # sorted by code: the act order is checked apart (`act_group`)
    do_not: tuple
    warnings: tuple
    fired: tuple

    def to_dict(self) -> dict:
        """The parts of the contract's result that `expected` blocks pin (cdss/io/expectations.py)."""
        return {"red_flags": [i.to_dict() for i in self.red_flags],
                "conditions": [i.to_dict() for i in self.conditions],
                "recommendations": [i.to_dict() for i in self.recommendations],
                "do_not": [i.to_dict() for i in self.do_not],
                "warnings": [i.to_dict() for i in self.warnings],
                "trace": [{"rule": rule} for rule in self.fired]}


@dataclass
class Advice:
    """A recommendation (or do-not) while the policies shape it: its contributions are (for, urgency)."""

    code: str
    kind: str | None
    category: str | None
    for_: set
    contributions: list  # (tuple of targets, urgency)

    def urgency(self, order: list) -> str | None:
        urgencies = [u for _, u in self.contributions if u is not None]
        return min(urgencies, key=order.index) if urgencies else None


@dataclass
class Shaping:
    manifest: dict
    vocabulary: dict
    case: dict
    facts: set
    flags: dict  # code -> (status, urgency)
    conditions: dict  # code -> (status, icd10)
    recs: dict  # code -> Advice
    do_nots: dict  # code -> Advice
    warnings: dict = field(default_factory=dict)  # code -> set of targets

    @property
    def order(self) -> list:
        return list(self.manifest["urgency_order"])

    def warn(self, code: str, targets=()) -> None:
        self.warnings.setdefault(code, set()).update(targets)

    def add(self, code: str, urgency: str, targets: tuple) -> None:
        spec = self.vocabulary["recommendations"][code]
        advice = self.recs.setdefault(code, Advice(code, spec["kind"], spec.get("category"), set(), []))
        advice.for_ |= set(targets)
        advice.contributions.append((tuple(targets), urgency))


def narrow(items: dict, gone) -> bool:
    """Take from each item the targets `gone(item, target)` names (target None: an item serving nothing);
    an item left serving nothing leaves. Returns whether anything was taken."""
    changed = False
    for code in list(items):
        item = items[code]
        if not item.for_:
            if gone(item, None):
                del items[code]
                changed = True
            continue
        left = {t for t in item.for_ if not gone(item, t)}
        if left == item.for_:
            continue
        changed = True
        if not left:
            del items[code]
            continue
        kept = [c for c in item.contributions if not c[0] or set(c[0]) & left] or item.contributions
        item.for_, item.contributions = left, kept
    return changed


# -- the policies --------------------------------------------------------------------------------------

def trial_used_up(manifest: dict, trial: dict) -> bool:
    """Definitions, "A failed trial": failed, or still running (shorter than its minimum weeks)."""
    spec = manifest["failed_trial"]
    weeks = spec.get("min_weeks_by_treatment", {}).get(trial["code"], spec["min_weeks"])
    return trial["weeks"] < weeks or (trial["response"] in spec["failing_responses"] and trial["weeks"] >= weeks)


def imaging_done(s: Shaping) -> None:
    """A study already in `imaging` is not recommended again, except a red flag's emergency study that does
    not show the flag's finding."""
    done = s.case.get("imaging", {})
    studies = s.manifest["imaging"].get("emergency_studies", {})

    def gone(rec, target):
        if rec.code not in done:
            return False
        again = studies.get(target)
        if again is None or again["study"] != rec.code:
            return True
        return again["finding"] in done[rec.code].get("findings", ())

    narrow(s.recs, gone)


def failed_trials(s: Shaping) -> None:
    """A treatment used up for a condition's joint is not recommended again for it (never-used-up ones are)."""
    trials = s.case.get("treatments", [])
    never = s.manifest.get("never_used_up", {})
    joints = s.manifest.get("condition_joints", {})

    def gone(rec, target):
        if rec.kind != "treatment" or target is None or target in s.flags:
            return False
        if rec.code in never.get("all", ()) or rec.code in never.get(target, ()):
            return False
        joint = joints.get(target)
        return any(t["code"] == rec.code and (joint is None or t.get("joint", joint) == joint)
                   and trial_used_up(s.manifest, t) for t in trials)

    narrow(s.recs, gone)


def bans(s: Shaping) -> None:
    """§0.2 and §0.4: under an infection or malignancy flag the banned treatments and do-nots go entirely."""
    for ban in s.manifest.get("bans", {}).values():
        standing = [code for code in ban["flags"] if code in s.flags]
        if not standing:
            continue
        for code, rec in list(s.recs.items()):
            if rec.kind == "treatment" and (code in ban.get("treatments", ()) or rec.category in ban.get("categories", ())):
                del s.recs[code]
                if not rec.for_ or rec.for_ - set(s.flags):
                    s.warn(s.manifest["withholding"]["warning"], standing)
        for code in ban.get("do_nots", ()):
            s.do_nots.pop(code, None)


def withholding(s: Shaping) -> None:
    """§0 Withholding: an emergency flag keeps every other treatment out, an urgent one all but the listed
    harmless ones; some flags keep `stay_active` out at any urgency (one only once a fact holds)."""
    w = s.manifest["withholding"]
    pressing = [code for code, (_, urgency) in s.flags.items() if urgency in w["keep"]]
    allowed = set.intersection(*(set(w["keep"][s.flags[code][1]]) for code in pressing)) if pressing else None
    under = {code: [f for f in flags if f in s.flags] for code, flags in w.get("withheld_under", {}).items()}
    for flag, by_code in w.get("withheld_under_when", {}).items():
        for code, fact in by_code.items():
            if flag in s.flags and fact in s.facts:
                under.setdefault(code, []).append(flag)
    why: set = set()

    def gone(rec, target):
        if rec.kind != "treatment" or target in s.flags:
            return False
        reasons = [f for f in pressing if rec.code not in allowed] + under.get(rec.code, [])
        why.update(reasons)
        return bool(reasons)

    if narrow(s.recs, gone):
        s.warn(w["warning"], why)


def urgent_flag_advice(s: Shaping) -> None:
    """§0: each urgent flag adds analgesic safety advice and safety-netting for itself."""
    advice = s.manifest["withholding"]["urgent_flag_advice"]
    for code, (_, urgency) in sorted(s.flags.items()):
        if urgency == advice["urgency"]:
            for rec in advice["recommend"]:
                s.add(rec, urgency, (code,))


def treated_only_without_flag(s: Shaping) -> None:
    """§6: crystal arthritis is treated only while no joint-infection flag stands; say it is withheld."""
    w = s.manifest["withholding"]
    for condition, flags in w.get("treated_only_without", {}).items():
        standing = [f for f in flags if f in s.flags]
        if condition in s.conditions and standing:
            s.warn(w["warning"], standing)


def nsaid_safety(s: Shaping) -> None:
    """Ladders, NSAID safety: contraindicated -> no oral NSAID and a warning; 75 or over -> none for a
    crystal flare; status unknown -> a safety check beside it; caution -> a warning."""
    n = s.manifest["nsaid"]
    oral = n["oral"]
    if oral in s.recs and n["contraindicated"]["fact"] in s.facts:
        s.warn(n["contraindicated"]["warning"], s.recs.pop(oral).for_)
    dropped = n.get("oral_dropped")
    if oral in s.recs and dropped and dropped["fact"] in s.facts:
        narrow(s.recs, lambda rec, target: rec.code == oral and target in dropped["for"])
    if oral in s.recs and n["status_unknown"]["fact"] in s.facts:
        rec = s.recs[oral]
        s.add(n["status_unknown"]["recommend"], rec.urgency(s.order), tuple(sorted(rec.for_)))
    if oral in s.recs and n["caution"]["fact"] in s.facts:
        s.warn(n["caution"]["warning"], s.recs[oral].for_)


def routine_imaging_do_not(s: Shaping) -> None:
    """Definitions, "Imaging and its do-not": no routine-imaging do-not for what gets imaging; none at all
    beside a flag whose own work-up images, or under the flags the manifest names at their urgencies."""
    im = s.manifest["imaging"]
    code = im["do_not"]
    if code not in s.do_nots:
        return
    imaged = {t for rec in s.recs.values() if rec.kind == "imaging" for t in rec.for_}
    if any(urgency in im.get("withheld_by_flags", {}).get(flag, ())
           or (im.get("withheld_beside_flag_imaging") and flag in imaged)
           for flag, (_, urgency) in s.flags.items()):
        del s.do_nots[code]
        return
    narrow(s.do_nots, lambda item, target: item.code == code and target in imaged)


def glucocorticoid_conflict(s: Shaping) -> None:
    """Conflicts: a bridging glucocorticoid never stands beside a glucocorticoid do-not for one condition."""
    g = s.manifest["glucocorticoids"]
    bridged = {t for code in g["treatments"] if code in s.recs for t in s.recs[code].for_}
    narrow(s.do_nots, lambda item, target: item.code in g["do_nots"] and target in bridged)


def red_flag_warning(s: Shaping) -> None:
    rf = s.manifest.get("red_flag_warning")
    if rf and s.flags:
        s.warn(rf["warning"], s.flags)


def safety_net(s: Shaping) -> None:
    """Never an empty result: no condition and no red flag -> a warning and safety-netting (routine)."""
    net = s.manifest.get("safety_net")
    if net and not s.flags and not s.conditions:
        s.warn(net["warning"])
        s.add(net["recommend"], net["urgency"], ())


ORDER = (imaging_done, failed_trials, bans, withholding, urgent_flag_advice, treated_only_without_flag,
         nsaid_safety, routine_imaging_do_not, glucocorticoid_conflict, red_flag_warning, safety_net)


# -- from the rules' conclusions to a result ------------------------------------------------------------

def act_group(kind: str | None, for_, flags) -> int:
    """cases-and-results.md: red-flag actions, then diagnostics, then treatment, then advice."""
    if set(for_) & set(flags):
        return 0
    return {"treatment": 2, "advice": 3}.get(kind, 1)


def shape(manifest: dict, vocabulary: dict, case: dict, facts: set, conclusions: list, fired) -> OracleResult:
    """The result the policies make of the rules' conclusions ((rule order, kind, data), any order)."""
    order = list(manifest["urgency_order"])
    flags: dict = {}
    conditions: dict = {}
    classified: dict = {}
    recs: dict = {}
    do_nots: dict = {}
    warnings: dict = {}
    lead: dict = {}
    for rule_order, kind, data in sorted(conclusions, key=lambda c: c[0]):
        if kind == "red_flag":
            status, urgency = flags.get(data["code"], (data["status"], data["urgency"]))
            flags[data["code"]] = (max(status, data["status"], key=FLAG_STATUS_RANK.get),
                                   min(urgency, data["urgency"], key=order.index))
        elif kind == "condition":
            code, rank = data["code"], STATUS_RANK[data["status"]]
            if code not in lead or rank > lead[code][0]:
                lead[code] = (rank, data)
        elif kind == "classify":
            classified.setdefault(data["code"], data["icd10"])
        elif kind in ("recommend", "advise_against"):
            into = recs if kind == "recommend" else do_nots
            advice = into.setdefault(data["code"], Advice(data["code"], data.get("kind"), data.get("category"), set(), []))
            advice.for_ |= set(data.get("for", ()))
            advice.contributions.append((tuple(data.get("for", ())), data.get("urgency")))
        elif kind == "warn":
            warnings.setdefault(data["code"], set()).update(data.get("for", ()))
    for code, (_, data) in lead.items():
        icd10 = classified.get(code) or data.get("icd10") or vocabulary["conditions"][code]["default_icd10"]
        conditions[code] = (data["status"], icd10)
    s = Shaping(manifest, vocabulary, case, set(facts), flags, conditions, recs, do_nots, warnings)
    for policy in ORDER:
        policy(s)
    return OracleResult(
        red_flags=tuple(Item(code, status, urgency) for code, (status, urgency)
                        in sorted(s.flags.items(), key=lambda kv: (order.index(kv[1][1]), kv[0]))),
        conditions=tuple(Item(code, status, icd10=icd10) for code, (status, icd10)
                         in sorted(s.conditions.items(), key=lambda kv: (-STATUS_RANK[kv[1][0]], kv[0]))),
        recommendations=tuple(Item(code, urgency=rec.urgency(order), for_=tuple(sorted(rec.for_)), kind=rec.kind,
                                   category=rec.category) for code, rec in sorted(s.recs.items())),
        do_not=tuple(Item(code, for_=tuple(sorted(item.for_))) for code, item in sorted(s.do_nots.items())),
        warnings=tuple(Item(code, for_=tuple(sorted(targets))) for code, targets in sorted(s.warnings.items())),
        fired=tuple(fired))
