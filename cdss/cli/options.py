"""Options and helpers that several commands share, defined once."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cdss.errors import CdssError

LANG = click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
                    help="Language of every text a person reads.")
PROFILES = ("nice", "nhg")  # cdss.model.PROFILES, not imported: the CLI's cold start stays small


def profile_option(default: str | None = "nice", help: str | None = None):
    """--profile: the guideline profile a command evaluates with (pathways.md, "Guideline profile")."""
    return click.option(
        "--profile", type=click.Choice(PROFILES), default=default, show_default=default is not None,
        help=help or "Guideline profile: nice (NICE guidelines) or nhg (Dutch general practice, "
                     "NHG-Standaarden); named in every result as knowledge_base.profile.")


PROFILE = profile_option()
# The audit judges every profile unless told to judge one.
AUDIT_PROFILE = profile_option(None, "Judge this guideline profile only [default: every profile, nice and nhg].")
RULES = click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Use this rule folder instead of the shipped one.")
INPUT = click.option("--input", "input_format", type=click.Choice(["json", "fhir"]), default="json", show_default=True,
                     help="json: cases as the contract writes them; fhir: FHIR R4 Bundles (files or NDJSON) or a "
                          "Bulk Data export folder, mapped to cases by cdss/data/fhir_mapping.yaml.")
AS_OF = click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                     help="FHIR input: the evaluation date that ages are computed at (default: the Bundle's "
                          "timestamp, else today).")


def fail(message: str) -> None:
    """One line on stderr and exit 1: how every command reports bad input."""
    click.echo(f"cdss: error: {message}", err=True)
    sys.exit(1)


def load_rules(rules_dir: Path | None, profile: str = "nice"):
    """The knowledge base of a rule folder (the shipped one by default) for one guideline profile, or exit 1
    naming the problem."""
    from cdss.kb.loader import load
    try:
        return load(rules_dir, profile=profile)
    except CdssError as error:
        fail(f"rules: {error}")
