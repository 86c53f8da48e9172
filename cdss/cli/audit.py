"""`cdss audit rules` and `cdss audit coverage CASES...`: thin commands over `cdss.audit`.

Exit codes: 0 when the audit passes, 1 when it finds an error (or test coverage is under --fail-under),
2 for a usage error, 3 for an internal error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cdss import audit
from cdss.cli.options import (AUDIT_PROFILE, ENGINE, EXIT_CODES, JOBS, PROFILES, RULES, check_verbosity,
                              existing_paths, jobs_or_cores, verbosity)

CASES_DIR = click.option("--cases", "cases_dir", type=click.Path(file_okay=False, path_type=Path),
                         default=audit.DEFAULT_CASES_DIR, show_default=True,
                         help="Where the must-fire and must-not-fire cases of each rule live.")
FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True,
                      help="sarif: SARIF 2.1.0 for CI code-scanning views (rule ids, file:line, severity).")
FAIL_ON = click.option("--fail-on", "fail_on", type=click.Choice(["error", "warning"]), default="error",
                       show_default=True, help="Exit 1 on any finding of this severity or worse.")
HTML = click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                    help="Also write the report as one self-contained HTML page.")


def report_options(command):
    """The options both audit commands take, in the order --help lists them."""
    for option in reversed((RULES, CASES_DIR, FORMAT, HTML, FAIL_ON, verbosity)):
        command = option(command)
    return command


@click.group("audit", epilog=EXIT_CODES)
def audit_group() -> None:
    """Audit the rule base: what a corpus of cases reaches, and what is wrong with the rules themselves."""


def _emit(report: audit.AuditReport, fmt: str, html_path: Path | None, verbose: bool, quiet: bool = False,
          fail_on: str = "error") -> None:
    if html_path is not None:
        audit.write_html(report, html_path)
        if not quiet:
            click.echo(f"wrote {html_path}", err=True)
    if fmt == "sarif":
        click.echo(audit.to_sarif(report))
    else:
        click.echo(audit.to_json(report) if fmt == "json" else audit.to_text(report, verbose))
    counts = report.counts
    failed = counts["error"] > 0 or (fail_on == "warning" and counts["warning"] > 0) or not report.test_coverage_ok
    if failed and fail_on == "warning" and not counts["error"] and counts["warning"] and not quiet:
        click.echo(f"cdss: {counts['warning']} warnings (--fail-on warning)", err=True)
    sys.exit(1 if failed else 0)


@audit_group.command("rules", epilog=EXIT_CODES)
@report_options
@AUDIT_PROFILE
def audit_rules_command(rules_dir, cases_dir, fmt, html_path, fail_on, quiet, verbose, profile) -> None:
    """Check the rule base without running cases: duplicate ids, unknown fields and facts, unreachable rules
    (across chains), conflicts one case can trigger, redundant rules, threshold gaps and overlaps, missing
    sources or Dutch text, and rules without must-fire and must-not-fire cases (-v: info findings too)."""
    check_verbosity(quiet, verbose)
    _emit(audit.audit_rules(rules_dir, cases_dir, profiles=(profile,) if profile else PROFILES), fmt, html_path,
          verbose, quiet, fail_on)


@audit_group.command("coverage", epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, metavar="CASES...")
@report_options
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Fail when fewer than PCT% of the rules have a case that fires them and a near miss.")
@JOBS
@AUDIT_PROFILE
@ENGINE
def audit_coverage_command(paths, rules_dir, cases_dir, fmt, html_path, fail_on, quiet, verbose, fail_under, jobs,
                           profile, engine) -> None:
    """Evaluate the cases (files or folders; *.json, *.jsonl) and report what they reach: rules fired,
    branches, statuses per pathway and condition, codes, cases that fell through, and test coverage
    (-v: info findings and every uncovered branch too).

    Each case runs in the guideline profile its expectations name (expected.profile; absent: nice)."""
    check_verbosity(quiet, verbose)
    existing_paths(paths)
    report = audit.audit_coverage(list(paths), rules_dir, cases_dir, fail_under, jobs_or_cores(jobs),
                                  profiles=(profile,) if profile else PROFILES, engine=engine)
    if report.coverage.cases == 0 and not report.coverage.case_errors:
        if report.coverage.other_profile:
            raise click.ClickException(f"no case under {', '.join(paths)} expects the {profile} profile "
                                       "(expected.profile; absent: nice)")
        raise click.ClickException("no case files found under " + ", ".join(paths))
    _emit(report, fmt, html_path, verbose, quiet, fail_on)
