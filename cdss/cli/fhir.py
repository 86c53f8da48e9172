"""`cdss fhir`: the FHIR side of cdss: the Questionnaire, the mapping table, and Bundles converted to cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cdss.cli.options import AS_OF, EXIT_CODES, check_verbosity, fail, verbosity


@click.group("fhir", epilog=EXIT_CODES)
def fhir_group() -> None:
    """FHIR R4: the Questionnaire cdss asks exam findings with, the mapping, and conversion to cases."""


@fhir_group.command("questionnaire", epilog=EXIT_CODES)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the Questionnaire here instead of standard output.")
@verbosity
def questionnaire_command(output: Path | None, quiet: bool, verbose: bool) -> None:
    """Print the SDC-style Questionnaire generated from the case schema (FHIR R4 JSON): one item per case
    field, answer options from the contract's values, English and Dutch texts."""
    check_verbosity(quiet, verbose)
    from cdss.fhir import mapping, questionnaire
    text = json.dumps(questionnaire.build(mapping.shipped()), ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@fhir_group.command("mapping", epilog=EXIT_CODES)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
@verbosity
def mapping_command(fmt: str, quiet: bool, verbose: bool) -> None:
    """Print the mapping: which FHIR resource and code gives each case field."""
    check_verbosity(quiet, verbose)
    from cdss.fhir import mapping, table
    loaded = mapping.shipped()
    if fmt == "json":
        click.echo(json.dumps({"rows": table.rows(loaded), "pending_fields": list(loaded.pending)}, indent=2))
    else:
        click.echo(table.markdown(loaded), nl=False)


@fhir_group.command("convert", epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the cases (JSONL) here instead of standard output.")
@AS_OF
@verbosity
def convert_command(paths: tuple[str, ...], output: Path | None, as_of, quiet: bool, verbose: bool) -> None:
    """Read FHIR Bundles (files, NDJSON, Bulk Data export folders) and write the cases they map to, one per
    line; a bundle that cannot be a case is reported on stderr (file, element, problem) and skipped
    (-q: no count at the end; -v: a line for every input converted)."""
    check_verbosity(quiet, verbose)
    from cdss.errors import CaseError
    from cdss.fhir import bundles, sources
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    handle = open(output, "w", encoding="utf-8", newline="\n") if output else sys.stdout
    bad = total = 0
    try:
        for item in sources.items(list(paths)):
            total += 1
            try:
                if item.problem is not None:
                    raise CaseError(item.source, "", item.problem)
                mapped = bundles.read(item.raw, item.source, item.line, as_of.date() if as_of else None)
            except CaseError as error:
                bad += 1
                where = item.source if item.line is None else f"{item.source}:{item.line}"
                click.echo(f"{where}: {error.pointer or '/'}: {error.message}", err=True)
                continue
            handle.write(encode(mapped.case.data) + "\n")
            if verbose:
                click.echo(f"{item.source if item.line is None else f'{item.source}:{item.line}'}: ok", err=True)
    finally:
        if output:
            handle.close()
    if total == 0:
        fail("no FHIR inputs found under " + ", ".join(paths))
    if not quiet:
        click.echo(f"{total - bad} of {total} inputs converted", err=True)
    if bad:
        sys.exit(1)
