"""`cdss rules list|show`: the rule base as a knowledge author reads it."""

from __future__ import annotations

from pathlib import Path

import click

from cdss.cli.options import LANG, RULES, fail, load_rules
from cdss.kb.rules import Rule


@click.group("rules")
def rules_group() -> None:
    """Inspect the rule base."""


@rules_group.command("list")
@RULES
@LANG
def rules_list(rules_dir: Path | None, lang: str) -> None:
    """One line per rule: id, status, title."""
    kb = load_rules(rules_dir)
    for rule in kb.rules:
        click.echo(f"{rule.id:<48} {rule.status:<7} {rule.title.pick(lang)}")
    click.echo(f"{len(kb.rules)} rules, knowledge base {kb.identity.version} (sha256 {kb.identity.sha256})")


@rules_group.command("show")
@click.argument("rule_id")
@RULES
@LANG
def rules_show(rule_id: str, rules_dir: Path | None, lang: str) -> None:
    """Show one rule as written in its file."""
    kb = load_rules(rules_dir)
    rule = kb.by_id.get(rule_id)
    if rule is None:
        from difflib import get_close_matches
        close = get_close_matches(rule_id, kb.by_id, n=1)
        fail(f"no rule {rule_id!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
    click.echo(f"{rule.id} ({rule.status}) - {rule.title.pick(lang)}")
    click.echo(f"file: {rule.file}:{rule.line}")
    click.echo(f"sources: {'; '.join(rule.sources)}")
    click.echo(f"rationale: {rule.rationale.pick(lang)}")
    click.echo("concludes: " + ", ".join(rule.describe_conclusions()))
    click.echo("as written:")
    click.echo(_rule_text(rule))


def _rule_text(rule: Rule) -> str:
    """The rule's own lines from its file (from its '- id:' line up to the next rule)."""
    lines = Path(rule.file).read_text(encoding="utf-8").splitlines()
    start = rule.line - 1
    end = start + 1
    while end < len(lines) and not lines[end].lstrip().startswith("- id:"):
        end += 1
    return "\n".join(lines[start:end]).rstrip()
