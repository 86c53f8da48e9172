"""The impact report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched.

What a reviewer of a rule change reads, top to bottom: the two versions and the headline counts; a chart
of the cases per change type; the change types with their case ids; the rules whose firing changed; and
every changed case with its changes (and, for the cases asked for with --show, both results side by side
with the rules behind each difference). Everything from the cases and rules is escaped.
"""

from __future__ import annotations

from html import escape

from cdss.diff.compare import CHANGE_TYPES
from cdss.diff.report import DiffReport
from cdss.diff.text import SECTIONS, _item

LISTED = 50  # case ids listed per change type before "... and N more"
CASES_LISTED = 500  # changed cases written out before "... and N more"

CSS = """
:root { --ink: #1d2733; --muted: #5b6b7c; --line: #d9e0e7; --added: #067647; --removed: #b42318;
        --changed: #b54708; --bar: #2f6fb3; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0; background: #f6f8fa; }
header { background: #1d2733; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c9d3dd; font-size: 13px; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 28px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 18px 0; }
h2 { font-size: 17px; margin: 0 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 140px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: #fbfcfd; }
.card .value { font-size: 22px; font-weight: 650; }
.card .label { color: var(--muted); font-size: 12px; }
.ok { color: var(--added); } .failed { color: var(--removed); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, td.code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
td.ids { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; word-break: break-all; }
td.added, tr.added td.mark, tr.added td.item { color: var(--added); }
td.removed, tr.removed td.mark, tr.removed td.item { color: var(--removed); }
td.changed, tr.changed td.mark, tr.changed td.item { color: var(--changed); }
tr.fail-on td:first-child { border-left: 4px solid var(--removed); }
#firing td.code, #change-types td.code { white-space: nowrap; }
table.side { table-layout: fixed; margin-top: 10px; }
.side col.mark { width: 3em; } .side td.mark { text-align: center; font-weight: 700; }
.side tr.section td { background: #eef2f6; font-weight: 600; }
.rules { color: var(--muted); font-size: 12px; }
.muted { color: var(--muted); }
details { border-top: 1px solid var(--line); padding: 4px 0; }
details summary { cursor: pointer; }
svg text { font: 12px system-ui, sans-serif; fill: #1d2733; }
"""


def _version(side: dict) -> str:
    return (f"{escape(side['source'])} &middot; knowledge base {escape(side['version'])}, sha256 "
            f"{escape(side['sha256'][:12])}, profile {escape(side['profile'])}")


def _role(kind: str) -> str:
    return "added" if kind.endswith("_added") else "removed" if kind.endswith("_removed") else "changed"


def _ids(ids: list, limit: int = LISTED) -> str:
    shown = ", ".join(escape(i) for i in ids[:limit])
    return shown + (f' <span class="muted">... and {len(ids) - limit} more</span>' if len(ids) > limit else "")


def _cards(report: DiffReport) -> str:
    unchanged = report.cases - report.changed - len(report.problems)
    items = [(report.cases, "cases"), (report.changed, "changed"), (unchanged, "unchanged"),
             (len(report.problems), "invalid cases"), (len(report.rules_added), "rules added"),
             (len(report.rules_removed), "rules removed"), (len(report.rules_edited), "rules edited")]
    cards = "".join(f'<div class="card"><div class="value">{value}</div><div class="label">{label}</div></div>'
                    for value, label in items)
    verdict = ""
    if report.fail_on:
        if report.failing:
            verdict = (f'<p class="failed" id="verdict">FAIL: {escape(", ".join(report.failing))}</p>')
        else:
            verdict = f'<p class="ok" id="verdict">ok: none of {escape(", ".join(report.fail_on))}</p>'
    rules = ""
    for label, ids in (("added", report.rules_added), ("removed", report.rules_removed),
                       ("edited", report.rules_edited)):
        if ids:
            rules += f"<p>rules {label}: <code>{escape(', '.join(ids))}</code></p>"
    return f'<section id="summary"><h2>Summary</h2><div class="cards">{cards}</div>{verdict}{rules}</section>'


def _chart(report: DiffReport) -> str:
    types = report.types
    if not types:
        return '<section id="changes"><h2>Changes</h2><p class="muted">No case changed.</p></section>'
    label_width, bar_width, row = 250, 600, 24
    most = max(len(ids) for _, ids in types)
    height = row * len(types) + 10
    bars = []
    for i, (kind, ids) in enumerate(types):
        y = 5 + i * row
        width = bar_width * len(ids) / most
        colour = {"added": "#067647", "removed": "#b42318", "changed": "#b54708"}[_role(kind)]
        bars.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{escape(kind)}</text>'
                    f'<rect class="bar" data-type="{escape(kind)}" data-cases="{len(ids)}" x="{label_width}" y="{y + 3}" '
                    f'width="{width:.2f}" height="{row - 8}" fill="{colour}"></rect>'
                    f'<text x="{label_width + width + 6:.2f}" y="{y + 15}">{len(ids)}</text>')
    svg = (f'<svg id="change-chart" xmlns="http://www.w3.org/2000/svg" width="{label_width + bar_width + 60}" '
           f'height="{height}" role="img" aria-label="cases per change type">{"".join(bars)}</svg>')
    rows = "".join(
        f'<tr class="change {_role(kind)}{" fail-on" if kind in report.fail_on else ""}" data-type="{escape(kind)}">'
        f'<td class="code {_role(kind)}">{escape(kind)}</td><td>{escape(CHANGE_TYPES[kind])}</td>'
        f'<td class="num">{len(ids)}</td><td class="ids">{_ids(ids)}</td></tr>' for kind, ids in types)
    table = (f'<table id="change-types"><thead><tr><th>change</th><th>meaning</th><th class="num">cases</th>'
             f'<th>case ids</th></tr></thead><tbody>{rows}</tbody></table>')
    return f'<section id="changes"><h2>Changes</h2>{svg}{table}</section>'


