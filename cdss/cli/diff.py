"""`cdss diff --base OLD [--rules NEW] [CASES...]`: whose advice a rule change changes, and how.

OLD and NEW are rule folders or git revisions of the rules folder (`--base HEAD`, `--base HEAD~1`,
`--base v0.1.0`). The work is in `cdss.diff`; this module only reads options and writes the report.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cdss.cli.options import (ENGINE, EXIT_CODES, JOBS, PROFILE, check_verbosity, config_default, default_cases, emit,
                              existing_paths, jobs_or_cores, verbosity)


def _fail_on(ctx, param, values) -> tuple[str, ...]:
    from cdss.diff.compare import CHANGE_TYPES, select
    chosen: set[str] = set()
    for value in values:
        for word in value.split(","):
            if not word.strip():
                continue
            try:
                chosen |= select(word)
            except ValueError as error:
                raise click.BadParameter(str(error)) from None
    return tuple(kind for kind in CHANGE_TYPES if kind in chosen)


def _epilog() -> str:
    return ("\b\nChange types (--fail-on takes any of them, a group such as red_flag, or any; comma-separated "
            "or repeated):\n" + "\n".join(
                f"  {kind}" for kind in ("red_flag_added", "red_flag_removed", "red_flag_urgency_changed",
                                         "red_flag_status_changed", "condition_added", "condition_removed",
                                         "condition_status_changed", "recommendation_added",
                                         "recommendation_removed", "recommendation_urgency_changed",
                                         "recommendation_for_changed", "do_not_added", "do_not_removed",
                                         "warning_added", "warning_removed", "evaluation_error"))
            + "\n\n" + EXIT_CODES + " 1 also when a --fail-on change occurs or a case cannot be read.")


@click.command("diff", epilog=_epilog())
@click.argument("paths", nargs=-1, metavar="[CASES...]")
@click.option("--base", "base", required=True, metavar="OLD",
              help="The rule base before the change: a rule folder or a git revision of the rules folder "
                   "(HEAD, HEAD~1, v0.1.0, a commit).")
@click.option("--rules", "new", default=config_default("rules"), metavar="NEW",
              show_default="the rules folder (CDSS_RULES, the config file, or the shipped one)",
              help="The rule base after the change: a rule folder or a git revision.")
@PROFILE
@JOBS
@ENGINE
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True,
              help="html: one self-contained page that works offline.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report here instead of standard output.")
@click.option("--show", "show", multiple=True, metavar="CASE_ID",
              help="Show this case's two results side by side, with the rules behind each difference "
                   "(repeatable; 'all' for every changed case).")
@click.option("--fail-on", "fail_on", multiple=True, callback=_fail_on, metavar="CHANGE-TYPES",
              help="Exit 1 when any case has one of these changes (e.g. red_flag_removed, or red_flag for any "
                   "red flag change).")
@verbosity
def diff_command(paths, base, new, profile, jobs, engine, fmt, output, show, fail_on, quiet, verbose) -> None:
    """Evaluate the cases (default: cases/) under two versions of the rule base and report whose advice
    changes: how many cases changed; per change type the count and example case ids; per rule whose
    firing changed, on how many cases; and, for the cases asked for with --show, both results side by
    side with the rules behind each difference (-v: every changed case and every rule)."""
    from cdss import resources
    from cdss.batch.progress import Progress
    from cdss.diff.run import Settings, run
    from cdss.io import inputs
    check_verbosity(quiet, verbose)
    paths = tuple(paths) or (str(default_cases()),)
    existing_paths(paths)
    rules_folder = Path(new) if new is not None and Path(new).is_dir() else resources.DEFAULT_RULES_DIR
    wanted = None if "all" in show else frozenset(show)
    settings = Settings(paths=paths, base=base, new=str(new) if new is not None else None, rules_folder=rules_folder,
                        profile=profile, jobs=jobs_or_cores(jobs), show=wanted, fail_on=fail_on,
                        engine=engine)
    # A live bar on a terminal only: a log gets the report, not progress lines.
    progress = Progress(inputs.count(inputs.find(list(paths))), sys.stderr, enabled=not quiet and sys.stderr.isatty())
    from cdss.diff.sources import SourceError
    try:
        report = run(settings, progress.update)
    except SourceError as error:
        raise click.BadParameter(str(error)) from None
    progress.finish()
    if fmt == "json":
        import json
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        from cdss.diff.html import render
        text = render(report)
    else:
        from cdss.cli.colour import for_stdout, plain
        from cdss.diff.text import to_text
        text = to_text(report, verbose, for_stdout() if output is None else plain)
    emit(text, output, None if quiet else f"wrote {output}")
    if not quiet and fmt != "text":
        click.echo(f"{report.changed} of {report.cases} cases changed", err=True)
    sys.exit(0 if report.ok else 1)
