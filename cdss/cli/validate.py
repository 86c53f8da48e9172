"""`cdss validate`: check cases against the contract without evaluating them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cdss.cli.options import AS_OF, INPUT, RULES, fail, load_rules
from cdss.errors import CaseError
from cdss.io import cases


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, metavar="CASE...")
@INPUT
@AS_OF
@RULES
def validate_command(paths: tuple[str, ...], input_format: str, as_of, rules_dir: Path | None) -> None:
    """Check case files, folders (*.json, *.jsonl) or - (JSONL on stdin) against the case contract, and
    that the rules load. With --input fhir: FHIR Bundles (.json, .ndjson) and Bulk Data export folders,
    each checked as FHIR R4 and as the case it maps to."""
    load_rules(rules_dir)
    if input_format == "fhir":
        from cdss.fhir import bundles, sources as inputs

        def check(item) -> None:
            bundles.read(item.raw, item.source, item.line, as_of.date() if as_of else None)
    else:
        from cdss.io import inputs

        def check(item) -> None:
            cases.case_from_dict(cases.decode(item.raw, item.source), item.source, item.line)
    bad = total = 0
    for item in inputs.items(list(paths)):
        total += 1
        where = item.source if item.line is None else f"{item.source}:{item.line}"
        try:
            if item.problem is not None:
                raise CaseError(item.source, "", item.problem)
            check(item)
        except CaseError as error:
            bad += 1
            click.echo(f"{where}: {error.pointer or '/'}: {error.message}", err=True)
    if total == 0:
        fail("no cases found under " + ", ".join(paths))
    click.echo(f"{total - bad} of {total} cases valid")
    if bad:
        sys.exit(1)
