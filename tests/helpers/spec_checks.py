"""The result-level rules of pathways.md that every test checks the same way."""

from __future__ import annotations


def conflicts(result: dict) -> list[str]:
    """pathways.md, 'Conflicts a result must never hold', each as one readable line."""
    found = []
    imaged = {t for r in result["recommendations"] if r["kind"] == "imaging" for t in r["for"]}
    for item in result["do_not"]:
        if item["code"] == "routine_imaging" and set(item["for"]) & imaged:
            found.append(f"imaging recommended beside do_not routine_imaging for {set(item['for']) & imaged}")
    bridged = {t for r in result["recommendations"] if r["code"] == "bridging_glucocorticoid" for t in r["for"]}
    for item in result["do_not"]:
        if item["code"] in ("oral_corticosteroids", "long_term_glucocorticoids") and set(item["for"]) & bridged:
            found.append(f"bridging_glucocorticoid beside do_not {item['code']} for {set(item['for']) & bridged}")
    # "other than a red flag's own": the own treatment of any red flag that stands, not only of the
    # emergency one (a suspected septic joint keeps its antibiotics beside suspected cauda equina:
    # cases/regressions/reg-emergency-flag-keeps-other-red-flags-own-treatment.json).
    flags = {f["code"] for f in result["red_flags"]}
    if any(f["urgency"] == "emergency" for f in result["red_flags"]):
        for rec in result["recommendations"]:
            if rec["kind"] == "treatment" and not set(rec["for"]) & flags:
                found.append(f"treatment {rec['code']} (for {rec['for']}) beside an emergency red flag")
    return found
