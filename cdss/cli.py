"""The `cdss` command. Each command is thin: it reads input, calls evaluate(), and prints.

Exit codes: 0 ok, 1 invalid input or a failed check, 2 usage error. Errors are one line on stderr,
never a traceback (set CDSS_DEBUG=1 to see one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import __version__, cases, knowledge, render
from .engine import evaluate
from .errors import CaseError, CdssError
from .model import ErrorResult

LANG = click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
                    help="Language of every text a person reads.")
RULES = click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Use this rule folder instead of the shipped one.")


def _load(rules_dir: Path | None) -> knowledge.KnowledgeBase:
    try:
        return knowledge.load(rules_dir)
    except CdssError as error:
        _fail(f"rules: {error}")


def _fail(message: str) -> None:
    click.echo(f"cdss: error: {message}", err=True)
    sys.exit(1)


class _Group(click.Group):
    """Turns any unexpected exception into one line (a traceback only with CDSS_DEBUG=1), and imports the
    synth and audit commands only when they are asked for: together they are a third of the package,
    and `cdss evaluate` on one case should not pay for loading them."""

    lazy = {"synth": ("cdss.synth_cli", "synth_command"), "audit": ("cdss.audit_cli", "audit_group")}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy and name not in self.commands:
            import importlib
            module, attribute = self.lazy[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except CdssError as error:
            _fail(str(error))
        except Exception as error:  # pragma: no cover - last line of defence
            if os.environ.get("CDSS_DEBUG"):
                raise
            _fail(f"internal error: {type(error).__name__}: {error}")


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="cdss")
def main() -> None:
    """Clinical decision support for adults whose hip and knee hurt at the same time.

    Decision support, not diagnosis: every output is advice for a clinician to weigh.
    """


@main.command("evaluate")
@click.argument("case_path", metavar="CASE")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--explain", is_flag=True, help="Show the full chain of rules and facts behind each item.")
@LANG
@RULES
def evaluate_command(case_path: str, fmt: str, explain: bool, lang: str, rules_dir: Path | None) -> None:
    """Evaluate one case file (or - for standard input)."""
    kb = _load(rules_dir)
    try:
        case = cases.read_case(case_path)
    except CaseError as error:
        if fmt == "json":
            click.echo(render.to_json(ErrorResult(None, kb.identity, error.file, error.pointer, error.message), lang))
        _fail(str(error))
    result = evaluate(case, kb)
    if fmt == "json":
        click.echo(render.to_json(result, lang))
    else:
        click.echo(render.to_text(result, kb, lang, explain))


@main.command("validate")
@click.argument("paths", nargs=-1, required=True, metavar="CASE...")
@RULES
def validate_command(paths: tuple[str, ...], rules_dir: Path | None) -> None:
    """Check case files, folders (*.json, *.jsonl) or - (JSONL on stdin) against the case contract, and
    that the rules load."""
    from . import inputs
    _load(rules_dir)
    bad = total = 0
    for item in inputs.items(list(paths)):
        total += 1
        where = item.source if item.line is None else f"{item.source}:{item.line}"
        try:
            if item.problem is not None:
                raise CaseError(item.source, "", item.problem)
            cases.case_from_data(cases.decode(item.raw, item.source), item.source, item.line)
        except CaseError as error:
            bad += 1
            click.echo(f"{where}: {error.pointer or '/'}: {error.message}", err=True)
    if total == 0:
        _fail("no cases found under " + ", ".join(paths))
    click.echo(f"{total - bad} of {total} cases valid")
    if bad:
        sys.exit(1)


@main.group("rules")
def rules_group() -> None:
    """Inspect the rule base."""


@rules_group.command("list")
@RULES
@LANG
def rules_list(rules_dir: Path | None, lang: str) -> None:
    """One line per rule: id, status, title."""
    kb = _load(rules_dir)
    for rule in kb.rules:
        click.echo(f"{rule.id:<48} {rule.status:<7} {rule.title.pick(lang)}")
    click.echo(f"{len(kb.rules)} rules, knowledge base {kb.identity.version} (sha256 {kb.identity.sha256})")


@rules_group.command("show")
@click.argument("rule_id")
@RULES
@LANG
def rules_show(rule_id: str, rules_dir: Path | None, lang: str) -> None:
    """Show one rule as written in its file."""
    kb = _load(rules_dir)
    rule = kb.by_id.get(rule_id)
    if rule is None:
        from difflib import get_close_matches
        close = get_close_matches(rule_id, kb.by_id, n=1)
        _fail(f"no rule {rule_id!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
    click.echo(f"{rule.id} ({rule.status}) - {rule.title.pick(lang)}")
    click.echo(f"file: {rule.file}:{rule.line}")
    click.echo(f"sources: {'; '.join(rule.sources)}")
    click.echo(f"rationale: {rule.rationale.pick(lang)}")
    click.echo("concludes: " + ", ".join(rule.describe_conclusions()))
    click.echo("as written:")
    click.echo(_rule_text(rule))


def _rule_text(rule: knowledge.Rule) -> str:
    """The rule's own lines from its file (from its '- id:' line up to the next rule)."""
    lines = Path(rule.file).read_text(encoding="utf-8").splitlines()
    start = rule.line - 1
    end = start + 1
    while end < len(lines) and not lines[end].lstrip().startswith("- id:"):
        end += 1
    return "\n".join(lines[start:end]).rstrip()


@main.command("batch")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write results here instead of standard output.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="jsonl: one result object per line; csv: one flattened row per case.")
@click.option("--check", is_flag=True, help="Compare each case's `expected` with its result; exit 1 on any difference.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: all cores).")
@click.option("--executor", type=click.Choice(["local", "dask", "inline"]), default="local", show_default=True,
              help="local: a process pool; dask: a dask.distributed cluster (pip install 'cdss[dask]'); "
                   "inline: this process only.")
@click.option("--scheduler", default=None, help="The dask scheduler's address (with --executor dask).")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary on stderr.")
@click.option("--resume", is_flag=True, help="Continue into -o FILE after an interrupted run.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the summary as JSON to this file instead of printing it.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=None, hidden=True)
@LANG
@RULES
def batch_command(paths, output, fmt, check, jobs, executor, scheduler, quiet, resume, summary_path, chunk_size,
                  lang, rules_dir) -> None:
    """Evaluate many cases: files, folders (recursively *.json and *.jsonl) and - (JSONL on stdin).

    One output line per input case, in input order, whatever the parallelism: a result or an error
    record. Progress on stderr; the summary last.
    """
    from . import batch
    from .batchwork import Options
    if executor == "dask" and not scheduler:
        raise click.UsageError("--executor dask needs --scheduler ADDRESS")
    kb = _load(rules_dir)
    settings = batch.Settings(
        paths=list(paths), rules_dir=str(rules_dir) if rules_dir else None, output=output,
        options=Options(lang=lang, fmt=fmt, check=check), jobs=jobs or os.cpu_count() or 1, executor=executor,
        scheduler=scheduler, quiet=quiet, resume=resume, summary_path=summary_path, chunk_size=chunk_size)
    sys.exit(batch.run(settings, kb))


if __name__ == "__main__":  # pragma: no cover
    main()
