"""`cdss evaluate`: one case, as a clinician reads it or as the result object."""

from __future__ import annotations

from pathlib import Path

import click

from cdss.cli.options import AS_OF, INPUT, LANG, PROFILE, RULES, fail, load_rules
from cdss.engine import evaluate
from cdss.errors import CaseError
from cdss.io import cases, render
from cdss.model import ErrorResult


@click.command("evaluate")
@click.argument("case_path", metavar="CASE")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--explain", is_flag=True, help="Show the full chain of rules and facts behind each item.")
@INPUT
@AS_OF
@LANG
@PROFILE
@RULES
def evaluate_command(case_path: str, fmt: str, explain: bool, input_format: str, as_of, lang: str, profile: str,
                     rules_dir: Path | None) -> None:
    """Evaluate one case file (or - for standard input); with --input fhir, one FHIR Bundle."""
    kb = load_rules(rules_dir, profile)
    try:
        if input_format == "fhir":
            from cdss.fhir import bundles
            mapped = bundles.read_path(case_path, as_of.date() if as_of else None)
        else:
            case = cases.read_case(case_path)
    except CaseError as error:
        if fmt == "json":
            click.echo(render.to_json(ErrorResult(None, kb.identity, error.file, error.pointer, error.message), lang))
        fail(str(error))
    result = bundles.evaluate(mapped, kb) if input_format == "fhir" else evaluate(case, kb)
    if fmt == "json":
        click.echo(render.to_json(result, lang))
    else:
        click.echo(render.to_text(result, kb, lang, explain))
