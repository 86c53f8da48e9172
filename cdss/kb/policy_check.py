"""The manifest's policy codes checked against the contract's vocabulary and the rules.

The schema checks the manifest's shape; this checks what it names: a misspelt flag or treatment in a ban
would make the ban silently never apply, and a fact no rule asserts would do the same to an NSAID rule.
"""

from __future__ import annotations

from typing import Iterator, Mapping

from cdss import resources


def policy_problems(manifest: Mapping, asserted_facts: set[str]) -> Iterator[tuple[str, str]]:
    """(JSON pointer into the manifest, what is wrong) for every code or fact it names that does not exist."""
    if not isinstance(manifest, Mapping):
        return
    vocab = resources.vocabulary()
    recs = vocab["recommendations"]
    kinds = {
        "treatment": {code for code, spec in recs.items() if spec.get("kind") == "treatment"},
        "recommendation": set(recs),
        "condition": set(vocab["conditions"]),
        "red flag": set(vocab["red_flags"]),
        "do-not": set(vocab["do_not"]),
        "category": set(vocab.get("treatment_categories", ())),
        "study": set(vocab.get("imaging_studies", ())),
        "warning": set(vocab.get("warnings", ())),
    }

    def check(where: str, kind: str, codes) -> Iterator[tuple[str, str]]:
        known = kinds[kind]
        if kind == "warning" and not known:
            return  # a vocabulary without warning codes checks none
        for code in ([codes] if isinstance(codes, str) else codes or ()):
            if code not in known:
                yield where, f"{code!r} is not a {kind} code of the contract"

    def fact(where: str, name) -> Iterator[tuple[str, str]]:
        if name is not None and name not in asserted_facts:
            yield where, f"fact {name!r} is asserted by no rule"

    m = manifest
    yield from check("/failed_trial/min_weeks_by_treatment", "treatment",
                     (m.get("failed_trial") or {}).get("min_weeks_by_treatment") or {})
    for key, codes in (m.get("never_used_up") or {}).items():
        if key != "all":
            yield from check("/never_used_up", "condition", key)
        yield from check(f"/never_used_up/{key}", "treatment", codes)
    yield from check("/condition_joints", "condition", m.get("condition_joints") or {})
    gluco = m.get("glucocorticoids") or {}
    yield from check("/glucocorticoids/treatments", "treatment", gluco.get("treatments"))
    yield from check("/glucocorticoids/do_nots", "do-not", gluco.get("do_nots"))
    for name, ban in (m.get("bans") or {}).items():
        yield from check(f"/bans/{name}/flags", "red flag", ban.get("flags"))
        yield from check(f"/bans/{name}/treatments", "treatment", ban.get("treatments"))
        yield from check(f"/bans/{name}/categories", "category", ban.get("categories"))
        yield from check(f"/bans/{name}/do_nots", "do-not", ban.get("do_nots"))
    w = m.get("withholding") or {}
    yield from check("/withholding/warning", "warning", w.get("warning"))
    for urgency, codes in (w.get("keep") or {}).items():
        yield from check(f"/withholding/keep/{urgency}", "treatment", codes)
    for code, flags in (w.get("withheld_under") or {}).items():
        yield from check("/withholding/withheld_under", "treatment", code)
        yield from check(f"/withholding/withheld_under/{code}", "red flag", flags)
    for flag, by_code in (w.get("withheld_under_when") or {}).items():
        yield from check("/withholding/withheld_under_when", "red flag", flag)
        for code, name in by_code.items():
            yield from check(f"/withholding/withheld_under_when/{flag}", "treatment", code)
            yield from fact(f"/withholding/withheld_under_when/{flag}/{code}", name)
    for condition, flags in (w.get("treated_only_without") or {}).items():
        yield from check("/withholding/treated_only_without", "condition", condition)
        yield from check(f"/withholding/treated_only_without/{condition}", "red flag", flags)
    advice = w.get("urgent_flag_advice") or {}
    yield from check("/withholding/urgent_flag_advice/recommend", "recommendation", advice.get("recommend"))
    missing = set(advice.get("recommend") or ()) ^ set(advice.get("rationale") or {})
    for code in sorted(missing):
        yield "/withholding/urgent_flag_advice/rationale", f"{code!r} needs a rationale, and only a recommended code has one"
    im = m.get("imaging") or {}
    yield from check("/imaging/do_not", "do-not", im.get("do_not"))
    yield from check("/imaging/withheld_by_flags", "red flag", im.get("withheld_by_flags") or {})
    for flag, study in (im.get("emergency_studies") or {}).items():
        yield from check("/imaging/emergency_studies", "red flag", flag)
        yield from check(f"/imaging/emergency_studies/{flag}/study", "study", study.get("study"))
    n = m.get("nsaid") or {}
    yield from check("/nsaid/oral", "treatment", n.get("oral"))
    for part in ("contraindicated", "caution", "status_unknown", "oral_dropped"):
        section = n.get(part) or {}
        yield from fact(f"/nsaid/{part}/fact", section.get("fact"))
        yield from check(f"/nsaid/{part}/warning", "warning", section.get("warning", ()))
        yield from check(f"/nsaid/{part}/recommend", "recommendation", section.get("recommend", ()))
        yield from check(f"/nsaid/{part}/for", "condition", section.get("for", ()))
    rf = m.get("red_flag_warning") or {}
    yield from check("/red_flag_warning/warning", "warning", rf.get("warning", ()))
    yield from check("/red_flag_warning/messages", "red flag", rf.get("messages") or {})
    net = m.get("safety_net") or {}
    yield from check("/safety_net/warning", "warning", net.get("warning", ()))
    yield from check("/safety_net/recommend", "recommendation", net.get("recommend", ()))
