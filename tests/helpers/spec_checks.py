"""The result-level rules of pathways.md that every test checks the same way ("Conflicts a result must
never hold"). The clinical codes they involve come from the shipped knowledge base's policy
(rules/knowledge_base.yaml), the same data the engine's policies apply; what each check means is written
here again, from the spec, so that a policy bug shows."""

from __future__ import annotations

import functools

import yaml

from cdss import resources
from cdss.kb.policy import ClinicalPolicy, from_manifest


@functools.cache
def shipped_policy() -> ClinicalPolicy:
    path = resources.DEFAULT_RULES_DIR / "knowledge_base.yaml"
    return from_manifest(yaml.safe_load(path.read_text(encoding="utf-8")))


def _asserted(result: dict) -> set[str]:
    """The derived facts the rules asserted (from the trace)."""
    return {token[5:] for entry in result["trace"] for token in entry["asserted"] if token.startswith("fact:")}


def conflicts(result: dict, policy: ClinicalPolicy | None = None) -> list[str]:
    """pathways.md, 'Conflicts a result must never hold', each as one readable line."""
    policy = policy or shipped_policy()
    found = []
    recs, do_not = result["recommendations"], result["do_not"]
    flags = {f["code"]: f for f in result["red_flags"]}
    imaging_do_not = policy.imaging.do_not
    imaged = {t for r in recs if r["kind"] == "imaging" for t in r["for"]}
    for item in do_not:
        if item["code"] == imaging_do_not and set(item["for"]) & imaged:
            found.append(f"imaging recommended beside do_not {imaging_do_not} for {set(item['for']) & imaged}")
    bridged = {t for r in recs if r["code"] in policy.glucocorticoid_treatments for t in r["for"]}
    for item in do_not:
        if item["code"] in policy.glucocorticoid_do_nots and set(item["for"]) & bridged:
            found.append(f"bridging glucocorticoid beside do_not {item['code']} for {set(item['for']) & bridged}")
    # "other than a red flag's own": the own treatment of any red flag that stands, not only of the
    # emergency one (a suspected septic joint keeps its antibiotics beside suspected cauda equina:
    # cases/regressions/reg-emergency-flag-keeps-other-red-flags-own-treatment.json).
    if any(f["urgency"] == "emergency" for f in flags.values()):
        for rec in recs:
            if rec["kind"] == "treatment" and not set(rec["for"]) & set(flags):
                found.append(f"treatment {rec['code']} (for {rec['for']}) beside an emergency red flag")
    for ban in policy.bans:  # infection: injections, NSAIDs, glucocorticoids; malignancy: injections
        standing = sorted(set(ban.flags) & set(flags))
        if not standing:
            continue
        for rec in recs:
            if rec["kind"] == "treatment" and ban.bans(rec["code"], rec.get("category")):
                found.append(f"{rec['code']} beside {standing}")
        for item in do_not:
            if item["code"] in ban.do_nots:
                found.append(f"do_not {item['code']} beside {standing}")
    asserted = _asserted(result)
    rest = dict(policy.withholding.withheld_under)
    for flag, by_code in policy.withholding.withheld_under_when.items():
        for code, fact in by_code.items():
            if fact in asserted:
                rest[code] = tuple(rest.get(code, ())) + (flag,)
    for rec in recs:
        if rec["kind"] == "treatment" and set(rest.get(rec["code"], ())) & set(flags):
            found.append(f"{rec['code']} beside {sorted(set(rest[rec['code']]) & set(flags))}")
    if policy.nsaid.contraindicated_fact in asserted and any(r["code"] == policy.nsaid.oral for r in recs):
        found.append(f"{policy.nsaid.oral} while NSAIDs are contraindicated")
    if not result["red_flags"] and not result["conditions"] and not result["warnings"]:
        found.append("no red flag, no condition and no warning: an empty result")
    return found
