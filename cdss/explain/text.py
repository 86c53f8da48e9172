"""A WhyNot as an author or clinician reads it: each rule, and the first thing that stopped it, indented
through the facts it needed."""

from __future__ import annotations

from pathlib import Path

from cdss.explain.why_not import Failure, RuleWhy, WhyNot

KIND_WORDS = {"recommendation": "recommendation", "condition": "condition", "red_flag": "red flag",
              "do_not": "advice against"}


def _plain(role: str, text: str) -> str:
    return text


def _where(why: RuleWhy) -> str:
    return f"{Path(why.file).name}:{why.line}"


def to_text(answer: WhyNot, explain_lines: list[str] | None = None, paint=_plain) -> str:
    """The answer in text. `explain_lines` is --explain's chain, shown when the result holds the code."""
    word = KIND_WORDS[answer.kind]
    head = f"cdss - case {answer.case_id} - why not {answer.code} ({word})?"
    lines = [head, ""]
    if answer.in_result:
        lines.append(f"{answer.code} is in the result; this is why:")
        lines.extend(explain_lines or [])
        return "\n".join(lines) + "\n"
    lines.append(f"{answer.code} is not in the result.")
    if not answer.direct:
        profile = f" (profile {answer.profile})" if answer.profile else ""
        lines.append(f"No rule in this knowledge base{profile} concludes {answer.code}.")
        return "\n".join(lines) + "\n"
    lines.append(f"Rules that could conclude it ({len(answer.direct)}):")
    seen: set[str] = set()
    for rule_id in answer.direct:
        _rule(answer, answer.rules[rule_id], lines, 1, seen, paint)
    return "\n".join(lines) + "\n"


def _rule(answer: WhyNot, why: RuleWhy, lines: list[str], depth: int, seen: set[str], paint) -> None:
    pad = "  " * depth
    if why.rule in seen:
        lines.append(f"{pad}{why.rule} ({_where(why)}): explained above")
        return
    seen.add(why.rule)
    if why.fired and why.removed_by:
        lines.append(f"{pad}{paint('changed', why.rule)} ({_where(why)}) fired ({why.concludes}), but a policy "
                     "removed it:")
        for removal in why.removed_by:
            because = "; ".join(m.describe() for m in removal.because) or "-"
            lines.append(f"{pad}  {removal.policy}: {', '.join(removal.removed)}")
            lines.append(f"{pad}    because: {because}")
        return
    if why.fired:
        lines.append(f"{pad}{why.rule} ({_where(why)}) fired ({why.concludes})")
        return
    lines.append(f"{pad}{paint('removed', why.rule)} ({_where(why)}) did not fire: {why.title}")
    if why.failure is not None:
        _failure(answer, why.failure, lines, depth + 1, seen, paint, "first failing condition")


def _failure(answer: WhyNot, failure: Failure, lines: list[str], depth: int, seen: set[str], paint,
             label: str) -> None:
    pad = "  " * depth
    where = f"  (line {failure.line})" if failure.line else ""
    lines.append(f"{pad}{label}: {failure.test}{where}")
    if failure.detail:
        lines.append(f"{pad}  {failure.detail}")
    for alternative in failure.alternatives:
        _failure(answer, alternative, lines, depth + 1, seen, paint, "fails")
    if failure.needs:
        lines.append(f"{pad}  which could come from:")
        for rule_id in failure.needs:
            why = answer.rules.get(rule_id)
            if why is None:
                lines.append(f"{pad}    {rule_id}")
                continue
            _rule(answer, why, lines, depth + 2, seen, paint)
