"""`cdss rules list|show`: the rule base as a knowledge author reads it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cdss.cli.options import (EXIT_CODES, LANG, PROFILE, PROFILES, RULES, check_verbosity, fail, load_rules,
                              output_format, verbosity)
from cdss.kb.rules import Rule


@click.group("rules", epilog=EXIT_CODES)
def rules_group() -> None:
    """Inspect the rule base."""


def _summary(rule: Rule) -> dict:
    return {"id": rule.id, "status": rule.status, "pathway": rule.pathway,
            "title": {"en": rule.title.en, "nl": rule.title.nl}, "file": rule.file, "line": rule.line,
            "concludes": rule.describe_conclusions()}


@rules_group.command("list", epilog=EXIT_CODES)
@RULES
@PROFILE
@LANG
@output_format("text", "json", help="json: the knowledge base's identity and every rule.")
@verbosity
def rules_list(rules_dir: Path | None, profile: str, lang: str, fmt: str, quiet: bool, verbose: bool) -> None:
    """One line per rule of the profile: id, status, title (-v: also its file:line and what it concludes; -q:
    ids only)."""
    check_verbosity(quiet, verbose)
    kb = load_rules(rules_dir, profile)
    if fmt == "json":
        click.echo(json.dumps({"knowledge_base": kb.identity.to_dict(), "rules": [_summary(r) for r in kb.rules]},
                              indent=2, ensure_ascii=False))
        return
    for rule in kb.rules:
        if quiet:
            click.echo(rule.id)
            continue
        click.echo(f"{rule.id:<48} {rule.status:<7} {rule.title.pick(lang)}")
        if verbose:
            click.echo(f"{'':<48} {Path(rule.file).name}:{rule.line} -> {', '.join(rule.describe_conclusions())}")
    if not quiet:
        click.echo(f"{len(kb.rules)} rules, knowledge base {kb.identity.version} (sha256 {kb.identity.sha256})")


def _complete_rule_id(ctx: click.Context, param, incomplete: str):
    """Shell completion: the rule ids of the rule folder the command line names (or the default one)."""
    from click.shell_completion import CompletionItem
    from cdss.kb.loader import load
    try:
        kb = load(ctx.params.get("rules_dir"))
    except Exception:  # completion must never print a traceback into the user's shell
        return []
    return [CompletionItem(rule.id, help=rule.title.en) for rule in kb.rules if rule.id.startswith(incomplete)]


def _users(kb, rule: Rule) -> list[str]:
    """The rules that test something this rule concludes."""
    from cdss.kb.conditions import references
    made = {c.asserts for c in rule.then if c.asserts}
    if any(kind == "red_flag" for kind, _ in made):
        made.add(("red_flag", "any"))
    return [other.id for other in kb.rules if other.id != rule.id and references(other.when) & made]


@rules_group.command("show", epilog=EXIT_CODES)
@click.argument("rule_id", shell_complete=_complete_rule_id)
@RULES
@LANG
@output_format("text", "json", help="json: the rule's fields as written, with its file and line.")
@verbosity
def rules_show(rule_id: str, rules_dir: Path | None, lang: str, fmt: str, quiet: bool, verbose: bool) -> None:
    """Show one rule as written in its file (-v: also the rules that use what it concludes; -q: only the
    rule's own lines)."""
    check_verbosity(quiet, verbose)
    kb = load_rules(rules_dir)
    for profile in PROFILES:  # a rule of another guideline profile is shown too, with that profile's users
        if rule_id in kb.by_id:
            break
        if profile != kb.identity.profile:
            other = load_rules(rules_dir, profile)
            if rule_id in other.by_id:
                kb = other
    rule = kb.by_id.get(rule_id)
    if rule is None:
        from difflib import get_close_matches
        close = get_close_matches(rule_id, kb.by_id, n=1)
        fail(f"no rule {rule_id!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
    if fmt == "json":
        out = _summary(rule)
        out.update(sources=list(rule.sources), rationale={"en": rule.rationale.en, "nl": rule.rationale.nl},
                   as_written=_rule_data(rule), used_by=_users(kb, rule))
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if not quiet:
        click.echo(f"{rule.id} ({rule.status}) - {rule.title.pick(lang)}")
        click.echo(f"file: {rule.file}:{rule.line}")
        click.echo(f"sources: {'; '.join(rule.sources)}")
        click.echo(f"rationale: {rule.rationale.pick(lang)}")
        click.echo("concludes: " + ", ".join(rule.describe_conclusions()))
        if verbose:
            click.echo("used by: " + (", ".join(_users(kb, rule)) or "no other rule"))
        click.echo("as written:")
    click.echo(_rule_text(rule))


def _rule_data(rule: Rule) -> dict:
    """The rule's mapping as written in its file (read again, as plain data)."""
    from cdss.kb.yamlfile import read_yaml
    data, _ = read_yaml(Path(rule.file))
    return next(raw for raw in data["rules"] if isinstance(raw, dict) and raw.get("id") == rule.id)


def _rule_text(rule: Rule) -> str:
    """The rule's own lines from its file (from its '- id:' line up to the next rule)."""
    lines = Path(rule.file).read_text(encoding="utf-8").splitlines()
    start = rule.line - 1
    end = start + 1
    while end < len(lines) and not lines[end].lstrip().startswith("- id:"):
        end += 1
    return "\n".join(lines[start:end]).rstrip()
