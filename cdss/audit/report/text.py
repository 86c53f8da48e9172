"""The audit as a terminal report: the rules (or what the corpus reached), the findings, the summary last."""

from __future__ import annotations

import textwrap
from collections import Counter

from cdss.audit.findings import SEVERITIES
from cdss.audit.run import AuditReport

WIDTH = 110
LISTED = 100  # case ids listed before "... and N more"


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False, break_long_words=False) or [indent]


def to_text(report: AuditReport, verbose: bool = False) -> str:
    lines: list[str] = []
    kb = report.knowledge_base
    identity = (f"knowledge base {kb['version']} (sha256 {kb['sha256'][:12]}; profiles {', '.join(kb['profiles'])})"
                if kb else "rule base does not load")
    cov = report.coverage
    title = "cdss audit coverage" if cov is not None else "cdss audit rules"
    lines += [f"{title}: {report.rules_dir}, {identity}", ""]
    if cov is not None:
        lines += _coverage_sections(report, verbose)
    else:
        lines += ["Rules by pathway", f"  {'pathway':<20} {'rules':>6} {'reachable':>10}"]
        for name, item in sorted(report.pathways.items()):
            lines.append(f"  {name:<20} {item['rules']:>6} {item['reachable']:>10}")
        lines.append("")
    lines += _findings_section(report, verbose)
    lines += _summary(report)
    return "\n".join(lines)


def _coverage_sections(report: AuditReport, verbose: bool) -> list[str]:
    cov = report.coverage
    out = ["Rules (fired: evaluations in which the rule fired; cases: distinct case ids, its positive tests; "
           "near misses: cases that expect it absent and get that; branches: alternatives that were a reason)"]
    out.append(f"  {'rule':<52} {'fired':>6} {'cases':>6} {'near misses':>12} {'branches':>9}")
    for pathway in sorted(report.pathways):
        out.append(f"  [{pathway}]")
        for rule in report.rules:
            if rule.pathway != pathway:
                continue
            r = cov.rules[rule.id]
            branches = f"{sum(1 for b in r.branches if b.covered)}/{len(r.branches)}" if r.branches else "-"
            mark = "  NEVER FIRED" if not r.fired else ""
            out.append(f"  {rule.id:<52} {r.fired:>6} {len(r.case_ids):>6} {len(set(r.negative)):>12} "
                       f"{branches:>9}{mark}")
    out.append("")
    never = [r.id for r in cov.rules.values() if not r.fired]
    out += ["Rules that never fired"] + (_wrap(", ".join(never)) if never else ["  none"]) + [""]
    uncovered = sorted(((r, b) for r in cov.rules.values() for b in r.branches if not b.covered),
                       key=lambda rb: (rb[0].file, rb[1].line))
    out.append(f"Branches never the reason a rule fired ({len(uncovered)} of {cov.branches_total})")
    for r, b in uncovered[: None if verbose else 40]:
        out.append(f"  {r.id} (line {b.line}): {b.label}")
    if not verbose and len(uncovered) > 40:
        out.append(f"  ... and {len(uncovered) - 40} more (--verbose lists all)")
    if not uncovered:
        out.append("  none")
    out.append("")
    out.append("Cases reaching each status, per pathway")
    out.append(f"  {'pathway':<20} {'rules fired':>12} {'branches':>12} {'tested':>8} {'suspected':>10} "
               f"{'probable':>9} {'confirmed':>10}")
    for name, p in sorted(cov.pathways.items()):
        cases = p["cases"]
        out.append(f"  {name:<20} {p['rules_fired']:>5}/{p['rules']:<6} {p['branches_covered']:>5}/{p['branches']:<6} "
                   f"{p['tested']:>3}/{p['rules']:<4} {cases.get('suspected', '-'):>10} {cases.get('probable', '-'):>9} "
                   f"{cases.get('confirmed', '-'):>10}")
    out.append("")
    out.append("Cases reaching each status, per condition and red flag")
    for code, item in cov.conditions.items():
        out.append(f"  {code:<36} suspected {item['suspected']:>4}  probable {item['probable']:>4}  "
                   f"confirmed {item['confirmed']:>4}")
    for code, item in cov.red_flags.items():
        out.append(f"  {code:<36} suspected {item['suspected']:>4}  {'':>14}confirmed {item['confirmed']:>4}")
    out.append("")
    codes = cov.codes
    out.append(f"Contract codes: {codes['produced']} of {codes['total']} produced by the corpus, "
               f"{codes['producible']} producible by some rule")
    for name, entry in codes["lists"].items():
        if entry["unproducible"]:
            out += _wrap(f"{name}: no rule can produce: {', '.join(entry['unproducible'])}")
        if entry["never_produced"]:
            out += _wrap(f"{name}: never produced: {', '.join(entry['never_produced'])}")
    out.append("")
    out.append(f"Cases that fell through every pathway (no condition, no red flag): {len(cov.fell_through)}")
    shown = cov.fell_through if verbose else cov.fell_through[:LISTED]
    if shown:
        more = f" ... and {len(cov.fell_through) - len(shown)} more (--verbose, or --format json)" \
            if len(shown) < len(cov.fell_through) else ""
        out += _wrap(", ".join(shown) + more)
    out.append("")
    out.append("Rules whose conclusions always came from another rule too (candidates for removal)")
    out += _wrap(", ".join(cov.shadowed)) if cov.shadowed else ["  none"]
    out.append("")
    if cov.case_errors:
        out.append(f"Cases that could not be evaluated: {len(cov.case_errors)}")
        out += [f"  {message}" for _, message in cov.case_errors[:20]]
        out.append("")
    return out


