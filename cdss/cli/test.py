"""`cdss test [PATH...]`: the shipped (or given) cases as tests of the rules, as `opa test` and `pytest`.

The work is in `cdss.suite`; this module reads options and writes the report. `cdss batch --check` keeps
working as before: it writes every result, this command answers "do the rules still do what the cases
expect?".
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from cdss.cli.options import (ENGINE, EXIT_CODES, JOBS, PROFILE, RULES, check_verbosity, default_cases, emit,
                              existing_paths, jobs_or_cores, verbosity)


def _regex(ctx, param, value):
    if value is None:
        return None
    try:
        re.compile(value)
    except re.error as error:
        raise click.BadParameter(f"not a regular expression: {error}") from None
    return value


@click.command("test", epilog=EXIT_CODES + " 1 also when coverage is under --threshold.")
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.option("--run", "pattern", default=None, callback=_regex, metavar="REGEX",
              help="Only the cases whose id, or a rule they pin (rules_fired, rules_not_fired), matches REGEX.")
@click.option("--coverage", is_flag=True,
              help="Also report the rules with a firing case and a near miss (a case that expects the rule "
                   "not to fire); with --run, only the rules whose id matches.")
@click.option("--threshold", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="With --coverage: fail when fewer than PCT % of the rules are covered.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True,
              help="junit: JUnit XML for CI systems.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report here instead of standard output.")
@RULES
@PROFILE
@JOBS
@ENGINE
@verbosity
def test_command(paths, pattern, coverage, threshold, fmt, output, rules_dir, profile, jobs, engine, quiet,
                 verbose) -> None:
    """Run the cases with an `expected` block (files, folders, JSONL; default: cases/) as tests: one line
    per failing case with its differences, then `N passed, N failed` (-v: every case; exit 1 on any
    failure)."""
    from cdss.batch.progress import Progress
    from cdss.cli.options import load_rules
    from cdss.io import inputs
    from cdss.suite.run import run
    check_verbosity(quiet, verbose)
    if threshold is not None and not coverage:
        raise click.UsageError("--threshold needs --coverage")
    paths = list(paths) or [str(default_cases())]
    existing_paths(paths, "PATH")
    load_rules(rules_dir, profile, engine)  # a rule base that does not load (or build): one line, exit 1
    progress = Progress(inputs.count(inputs.find(paths)), sys.stderr, enabled=not quiet and sys.stderr.isatty())
    report = run(paths, str(rules_dir) if rules_dir else None, profile, jobs_or_cores(jobs), pattern, coverage,
                 threshold, progress.update, engine)
    progress.finish()
    if not report.outcomes:
        raise click.ClickException("no cases found under " + ", ".join(paths)
                                   + (f" matching --run {pattern!r}" if pattern else ""))
    if fmt == "json":
        import json
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "junit":
        from cdss.suite.junit import to_junit
        text = to_junit(report)
    else:
        from cdss.cli.colour import for_stdout, plain
        from cdss.suite.text import to_text
        text = to_text(report, verbose, for_stdout() if output is None else plain)
    emit(text, output, None if quiet else report.summary())
    sys.exit(0 if report.ok else 1)
