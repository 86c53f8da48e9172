"""The knowledge base's clinical policy, read once from `rules/knowledge_base.yaml`.

pathways.md defines some clinical knowledge for the result as a whole rather than for one pathway: what
counts as a failed treatment trial, the urgency order, which treatments a red flag withholds or bans, the
NSAID safety rules, the safety net. Each is declared once, as data, in the manifest; this module turns it
into frozen attrs objects that the result-level policies (`cdss.engine.policies`), the trial tests of the
rule conditions, the durable-rules driver, the audit and the tests all read. No other module spells a
clinical code list or threshold of its own.
"""

from __future__ import annotations

import functools
from typing import Mapping

from attrs import field, frozen

from cdss.model import Text

DEFAULT_URGENCY_ORDER = ("emergency", "urgent", "soon", "routine")


def _text(data) -> Text | None:
    return Text(data["en"], data["nl"]) if isinstance(data, dict) else None


def _codes(data) -> tuple[str, ...]:
    return tuple(data or ())


@frozen
class TrialDefinition:
    """pathways.md "A failed trial": a response in `failing_responses` after at least the treatment's minimum
    number of weeks. A shorter trial is still running: neither failed nor to be recommended again. Some
    treatments need longer (DMARDs: 12 weeks) or fail on any poor response (`pmr_glucocorticoid`: 0)."""

    min_weeks: float = 4
    failing_responses: tuple[str, ...] = ("none", "partial")
    min_weeks_by_treatment: Mapping[str, float] = field(factory=dict)

    def limit(self, code: str, override: float | None = None) -> float:
        """The weeks from which a trial of `code` can count as failed (a rule may override it)."""
        if override is not None:
            return override
        return self.min_weeks_by_treatment.get(code, self.min_weeks)

    def failed(self, trial: Mapping, override: float | None = None) -> bool:
        return trial["response"] in self.failing_responses and trial["weeks"] >= self.limit(trial["code"], override)

    def running(self, trial: Mapping, override: float | None = None) -> bool:
        return trial["weeks"] < self.limit(trial["code"], override)

    def used_up(self, trial: Mapping) -> bool:
        """Failed or still running: not to be recommended again (unless never used up)."""
        return self.failed(trial) or self.running(trial)


@frozen
class Ban:
    """While any of `flags` stands (at one of `urgencies`, or any), these recommendations and do-nots are
    kept out of the result, whichever rule gave them (pathways.md §0.2 and §0.4)."""

    name: str
    flags: tuple[str, ...]
    treatments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    do_nots: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def bans(self, code: str, category: str | None) -> bool:
        return code in self.treatments or (category is not None and category in self.categories)


@frozen
class Withholding:
    """pathways.md §0, Withholding: what a standing red flag keeps out of the result."""

    # urgency -> the treatments other pathways may still give while a flag of that urgency stands; an
    # urgency not listed withholds nothing.
    keep: Mapping[str, tuple[str, ...]] = field(factory=dict)
    # A treatment kept under `keep` is still withheld under these flags (any urgency) ...
    withheld_under: Mapping[str, tuple[str, ...]] = field(factory=dict)
    # ... or under these flags once a derived fact holds (flag -> treatment -> fact).
    withheld_under_when: Mapping[str, Mapping[str, str]] = field(factory=dict)
    # Conditions whose treatment rules run only while none of these flags stands: a standing flag then
    # keeps their treatment out as surely as withholding does (crystal arthritis beside joint infection).
    treated_only_without: Mapping[str, tuple[str, ...]] = field(factory=dict)
    # Each flag of this urgency adds these recommendations for itself.
    advice_urgency: str = "urgent"
    advice: tuple[str, ...] = ()
    advice_rationale: Mapping[str, Text] = field(factory=dict)
    sources: tuple[str, ...] = ()
    message: Text | None = None


@frozen
class EmergencyStudy:
    """A red flag's emergency study, recommended again although done unless it shows the flag's finding."""

    flag: str
    study: str
    finding: str


@frozen
class ImagingPolicy:
    do_not: str = "routine_imaging"
    withheld_beside_flag_imaging: bool = False  # a flag with imaging of its own keeps the do-not out
    # flag -> urgencies at which the flag keeps `do_not` out of the result (beside any flag whose own
    # work-up includes imaging, and the bans)
    withheld_by_flags: Mapping[str, tuple[str, ...]] = field(factory=dict)
    emergency_studies: tuple[EmergencyStudy, ...] = ()