def _findings_section(report: AuditReport, verbose: bool) -> list[str]:
    shown = [f for f in report.findings if verbose or f.severity != "info"]
    if report.coverage is not None and not verbose:
        shown = [f for f in shown if f.check != "branch-not-covered"]
    out = [f"Findings ({len(report.findings)})"]
    for finding in shown:
        out += _wrap(finding.describe())
    listed = {id(f) for f in shown}  # by identity: comparing findings pairwise was quadratic
    hidden = Counter(f.check for f in report.findings if id(f) not in listed)
    if hidden:
        out += _wrap("not listed: " + ", ".join(f"{n} {check}" for check, n in sorted(hidden.items()))
                     + " (--verbose lists them)")
    if not report.findings:
        out.append("  none")
    out.append("")
    return out


def _summary(report: AuditReport) -> list[str]:
    counts = report.counts
    out = ["Summary"]
    reachable = sum(p["reachable"] for p in report.pathways.values())
    files = len(report.pathways)
    out.append(f"  rules:      {len(report.rules)} in {files} file{'' if files == 1 else 's'}, {reachable} reachable")
    cov = report.coverage
    if cov is not None:
        failed = f", {len(cov.case_errors)} could not be" if cov.case_errors else ""
        others = "".join(f", {n} not run (they expect profile {p})" for p, n in sorted(cov.other_profile.items()))
        out.append(f"  cases:      {cov.cases} evaluated{failed}{others}")
        out.append(f"  fired:      {cov.rules_fired} of {len(cov.rules)} rules ({_pct(cov.rules_fired, len(cov.rules))})")
        out.append(f"  branches:   {cov.branches_covered} of {cov.branches_total} alternatives were a reason "
                   f"({_pct(cov.branches_covered, cov.branches_total)})")
        out.append(f"  codes:      {cov.codes['produced']} of {cov.codes['total']} contract codes produced "
                   f"({cov.codes['producible']} producible)")
        out.append(f"  fell through: {len(cov.fell_through)} case(s)")
        under = f" (fail under {report.fail_under:g}%)" if report.fail_under is not None else ""
        unlabelled = "" if cov.labelled else " (no case of the corpus has an `expected` block)"
        out.append(f"  tested:     {cov.test_coverage_percent:.1f}% of rules have a case that fires them and a near "
                   f"miss{under}{unlabelled}")
    out.append("  findings:   " + ", ".join(f"{counts[s]} {s}{'s' if counts[s] != 1 and s != 'info' else ''}"
                                          for s in SEVERITIES))
    out.append(f"  time:       {report.elapsed_seconds:.2f} s ({report.static_seconds:.2f} s reasoning over the rules, "
               f"{report.queries} solver questions)")
    verdict = "OK" if report.ok else "FAILED"
    reasons = []
    if counts["error"]:
        reasons.append(f"{counts['error']} error finding(s)")
    if not report.test_coverage_ok:
        reasons.append(f"test coverage {report.coverage.test_coverage_percent:.1f}% is under {report.fail_under:g}%")
    out.append(f"  result:     {verdict}" + (f" ({'; '.join(reasons)})" if reasons else ""))
    return out
