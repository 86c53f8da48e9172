"""`cdss evaluate CASE --why-not CODE`: the evaluate command's why-not answer, in text or JSON."""

from __future__ import annotations

import json

import click

from cdss.explain.why_not import UnknownCode, why_not
from cdss.model import Case


def show(case: Case, result, kb, code: str, fmt: str, lang: str, paint) -> None:
    try:
        answer = why_not(case, result, kb, code, lang)
    except UnknownCode as error:
        raise click.BadParameter(str(error), param_hint="--why-not") from None
    if fmt == "json":
        out = answer.to_dict()
        out["knowledge_base"] = result.knowledge_base.to_dict()
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    from cdss.explain.text import to_text
    lines = None
    if answer.in_result:
        from cdss.io.render import explain_lines
        lines = explain_lines(result, answer.direct, kb, lang)
    click.echo(to_text(answer, lines, paint), nl=False)
