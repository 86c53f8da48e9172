"""`cdss evaluate`: one case, as a clinician reads it or as the result object; `--why-not CODE` asks why a
code is missing from it."""

from __future__ import annotations

from pathlib import Path

import click

from cdss.cli.options import (AS_OF, ENGINE, EXIT_CODES, INPUT, LANG, PROFILE, RULES, check_verbosity, fail,
                              load_rules, output_format, verbosity)
from cdss.engine import evaluate
from cdss.errors import CaseError
from cdss.io import cases, render
from cdss.model import ErrorResult


def _complete_code(ctx, param, incomplete):
    """Shell completion for --why-not: the contract's recommendation, condition, red flag and do-not codes."""
    from click.shell_completion import CompletionItem
    from cdss import resources
    vocab = resources.vocabulary()
    codes = sorted({code for part in ("recommendations", "conditions", "red_flags", "do_not")
                    for code in vocab.get(part, ())})
    return [CompletionItem(code) for code in codes if code.startswith(incomplete)]


@click.command("evaluate", epilog=EXIT_CODES)
@click.argument("case_path", metavar="CASE")
@output_format("text", "json")
@click.option("--explain", is_flag=True, help="Show the full chain of rules and facts behind each item.")
@click.option("--show-codes", is_flag=True,
              help="Text output: end each item (and, with --explain, each rule) with its [code].")
@click.option("--why-not", "why_not", metavar="CODE", default=None, shell_complete=_complete_code,
              help="Why the result lacks CODE (a recommendation, condition, red flag or do-not): every rule that "
                   "could conclude it, directly or through the facts it needs, with the first condition that "
                   "failed, or the policy that removed it. For a code the result holds: the --explain chain.")
@INPUT
@AS_OF
@LANG
@PROFILE
@RULES
@verbosity
@ENGINE
def evaluate_command(case_path: str, fmt: str, explain: bool, show_codes: bool, why_not: str | None, input_format: str, as_of,
                     lang: str, profile: str, rules_dir: Path | None, quiet: bool, verbose: bool, engine: str) -> None:
    """Evaluate one case file (or - for standard input); with --input fhir, one FHIR Bundle.

    -v adds the rule ids behind each item.
    """
    check_verbosity(quiet, verbose)
    kb = load_rules(rules_dir, profile, engine)
    try:
        if input_format == "fhir":
            from cdss.fhir import bundles
            mapped = bundles.read_path(case_path, as_of.date() if as_of else None)
            case = mapped.case
        else:
            case = cases.read_case(case_path)
    except CaseError as error:
        if fmt == "json":
            click.echo(render.to_json(ErrorResult(None, kb.identity, error.file, error.pointer, error.message), lang))
        fail(str(error))
    result = bundles.evaluate(mapped, kb, engine) if input_format == "fhir" else evaluate(case, kb, engine=engine)
    if why_not is not None:
        from cdss.cli.colour import for_stdout
        from cdss.cli.why_not import show
        show(case, result, kb, why_not, fmt, lang, for_stdout())
        return
    if fmt == "json":
        click.echo(render.to_json(result, lang))
    else:
        from cdss.cli.colour import for_stdout
        click.echo(render.to_text(result, kb, lang, explain, show_codes, paint=for_stdout(), show_rules=verbose))
