"""The impact report as text: what changed, for how many cases, which rules, and (on request) two results
side by side with the rules behind each difference."""

from __future__ import annotations

from cdss.diff.compare import CHANGE_TYPES
from cdss.diff.report import EXAMPLES, DiffReport

COLUMN = 58  # the width of one side in the side-by-side view
SECTIONS = (("red_flags", "red flags"), ("conditions", "conditions"), ("recommendations", "recommendations"),
            ("do_not", "advise against"), ("warnings", "warnings"))


def _plain(role: str, text: str) -> str:
    return text


def _version(side: dict) -> str:
    return f"{side['source']} (knowledge base {side['version']}, sha256 {side['sha256'][:12]}, profile {side['profile']})"


def _examples(ids: list) -> str:
    shown = ", ".join(ids[:EXAMPLES])
    return shown + (f", ... ({len(ids) - EXAMPLES} more)" if len(ids) > EXAMPLES else "")


def to_text(report: DiffReport, verbose: bool = False, paint=_plain) -> str:
    lines = [f"base: {_version(report.base)}", f"new:  {_version(report.new)}"]
    for label, ids in (("rules added", report.rules_added), ("rules removed", report.rules_removed),
                       ("rules edited", report.rules_edited)):
        if ids:
            lines.append(f"{label} ({len(ids)}): {', '.join(ids)}")
    lines.append("")
    unchanged = report.cases - report.changed - len(report.problems)
    lines.append(f"{report.cases} cases: {report.changed} changed, {unchanged} unchanged"
                 + (f", {len(report.problems)} invalid" if report.problems else ""))
    for where, message in report.problems:
        lines.append(f"  invalid: {where}: {message}")
    if report.types:
        lines.append("")
        width = max(len(kind) for kind, _ in report.types)
        lines.append(paint("heading", f"{'change':<{width}}  {'cases':>6}  examples"))
        for kind, ids in report.types:
            role = "fail" if kind in report.fail_on else ("added" if kind.endswith("_added") else
                                                          "removed" if kind.endswith("_removed") else "changed")
            lines.append(f"{paint(role, f'{kind:<{width}}')}  {len(ids):>6}  {_examples(ids)}")
    rows = report.rule_rows()
    if rows:
        lines.append("")
        width = max(len(f.rule) for f in rows)
        lines.append(paint("heading", f"{'rules whose firing changed':<{width}}  {'started':>7}  {'stopped':>7}  examples"))
        for firing in rows if verbose else rows[:20]:
            examples = firing.started_examples if firing.started >= firing.stopped else firing.stopped_examples
            lines.append(f"{firing.rule:<{width}}  {firing.started:>7}  {firing.stopped:>7}  {', '.join(examples)}")
        if not verbose and len(rows) > 20:
            lines.append(f"... {len(rows) - 20} more rules (-v for all)")
    if verbose and report.changed_cases:
        lines.append("")
        lines.append(paint("heading", "changed cases"))
        for diff in report.changed_cases:
            lines.append(f"  {diff.case_id} ({diff.where})")
            for change in diff.changes:
                lines.append(f"    {change.describe()}")
    for case_id, (base, new) in report.sides.items():
        lines.append("")
        lines.extend(side_by_side(case_id, report, base, new, paint))
    if report.fail_on:
        lines.append("")
        if report.failing:
            lines.append(paint("fail", "FAIL: " + ", ".join(f"{kind} ({len(report.by_type[kind])} cases)"
                                                             for kind in report.failing)))
        else:
            lines.append(paint("pass", "ok: none of " + ", ".join(report.fail_on)))
    lines.append(f"{report.changed} of {report.cases} cases changed in {report.seconds:.1f} s")
    return "\n".join(lines) + "\n"


def _item(section: str, item: dict) -> str:
    if section == "red_flags":
        return f"{item['code']} {item['status']}, {item['urgency']}"
    if section == "conditions":
        return f"{item['code']} {item['status']}"
    if section == "recommendations":
        target = f" for {', '.join(item['for'])}" if item["for"] else ""
        return f"[{item['urgency']}] {item['code']}{target}"
    if section == "do_not":
        target = f" for {', '.join(item['for'])}" if item["for"] else ""
        return f"{item['code']}{target}"
    return item["code"]


def _cell(text: str, width: int = COLUMN - 2) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def side_by_side(case_id: str, report: DiffReport, base: dict, new: dict, paint=_plain) -> list[str]:
    """Both results of one case in two columns; `+`, `-` and `~` mark the differences, each followed by
    the rules behind it."""
    diff = next((d for d in report.changed_cases if d.case_id == case_id), None)
    lines = [paint("heading", f"case {case_id}" + (f" ({diff.where})" if diff else "") + ": base | new"),
             f"  {'base ' + report.base['source']:<{COLUMN}} | new {report.new['source']}"]
    if base.get("status") == "error" or new.get("status") == "error":
        lines.append(f"  {_cell(base.get('error', 'ok'), COLUMN):<{COLUMN}} | {new.get('error', 'ok')}")
        return lines
    for section, title in SECTIONS:
        before = {item["code"]: item for item in base[section]}
        after = {item["code"]: item for item in new[section]}
        if not before and not after:
            continue
        lines.append(f"  {title}")
        for code in list(before) + [c for c in after if c not in before]:
            left = _item(section, before[code]) if code in before else ""
            right = _item(section, after[code]) if code in after else ""
            mark = " " if left == right else ("+" if not left else "-" if not right else "~")
            role = {"+": "added", "-": "removed", "~": "changed", " ": ""}[mark]
            row = f"  {mark} {_cell(left):<{COLUMN - 2}} | {right}"
            lines.append(paint(role, row) if role else row)
            if mark != " ":
                rules_before = ", ".join(before[code]["rules"]) if code in before else ""
                rules_after = ", ".join(after[code]["rules"]) if code in after else ""
                lines.append(f"      {_cell('rules: ' + rules_before if rules_before else '', COLUMN - 4):<{COLUMN - 4}} | "
                             + (f"rules: {rules_after}" if rules_after else ""))
    if diff is not None:
        lines.append("  changes:")
        for change in diff.changes:
            lines.append(f"    {change.describe()}")
        if diff.started:
            lines.append(f"  rules that fire only under new: {', '.join(diff.started)}")
        if diff.stopped:
            lines.append(f"  rules that fire only under base: {', '.join(diff.stopped)}")
    policies = [p for p in new.get("policies", []) if p not in base.get("policies", [])]
    if policies:
        lines.append(f"  policies applied only under new: {', '.join(policies)}")
    return lines


def describe_types() -> str:
    return "\n".join(f"  {kind:<32} {meaning}" for kind, meaning in CHANGE_TYPES.items())
