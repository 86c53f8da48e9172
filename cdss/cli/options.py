"""Options and helpers that every command shares, defined once so that every command behaves alike.

- Exit codes, the same for every command: 0 ok; 1 findings, failed checks or invalid input; 2 usage error
  (a bad option, a missing argument, an unusable config file); 3 internal error (a bug in cdss: please
  report it, with CDSS_DEBUG=1 for the traceback); 130 Ctrl-C and 143 SIGTERM (the command stops as
  cleanly as it can); 141 when the reader of standard output went away (`| head`), quietly.
- `-q/--quiet` (nothing on standard error but errors) and `-v/--verbose` (more detail), on every command.
- `--rules`, `--lang`, `--jobs` and (once profiles exist) `--profile` take their defaults from the
  environment, then from `[tool.cdss]` in pyproject.toml or a cdss.toml in the working folder (config.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from cdss.cli import config
from cdss.errors import CdssError

OK, FAILED, USAGE, INTERNAL = 0, 1, 2, 3
INTERRUPTED, PIPE_CLOSED, TERMINATED = 130, 141, 143  # 128 + SIGINT, SIGPIPE, SIGTERM, as shells expect

EXIT_CODES = ("Exit codes: 0 ok; 1 findings, failed checks or invalid input; 2 usage error; "
              "3 internal error; 130 Ctrl-C; 143 SIGTERM; 141 when the reader of the output went away.")

ENVIRONMENT = {
    "CDSS_RULES": "default rule folder (--rules)",
    "CDSS_PROFILE": "default profile: nice or nhg",
    "CDSS_LANG": "default language: en or nl (--lang)",
    "CDSS_JOBS": "default number of worker processes (--jobs)",
    "CDSS_HOME": "a folder with schemas/ and rules/ to use instead of the installed ones",
    "CDSS_CACHE": "where the rule cache lives (validated and read rule files); 'off' for none",
    "CDSS_DEBUG": "1: show the traceback of an internal error",
    "NO_COLOR": "any value: no colour, even on a terminal",
}


def _default(key: str, fallback=None):
    """A click default that is read when the command runs: environment, then config file, then fallback."""
    def read():
        try:
            return config.default(key, fallback)
        except config.ConfigError as error:
            raise click.UsageError(str(error)) from None
    return read


LANG = click.option("--lang", type=click.Choice(["en", "nl"]), default=_default("lang", "en"),
                    show_default="en, or CDSS_LANG, or the config file",
                    help="Language of every text a person reads.")
PROFILES = ("nice", "nhg")  # cdss.model.PROFILES, not imported: the CLI's cold start stays small


def profile_option(default: str | None = "nice", help: str | None = None):
    """--profile: the guideline profile a command evaluates with (pathways.md, "Guideline profile"). A
    default of "nice" means: CDSS_PROFILE, then the config file, then nice."""
    configured = default == "nice"
    return click.option(
        "--profile", type=click.Choice(PROFILES), default=_default("profile", "nice") if configured else default,
        show_default="nice, or CDSS_PROFILE, or the config file" if configured else False,
        help=help or "Guideline profile: nice (NICE guidelines) or nhg (Dutch general practice, "
                     "NHG-Standaarden); named in every result as knowledge_base.profile.")


PROFILE = profile_option()
# The audit judges every profile unless told to judge one.
AUDIT_PROFILE = profile_option(None, "Judge this guideline profile only [default: every profile, nice and nhg].")
RULES = click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path),
                     default=_default("rules"), show_default="the shipped rules, or CDSS_RULES, or the config file",
                     help="Use this rule folder instead of the shipped one.")
INPUT = click.option("--input", "input_format", type=click.Choice(["json", "fhir"]), default="json", show_default=True,
                     help="json: cases as the contract writes them; fhir: FHIR R4 Bundles (files or NDJSON) or a "
                          "Bulk Data export folder, mapped to cases by cdss/data/fhir_mapping.yaml.")
AS_OF = click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                     help="FHIR input: the evaluation date that ages are computed at (default: the Bundle's "
                          "timestamp, else today).")
JOBS = click.option("-j", "--jobs", type=click.IntRange(min=1), default=_default("jobs"),
                    help="Worker processes [default: all cores, or CDSS_JOBS, or the config file].")
QUIET = click.option("-q", "--quiet", is_flag=True, help="Nothing on standard error but errors.")
VERBOSE = click.option("-v", "--verbose", is_flag=True, help="More detail.")


def verbosity(func):
    """-q/--quiet and -v/--verbose, the same on every command (they cannot be used together)."""
    return QUIET(VERBOSE(func))


def check_verbosity(quiet: bool, verbose: bool) -> None:
    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose cannot be used together")


def output_format(*choices: str, default: str = "text", help: str | None = None):
    """`--format` with the given choices (stored as `fmt`)."""
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default, show_default=True,
                        help=help)


def default_cases() -> Path:
    """The cases a command reads when given none: `cases/` in the working folder, else the shipped ones."""
    here = Path("cases")
    if here.is_dir():
        return here
    from cdss import resources
    return resources.HOME / "cases"


def config_default(key: str, fallback=None):
    """A click default read when the command runs (environment, config file, fallback), for options that
    cannot use the shared ones (a --rules that also takes a git revision)."""
    return _default(key, fallback)


def profile_default() -> str:
    """The profile a command runs when none is given: CDSS_PROFILE, then the config file, then nice."""
    return config.default("profile", "nice")


def jobs_or_cores(jobs: int | None) -> int:
    import os
    return jobs or os.cpu_count() or 1


def fail(message: str, code: int = FAILED) -> NoReturn:
    """One line on stderr and exit (1 by default): how every command reports bad input."""
    click.echo(f"cdss: error: {message}", err=True)
    sys.exit(code)


def internal_error(error: BaseException) -> NoReturn:
    """A bug in cdss, not in the input: one line and exit 3."""
    fail(f"internal error: {type(error).__name__}: {error} (set CDSS_DEBUG=1 for the traceback)", INTERNAL)


ENGINE = click.option("--engine", type=click.Choice(["durable", "direct"]), default="durable", show_default=True,
                      help="durable: durable-rules, the reference engine; direct: the same compiled rules "
                           "evaluated without it (byte-identical results, faster).")


def load_rules(rules_dir: Path | None, profile: str = "nice", engine: str = "durable"):
    """The knowledge base of a rule folder (the shipped one by default) for one guideline profile, compiled
    and built for `engine` (so a rule base that cannot build is refused here, with the rule that broke
    it), or exit 1 naming the problem. The built evaluator is the process's own (cdss.engine.EVALUATORS):
    evaluating reuses it."""
    import gc

    from cdss.engine import evaluator_for
    from cdss.kb.loader import load
    # The rule base is tens of thousands of long-lived objects and no garbage: the cyclic collector,
    # triggered again and again while they are made, would only walk them (~4 % of a cold `cdss evaluate`).
    # Frozen afterwards (gc.freeze), the collector never walks them again: left young, they were walked by
    # the first collections after loading (another ~5 %) and by every full collection of a long run. The
    # price: whatever garbage is alive then is kept (a few thousand objects of attrs' class building), so
    # only the process's first rule base is frozen: a process that loads many (the tests) keeps no more.
    collecting = gc.isenabled()
    gc.disable()
    try:
        kb = load(rules_dir, profile=profile)
        evaluator_for(kb, engine)
        return kb
    except CdssError as error:
        fail(f"rules: {error}")
    finally:
        if collecting:
            if gc.get_freeze_count() == 0:  # the process's first rule base
                gc.freeze()
            gc.enable()


def existing_paths(paths, hint: str = "CASES") -> None:
    """A usage error naming every path that does not exist ('-' is standard input)."""
    missing = [p for p in paths if p != "-" and not Path(p).exists()]
    if missing:
        raise click.BadParameter(f"no such file or folder: {', '.join(missing)}", param_hint=hint)


def emit(text: str, output: Path | None, note: str | None = None) -> None:
    """A report on standard output, or written to `output` (then `note`, if any, on standard error): one
    clear error when the file cannot be written."""
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"{output}: cannot write: {error.strerror or error}") from None
    if note:
        click.echo(note, err=True)
