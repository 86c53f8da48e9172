"""`cdss validate`: check cases against the contract without evaluating them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cdss.cli.options import (AS_OF, EXIT_CODES, INPUT, RULES, check_verbosity, fail, load_rules, output_format,
                              verbosity)
from cdss.errors import CaseError
from cdss.io import cases


@click.command("validate", epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, required=True, metavar="CASE...")
@output_format("text", "json", help="json: one object with the counts and every invalid case.")
@INPUT
@AS_OF
@RULES
@verbosity
def validate_command(paths: tuple[str, ...], fmt: str, input_format: str, as_of, rules_dir: Path | None,
                     quiet: bool, verbose: bool) -> None:
    """Check case files, folders (*.json, *.jsonl) or - (JSONL on stdin) against the case contract, and
    that the rules load. With --input fhir: FHIR Bundles (.json, .ndjson) and Bulk Data export folders,
    each checked as FHIR R4 and as the case it maps to.

    Each invalid case is one line on standard error naming the file (and line), the field and the
    problem; -v also lists every valid case; -q prints only the invalid ones.
    """
    check_verbosity(quiet, verbose)
    load_rules(rules_dir)
    if input_format == "fhir":
        from cdss.fhir import bundles, sources as inputs

        def check(item) -> None:
            bundles.read(item.raw, item.source, item.line, as_of.date() if as_of else None)
    else:
        from cdss.io import inputs
        validator = cases.Validator(fast=True)

        def check(item) -> None:
            validator.case(cases.decode(item.raw, item.source), item.source, item.line)
    total = 0
    invalid: list[dict] = []
    for item in inputs.items(list(paths)):
        total += 1
        where = item.where
        try:
            if item.problem is not None:
                raise CaseError(item.source, "", item.problem)
            check(item)
        except CaseError as error:
            invalid.append({"file": item.source, "line": item.line, "pointer": error.pointer or "/",
                            "message": error.message})
            if fmt == "text":
                click.echo(f"{where}: {error.pointer or '/'}: {error.message}", err=True)
            continue
        if verbose and fmt == "text":
            click.echo(f"{where}: ok")
    if total == 0:
        fail("no cases found under " + ", ".join(paths))
    if fmt == "json":
        click.echo(json.dumps({"cases": total, "valid": total - len(invalid), "invalid": invalid}, indent=2,
                              ensure_ascii=False))
    elif not quiet:
        click.echo(f"{total - len(invalid)} of {total} cases valid")
    if invalid:
        sys.exit(1)
