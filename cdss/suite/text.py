"""`cdss test` as text: one line per failing case with its differences, the summary last (as pytest)."""

from __future__ import annotations

from cdss.suite.run import ERROR, FAIL, PASS, SKIP, TestReport


def _plain(role: str, text: str) -> str:
    return text


def to_text(report: TestReport, verbose: bool = False, paint=_plain) -> str:
    lines = []
    for outcome in report.outcomes:
        if outcome.status == FAIL:
            lines.append(f"{paint('fail', 'FAIL')} {outcome.case_id} ({outcome.where}): " + "; ".join(outcome.differences))
        elif outcome.status == ERROR:
            lines.append(f"{paint('fail', 'ERROR')} {outcome.where}: {outcome.message}")
        elif verbose and outcome.status == PASS:
            lines.append(f"{paint('pass', 'PASS')} {outcome.case_id} ({outcome.where})")
        elif verbose and outcome.status == SKIP:
            lines.append(f"SKIP {outcome.case_id} ({outcome.where}): {outcome.message}")
    coverage = report.coverage
    if coverage is not None:
        if lines:
            lines.append("")
        verdict = ""
        if coverage.threshold is not None:
            verdict = f" (threshold {coverage.threshold:g} %: {'ok' if coverage.ok else 'FAIL'})"
            verdict = paint("pass" if coverage.ok else "fail", verdict)
        lines.append(f"coverage: {len(coverage.tested)} of {len(coverage.rules)} rules ({coverage.percent:.1f} %) "
                     f"have a firing case and a near miss{verdict}")
        data = coverage.to_dict()
        for label, key in (("no case fires", "without_firing_case"), ("no near miss", "without_near_miss")):
            missing = data[key]
            if missing:
                shown = missing if verbose else missing[:10]
                more = f", ... ({len(missing) - len(shown)} more; -v for all)" if len(shown) < len(missing) else ""
                lines.append(f"  {label}: {', '.join(shown)}{more}")
    if lines:
        lines.append("")
    summary = report.summary()
    lines.append(paint("pass" if report.ok else "fail", summary))
    return "\n".join(lines) + "\n"
