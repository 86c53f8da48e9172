"""`cdss batch`: many cases, in parallel, in input order, nothing lost (the work is in cdss.batch)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cdss.batch.pool import DEFAULT_CASE_TIMEOUT
from cdss.cli.options import (AS_OF, ENGINE, EXIT_CODES, INPUT, JOBS, LANG, PROFILE, RULES, check_verbosity,
                              load_rules, verbosity)


@click.command("batch", epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write results here instead of standard output (as FILE.partial until the run completes).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="jsonl: one result object per line; csv: one flattened row per case.")
@click.option("--check", is_flag=True, help="Compare each case's `expected` with its result; exit 1 on any difference.")
@JOBS
@click.option("--executor", type=click.Choice(["local", "dask", "inline"]), default="local", show_default=True,
              help="local: a process pool; dask: a dask.distributed cluster (pip install 'cdss[dask]'); "
                   "inline: this process only.")
@click.option("--scheduler", default=None, help="The dask scheduler's address (with --executor dask).")
@click.option("--case-timeout", type=click.FloatRange(min=0), default=DEFAULT_CASE_TIMEOUT, show_default=True,
              metavar="SECONDS",
              help="A case that takes longer becomes an error record and its worker is replaced (0: no limit).")
@click.option("--resume", is_flag=True, help="Continue into -o FILE after an interrupted run.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the summary as JSON to this file instead of printing it.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=None, hidden=True)
@INPUT
@AS_OF
@LANG
@PROFILE
@RULES
@verbosity
@ENGINE
def batch_command(paths, output, fmt, check, jobs, executor, scheduler, case_timeout, resume, summary_path, chunk_size,
                  input_format, as_of, lang, profile, rules_dir, quiet, verbose, engine) -> None:
    """Evaluate many cases: files, folders (recursively *.json and *.jsonl) and - (JSONL on stdin).

    One output line per input case, in input order, whatever the parallelism: a result or an error
    record. Progress on stderr; the summary last (-q: neither, only
    the one line of counts, and of --check's verdict; -v: also a PASS line for every case that
    meets its `expected` under --check).
    """
    check_verbosity(quiet, verbose)
    from cdss.batch import runner
    from cdss.batch.worker import Options
    if executor == "dask" and not scheduler:
        raise click.UsageError("--executor dask needs --scheduler ADDRESS")
    kb = load_rules(rules_dir, profile, engine)
    settings = runner.Settings(
        paths=list(paths), rules_dir=str(rules_dir) if rules_dir else None, output=output,
        options=Options(lang=lang, fmt=fmt, check=check, profile=profile, engine=engine, input_format=input_format,
                        as_of=as_of.date().isoformat() if as_of else None), jobs=jobs,
        executor=executor, scheduler=scheduler, quiet=quiet, verbose=verbose, resume=resume, summary_path=summary_path,
        chunk_size=chunk_size, case_timeout=case_timeout or None)
    try:
        code = runner.run(settings, kb, echo=lambda text: click.echo(text, err=True))
    except runner.UsageError as error:
        raise click.UsageError(str(error)) from None
    sys.exit(code)
