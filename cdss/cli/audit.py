"""`cdss audit rules` and `cdss audit coverage CASES...`: thin commands over `cdss.audit`.

Exit codes: 0 when the audit passes, 1 when it finds an error (or test coverage is under --fail-under),
2 for a usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cdss import audit
from cdss.cli.options import AUDIT_PROFILE, PROFILES

RULES = click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Audit this rule folder instead of the shipped one.")
CASES_DIR = click.option("--cases", "cases_dir", type=click.Path(file_okay=False, path_type=Path),
                         default=audit.DEFAULT_CASES_DIR, show_default=True,
                         help="Where the must-fire and must-not-fire cases of each rule live.")
FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
HTML = click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                    help="Also write the report as one self-contained HTML page.")
VERBOSE = click.option("-v", "--verbose", is_flag=True, help="List info findings and every uncovered branch too.")


@click.group("audit")
def audit_group() -> None:
    """Audit the rule base: what a corpus of cases reaches, and what is wrong with the rules themselves."""


def _emit(report: audit.AuditReport, fmt: str, html_path: Path | None, verbose: bool) -> None:
    if html_path is not None:
        audit.write_html(report, html_path)
        click.echo(f"wrote {html_path}", err=True)
    click.echo(audit.to_json(report) if fmt == "json" else audit.to_text(report, verbose))
    sys.exit(0 if report.ok else 1)


@audit_group.command("rules")
@RULES
@CASES_DIR
@FORMAT
@HTML
@VERBOSE
@AUDIT_PROFILE
def audit_rules_command(rules_dir, cases_dir, fmt, html_path, verbose, profile) -> None:
    """Check the rule base without running cases: duplicate ids, unknown fields and facts, unreachable rules
    (across chains), conflicts one case can trigger, redundant rules, threshold gaps and overlaps, missing
    sources or Dutch text, and rules without must-fire and must-not-fire cases."""
    _emit(audit.audit_rules(rules_dir, cases_dir, profiles=(profile,) if profile else PROFILES), fmt, html_path,
          verbose)


@audit_group.command("coverage")
@click.argument("paths", nargs=-1, required=True, metavar="CASES...")
@RULES
@CASES_DIR
@FORMAT
@HTML
@VERBOSE
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Fail when fewer than PCT% of the rules have a case that fires them and a near miss.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes that evaluate the cases [default: all cores].")
@AUDIT_PROFILE
def audit_coverage_command(paths, rules_dir, cases_dir, fmt, html_path, verbose, fail_under, jobs, profile) -> None:
    """Evaluate the cases (files or folders; *.json, *.jsonl) and report what they reach: rules fired,
    branches, statuses per pathway and condition, codes, cases that fell through, and test coverage.

    Each case runs in the guideline profile its expectations name (expected.profile; absent: nice)."""
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise click.BadParameter(f"no such file or folder: {', '.join(missing)}", param_hint="CASES")
    import os
    report = audit.audit_coverage(list(paths), rules_dir, cases_dir, fail_under, jobs or os.cpu_count() or 1,
                                  profiles=(profile,) if profile else PROFILES)
    if report.coverage.cases == 0 and not report.coverage.case_errors:
        if report.coverage.other_profile:
            raise click.ClickException(f"no case under {', '.join(paths)} expects the {profile} profile "
                                       "(expected.profile; absent: nice)")
        raise click.ClickException("no case files found under " + ", ".join(paths))
    _emit(report, fmt, html_path, verbose)
