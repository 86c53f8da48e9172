"""`cdss synth`: synthetic cases as JSONL, for benchmarks and coverage hunts (the work is in cdss/synth/)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cdss.cli.options import EXIT_CODES, check_verbosity, verbosity
from cdss.synth import generate as synth


@click.command("synth", epilog=EXIT_CODES)
@click.option("--n", "n", type=click.IntRange(min=0), required=True, help="How many cases to write.")
@click.option("--seed", type=click.IntRange(0, synth.MAX_SEED), default=0, show_default=True,
              help="The stream to draw from: the same seed gives the same bytes, and --n K gives the "
                   "first K cases of --n N.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the JSONL here instead of standard output.")
@click.option("--format", "fmt", type=click.Choice(["json", "fhir"]), default="json", show_default=True,
              help="json: one case per line; fhir: the same patients as FHIR R4 Bundles, one per line (NDJSON), "
                   "with a QuestionnaireResponse for the findings EHRs rarely code.")
@verbosity
def synth_command(n: int, seed: int, output: Path | None, fmt: str, quiet: bool, verbose: bool) -> None:
    """Write N synthetic, schema-valid cases as JSONL (one case per line, no `expected`).

    A realistic primary-care mix of the pathways, a few per cent red flags, partial work-ups, treatment
    histories, and values at the rules' thresholds now and then (-q: no note on standard error; -v: the
    note says how long it took).
    """
    import time
    check_verbosity(quiet, verbose)
    started = time.monotonic()
    produced = None
    if fmt == "fhir":
        from cdss.fhir.synth import lines as fhir_lines
        produced = fhir_lines(n, seed)
    if output is not None:
        try:
            with open(output, "w", encoding="utf-8", newline="\n") as handle:
                synth.write(handle, n, seed, produced=produced)
        except OSError as error:
            raise click.ClickException(f"{output}: cannot write: {error.strerror or error}") from None
        if not quiet:
            took = f" in {time.monotonic() - started:.2f} s" if verbose else ""
            click.echo(f"{n} synthetic cases (seed {seed}) written to {output}{took}", err=True)
        return
    # A reader that stops early (`cdss synth --n 1000000 | head`) ends the command quietly with 141, as
    # every command ends on a closed pipe (cdss.cli).
    synth.write(sys.stdout, n, seed, produced=produced)
    sys.stdout.flush()