@frozen
class NsaidPolicy:
    """pathways.md, Ladders, NSAID safety."""

    oral: str = "oral_nsaid_with_ppi"
    contraindicated_fact: str | None = None
    contraindicated_warning: str = "nsaid_contraindicated"
    caution_fact: str | None = None
    caution_warning: str = "nsaid_caution"
    status_unknown_fact: str | None = None
    safety_check: str | None = None
    dropped_fact: str | None = None  # a derived fact (age 75 or over) that drops the oral NSAID ...
    dropped_for: tuple[str, ...] = ()  # ... for these conditions
    sources: tuple[str, ...] = ()
    contraindicated_message: Text | None = None
    caution_message: Text | None = None
    safety_check_rationale: Text | None = None
    dropped_rationale: Text | None = None


@frozen
class SafetyNet:
    """pathways.md, Safety net: a result with no condition and no red flag."""

    warning: str = "no_pathway_matched"
    recommend: str = "safety_netting"
    urgency: str = "routine"
    rationale: Text | None = None
    message_alone: Text | None = None
    message_with_work_up: Text | None = None
    sources: tuple[str, ...] = ()


@frozen
class RedFlagWarning:
    """pathways.md §0: every red flag adds the warning `red_flag` for it, with a message of its own."""

    warning: str = "red_flag"
    messages: Mapping[str, Text] = field(factory=dict)
    fallback: Text | None = None


@frozen
class ClinicalPolicy:
    urgency_order: tuple[str, ...] = DEFAULT_URGENCY_ORDER
    trials: TrialDefinition = TrialDefinition()
    never_used_up: Mapping[str, tuple[str, ...]] = field(factory=dict)
    condition_joints: Mapping[str, str] = field(factory=dict)
    glucocorticoid_treatments: tuple[str, ...] = ()
    glucocorticoid_do_nots: tuple[str, ...] = ()
    bans: tuple[Ban, ...] = ()
    withholding: Withholding = Withholding()
    imaging: ImagingPolicy = ImagingPolicy()
    nsaid: NsaidPolicy = NsaidPolicy()
    safety_net: SafetyNet | None = None
    red_flag_warning: RedFlagWarning | None = None
    treatment_withheld: str = "treatment_withheld"

    @functools.cached_property
    def urgency_rank(self) -> dict[str, int]:
        return {urgency: rank for rank, urgency in enumerate(self.urgency_order)}

    def never_used_up_for(self, code: str, condition: str) -> bool:
        return code in self.never_used_up.get("all", ()) or code in self.never_used_up.get(condition, ())

    def facts_read(self) -> tuple[str, ...]:
        """The derived facts the policies read (so that the audit counts them as used)."""
        names = [self.nsaid.contraindicated_fact, self.nsaid.caution_fact, self.nsaid.status_unknown_fact,
                 self.nsaid.dropped_fact]
        names += [fact for by_code in self.withholding.withheld_under_when.values() for fact in by_code.values()]
        return tuple(sorted({n for n in names if n}))

    def codes_made(self) -> dict[str, tuple[str, ...]]:
        """Codes the policies themselves add to a result: recommendations and warnings."""
        recs = list(self.withholding.advice)
        if self.nsaid.safety_check:
            recs.append(self.nsaid.safety_check)
        if self.safety_net:
            recs.append(self.safety_net.recommend)
        warnings = [self.treatment_withheld]
        if self.nsaid.contraindicated_fact:
            warnings.append(self.nsaid.contraindicated_warning)
        if self.nsaid.caution_fact:
            warnings.append(self.nsaid.caution_warning)
        if self.safety_net:
            warnings.append(self.safety_net.warning)
        if self.red_flag_warning:
            warnings.append(self.red_flag_warning.warning)
        return {"recommendations": tuple(dict.fromkeys(recs)), "warnings": tuple(dict.fromkeys(warnings))}


