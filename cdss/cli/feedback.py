"""`cdss feedback`: what clinicians did with the service's cards (the work is in cdss.service.report)."""

from __future__ import annotations

from pathlib import Path

import click

from cdss.cli.options import EXIT_CODES, check_verbosity, fail, verbosity


@click.group("feedback", epilog=EXIT_CODES)
def feedback_group() -> None:
    """The CDS Hooks service's feedback: cards shown, accepted and overridden, per rule."""


@feedback_group.command("report", epilog=EXIT_CODES)
@click.option("--db", default="cdss-feedback.sqlite", show_default=True,
              help="The feedback store `cdss serve --db` wrote: a SQLite file or a postgresql:// URL.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report here instead of standard output.")
@verbosity
def report_command(db: str, fmt: str, output: Path | None, quiet: bool, verbose: bool) -> None:
    """Per rule and per card kind: shown, accepted, overridden, the override reasons, and the rules whose
    override rate stands out."""
    check_verbosity(quiet, verbose)
    from cdss.service import report
    from cdss.service.store import Store, StoreError, safe_name

    if "://" not in db and not Path(db).is_file():
        fail(f"{db}: no feedback store there (cdss serve --db writes one)")
    try:
        store = Store(db)
        if store.version() == 0:
            fail(f"{safe_name(db)}: not a cdss feedback store (no schema version)")
        data = report.build(store.rows())
        store.close()
    except StoreError as error:
        fail(str(error))
    except Exception as error:  # the database's own errors (unreachable server, locked file)
        fail(f"{safe_name(db)}: cannot read the feedback store: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
    rendered = {"text": report.text, "json": report.to_json, "html": report.to_html}[fmt](data)
    if output is None:
        click.echo(rendered, nl=False)
    else:
        try:
            output.write_text(rendered, encoding="utf-8")
        except OSError as error:
            fail(f"{output}: cannot write: {error.strerror or error}")