def _firing(report: DiffReport) -> str:
    rows = report.rule_rows()
    if not rows:
        return ('<section id="firing-section"><h2>Rules whose firing changed</h2>'
                '<p class="muted">Every rule fires on the same cases.</p></section>')
    body = "".join(
        f'<tr class="rule" data-rule="{escape(f.rule)}"><td class="code">{escape(f.rule)}</td>'
        f'<td class="num">{f.started}</td><td class="num">{f.stopped}</td>'
        f'<td class="ids">{_ids(f.started_examples + f.stopped_examples)}</td></tr>' for f in rows)
    return ('<section id="firing-section"><h2>Rules whose firing changed</h2><table id="firing"><thead><tr>'
            '<th>rule</th><th class="num">started firing</th><th class="num">stopped firing</th><th>examples</th>'
            f'</tr></thead><tbody>{body}</tbody></table></section>')


def _side_by_side(report: DiffReport, case_id: str) -> str:
    base, new = report.sides[case_id]
    if base.get("status") == "error" or new.get("status") == "error":
        return (f'<table class="side"><tr><td>{escape(base.get("error", "ok"))}</td>'
                f'<td>{escape(new.get("error", "ok"))}</td></tr></table>')
    rows = ['<colgroup><col class="mark"><col><col></colgroup>',
            f'<tr><th></th><th>base: {escape(report.base["source"])}</th><th>new: {escape(report.new["source"])}</th></tr>']
    for section, title in SECTIONS:
        before = {item["code"]: item for item in base[section]}
        after = {item["code"]: item for item in new[section]}
        if not before and not after:
            continue
        rows.append(f'<tr class="section"><td></td><td colspan="2">{escape(title)}</td></tr>')
        for code in list(before) + [c for c in after if c not in before]:
            left = _item(section, before[code]) if code in before else ""
            right = _item(section, after[code]) if code in after else ""
            mark, role = ((" ", "same") if left == right else ("+", "added") if not left
                          else ("-", "removed") if not right else ("~", "changed"))

            def cell(text, item):
                if not text:
                    return "<td></td>"
                rules = (f'<div class="rules">rules: {escape(", ".join(item["rules"]))}</div>'
                         if role != "same" and item.get("rules") else "")
                return f'<td class="item">{escape(text)}{rules}</td>'
            rows.append(f'<tr class="{role}" data-code="{escape(code)}"><td class="mark">{mark}</td>'
                        f'{cell(left, before.get(code))}{cell(right, after.get(code))}</tr>')
    return f'<table class="side" data-case="{escape(case_id)}">{"".join(rows)}</table>'


def _cases(report: DiffReport) -> str:
    if not report.changed_cases:
        return ""
    parts = []
    for diff in report.changed_cases[:CASES_LISTED]:
        changes = "".join(
            f'<tr class="{_role(c.type)}"><td class="code {_role(c.type)}">{escape(c.type)}</td>'
            f'<td class="code">{escape(c.code)}</td>'
            f'<td>{escape(c.base or "")}{" &rarr; " if c.base is not None and c.new is not None else ""}'
            f'{escape(c.new or "")}</td>'
            f'<td class="rules">{escape(", ".join(c.base_rules))}</td><td class="rules">{escape(", ".join(c.new_rules))}</td></tr>'
            for c in diff.changes)
        side = _side_by_side(report, diff.case_id) if diff.case_id in report.sides else ""
        parts.append(
            f'<details class="case" data-case="{escape(diff.case_id)}"{" open" if side else ""}>'
            f'<summary><code>{escape(diff.case_id)}</code> <span class="muted">{escape(diff.where)} &middot; '
            f'{len(diff.changes)} change{"s" if len(diff.changes) != 1 else ""}</span></summary>'
            f'<table class="changes"><thead><tr><th>change</th><th>code</th><th>base &rarr; new</th>'
            f'<th>base rules</th><th>new rules</th></tr></thead><tbody>{changes}</tbody></table>{side}</details>')
    more = len(report.changed_cases) - CASES_LISTED
    if more > 0:
        parts.append(f'<p class="muted">... and {more} more changed cases (the JSON report lists them all).</p>')
    return f'<section id="changed-cases"><h2>Changed cases</h2>{"".join(parts)}</section>'


def _invalid(report: DiffReport) -> str:
    if not report.problems:
        return ""
    rows = "".join(f"<tr><td class=\"code\">{escape(where)}</td><td>{escape(message)}</td></tr>"
                   for where, message in report.problems)
    return f'<section id="invalid"><h2>Cases that could not be read</h2><table>{rows}</table></section>'


def render(report: DiffReport) -> str:
    title = "cdss diff"
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f"<header><h1>{title}: {report.changed} of {report.cases} cases changed</h1>"
        f"<p>base: {_version(report.base)}</p><p>new: {_version(report.new)}</p></header>",
        "<main>", _cards(report), _chart(report), _firing(report), _cases(report), _invalid(report),
        "</main>", "</body>", "</html>",
    ]
    return "\n".join(parts) + "\n"