def from_manifest(manifest: Mapping) -> ClinicalPolicy:
    """The policy as the (schema-checked) manifest declares it; a section left out has nothing to do."""
    m = manifest if isinstance(manifest, Mapping) else {}
    trial = m.get("failed_trial") or {}
    trials = TrialDefinition(
        min_weeks=trial.get("min_weeks", 4),
        failing_responses=_codes(trial.get("failing_responses", ("none", "partial"))),
        min_weeks_by_treatment=dict(trial.get("min_weeks_by_treatment") or {}))
    gluco = m.get("glucocorticoids") or {}
    bans = tuple(Ban(name=name, flags=_codes(b.get("flags")), treatments=_codes(b.get("treatments")),
                     categories=_codes(b.get("categories")), do_nots=_codes(b.get("do_nots")),
                     sources=_codes(b.get("sources")))
                 for name, b in (m.get("bans") or {}).items())
    w = m.get("withholding") or {}
    advice = w.get("urgent_flag_advice") or {}
    withholding = Withholding(
        keep={u: _codes(codes) for u, codes in (w.get("keep") or {}).items()},
        withheld_under={code: _codes(flags) for code, flags in (w.get("withheld_under") or {}).items()},
        withheld_under_when={flag: dict(by_code) for flag, by_code in (w.get("withheld_under_when") or {}).items()},
        treated_only_without={c: _codes(flags) for c, flags in (w.get("treated_only_without") or {}).items()},
        advice_urgency=advice.get("urgency", "urgent"),
        advice=_codes(advice.get("recommend")),
        advice_rationale={code: _text(text) for code, text in (advice.get("rationale") or {}).items()},
        sources=_codes(w.get("sources")), message=_text(w.get("message")))
    im = m.get("imaging") or {}
    imaging = ImagingPolicy(
        do_not=im.get("do_not", "routine_imaging"),
        withheld_beside_flag_imaging=bool(im.get("withheld_beside_flag_imaging", False)),
        withheld_by_flags={flag: _codes(us) for flag, us in (im.get("withheld_by_flags") or {}).items()},
        emergency_studies=tuple(EmergencyStudy(flag, s["study"], s["finding"])
                                for flag, s in (im.get("emergency_studies") or {}).items()))
    n = m.get("nsaid") or {}
    contra, caution = n.get("contraindicated") or {}, n.get("caution") or {}
    unknown, dropped = n.get("status_unknown") or {}, n.get("oral_dropped") or {}
    nsaid = NsaidPolicy(
        oral=n.get("oral", "oral_nsaid_with_ppi"),
        contraindicated_fact=contra.get("fact"), contraindicated_warning=contra.get("warning", "nsaid_contraindicated"),
        contraindicated_message=_text(contra.get("message")),
        caution_fact=caution.get("fact"), caution_warning=caution.get("warning", "nsaid_caution"),
        caution_message=_text(caution.get("message")),
        status_unknown_fact=unknown.get("fact"), safety_check=unknown.get("recommend"),
        safety_check_rationale=_text(unknown.get("rationale")),
        dropped_fact=dropped.get("fact"), dropped_for=_codes(dropped.get("for")),
        dropped_rationale=_text(dropped.get("rationale")), sources=_codes(n.get("sources")))
    net = m.get("safety_net")
    safety_net = None if not net else SafetyNet(
        warning=net.get("warning", "no_pathway_matched"), recommend=net.get("recommend", "safety_netting"),
        urgency=net.get("urgency", "routine"), rationale=_text(net.get("rationale")),
        message_alone=_text(net.get("message_alone")), message_with_work_up=_text(net.get("message_with_work_up")),
        sources=_codes(net.get("sources")))
    rf = m.get("red_flag_warning")
    red_flag_warning = None if not rf else RedFlagWarning(
        warning=rf.get("warning", "red_flag"),
        messages={flag: _text(t) for flag, t in (rf.get("messages") or {}).items()}, fallback=_text(rf.get("fallback")))
    return ClinicalPolicy(
        urgency_order=tuple(m.get("urgency_order") or DEFAULT_URGENCY_ORDER), trials=trials,
        never_used_up={k: _codes(v) for k, v in (m.get("never_used_up") or {}).items()},
        condition_joints=dict(m.get("condition_joints") or {}),
        glucocorticoid_treatments=_codes(gluco.get("treatments")), glucocorticoid_do_nots=_codes(gluco.get("do_nots")),
        bans=bans, withholding=withholding, imaging=imaging, nsaid=nsaid, safety_net=safety_net,
        red_flag_warning=red_flag_warning, treatment_withheld=w.get("warning", "treatment_withheld"))
