"""The audit as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched, readable offline.

Three parts, as a knowledge engineer reads them: a coverage chart per pathway, a heatmap of rules against
case folders (how many cases of each folder make each rule fire; for `audit rules`, how many name it as
must-fire), and the findings list.
"""

from __future__ import annotations

import math
from collections import Counter
from html import escape
from pathlib import Path

from cdss.audit.run import AuditReport
from cdss.audit.findings import SEVERITIES

LISTED = 200  # case ids shown before "... and N more"

CSS = """
:root { --ink: #1d2733; --muted: #5b6b7c; --line: #d9e0e7; --error: #b42318; --warning: #b54708;
        --info: #175cd3; --bar1: #2f6fb3; --bar2: #5fa8a0; --bar3: #c48a2c; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0; background: #f6f8fa; }
header { background: #1d2733; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c9d3dd; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 28px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 18px 0; }
h2 { font-size: 17px; margin: 0 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 150px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: #fbfcfd; }
.card .value { font-size: 22px; font-weight: 650; }
.card .label { color: var(--muted); font-size: 12px; }
.ok { color: #067647; } .failed { color: var(--error); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.heatmap td.cell { text-align: center; font-size: 12px; min-width: 54px; font-variant-numeric: tabular-nums; }
.heatmap th.folder { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; height: 140px;
                     text-align: left; vertical-align: bottom; }
.heatmap tr.pathway td { background: #eef2f6; font-weight: 600; }
.heatmap td.rule { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; white-space: nowrap; }
.heatmap tr.never td.rule { color: var(--error); }
.sev { display: inline-block; min-width: 62px; text-align: center; border-radius: 10px; padding: 0 8px;
       font-size: 12px; font-weight: 600; color: #fff; }
.sev.error { background: var(--error); } .sev.warning { background: var(--warning); } .sev.info { background: var(--info); }
.findings td.where { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; white-space: nowrap; }
.findings td.msg { max-width: 640px; }
.muted { color: var(--muted); }
details summary { cursor: pointer; color: var(--muted); margin: 8px 0; }
svg text { font: 12px system-ui, sans-serif; fill: #1d2733; }
"""


def render(report: AuditReport) -> str:
    cov = report.coverage
    kb = report.knowledge_base
    identity = (f"knowledge base {kb['version']}, sha256 {kb['sha256'][:12]}, profiles {', '.join(kb['profiles'])}"
                if kb else "the rule base does not load")
    title = "cdss audit: coverage" if cov is not None else "cdss audit: rules"
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f'<header><h1>{escape(title)}</h1><p>{escape(report.rules_dir)} &middot; {escape(identity)}</p></header>',
        "<main>",
        _cards(report),
        _chart_section(report),
        _heatmap_section(report),
    ]
    if cov is not None:
        parts.append(_status_section(report))
    parts += [_findings_section(report), "</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def write(report: AuditReport, path: str | Path) -> None:
    """The page, written whole or not at all (a full disk or a read-only folder is one clear error)."""
    from cdss.errors import CdssError
    from cdss.io.files import write_whole
    path = Path(path)
    try:
        write_whole(path, render(report).encode("utf-8"))
    except OSError as error:
        raise CdssError(f"{path}: cannot write the report: {error.strerror or error}") from None


def _card(value: str, label: str, css: str = "") -> str:
    return (f'<div class="card"><div class="value {css}">{escape(value)}</div>'
            f'<div class="label">{escape(label)}</div></div>')


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "-"


def _cards(report: AuditReport) -> str:
    counts = report.counts
    cov = report.coverage
    cards = []
    if cov is not None:
        cards += [_card(f"{cov.rules_fired}/{len(cov.rules)}", f"rules fired ({_pct(cov.rules_fired, len(cov.rules))})"),
                  _card(f"{cov.branches_covered}/{cov.branches_total}",
                        f"branches covered ({_pct(cov.branches_covered, cov.branches_total)})"),
                  _card(f"{cov.codes['produced']}/{cov.codes['total']}", "contract codes produced"),
                  _card(f"{cov.test_coverage_percent:.0f}%", "rules with a firing case and a near miss"),
                  _card(str(cov.cases), "cases evaluated")]
    else:
        reachable = sum(p["reachable"] for p in report.pathways.values())
        cards.append(_card(f"{reachable}/{len(report.rules)}", "rules reachable"))
    cards += [_card(str(counts[s]), f"{s} findings", s if counts[s] and s != "info" else "") for s in SEVERITIES]
    cards.append(_card("OK" if report.ok else "FAILED", f"result, in {report.elapsed_seconds:.2f} s",
                       "ok" if report.ok else "failed"))
    return '<section id="summary"><h2>Summary</h2><div class="cards">' + "".join(cards) + "</div></section>"


def _series(report: AuditReport) -> tuple[list[str], list[tuple[str, list[tuple[int, int]]]]]:
    cov = report.coverage
    rows = []
    if cov is not None:
        labels = ["rules fired", "branches covered", "rules tested (+ and -)"]
        for name, p in sorted(cov.pathways.items()):
            rows.append((name, [(p["rules_fired"], p["rules"]), (p["branches_covered"], p["branches"]),
                                (p["tested"], p["rules"])]))
        return labels, rows
    labels = ["rules reachable", "rules named by a must-fire case", "rules without error or warning"]
    ctx = report.context
    named = ctx.expectations if ctx is not None else {}
    flagged = {f.rule for f in report.findings if f.severity in ("error", "warning") and f.rule}
    for name, p in sorted(report.pathways.items()):
        ids = [r.id for r in report.rules if r.pathway == name]
        rows.append((name, [(p["reachable"], p["rules"]),
                            (sum(1 for i in ids if named.get(i, {}).get("fire")), p["rules"]),
                            (sum(1 for i in ids if i not in flagged), p["rules"])]))
    return labels, rows


def _chart_section(report: AuditReport) -> str:
    labels, rows = _series(report)
    colors = ["var(--bar1)", "var(--bar2)", "var(--bar3)"]
    left, width, bar, gap = 170, 520, 15, 16
    height = 40 + len(rows) * (len(labels) * bar + gap) + 10
    svg = [f'<svg id="pathway-chart" role="img" aria-label="coverage per pathway" width="{left + width + 130}" '
           f'height="{height}" viewBox="0 0 {left + width + 130} {height}" xmlns="http://www.w3.org/2000/svg">']
    for tick in range(0, 101, 25):
        x = left + width * tick / 100
        svg.append(f'<line x1="{x:.1f}" y1="24" x2="{x:.1f}" y2="{height - 8}" stroke="#d9e0e7"/>')
        svg.append(f'<text x="{x:.1f}" y="16" text-anchor="middle" fill="#5b6b7c">{tick}%</text>')
    y = 30
    for name, values in rows:
        svg.append(f'<text x="{left - 10}" y="{y + len(labels) * bar / 2 + 4:.1f}" text-anchor="end" '
                   f'font-weight="600">{escape(name)}</text>')
        for k, (part, whole) in enumerate(values):
            share = part / whole if whole else 0
            w = max(width * share, 0.5 if whole else 0)
            tip = f"{name}: {labels[k]} {part}/{whole}"
            svg.append(f'<rect class="bar" x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" fill="{colors[k]}" '
                       f'data-pathway="{escape(name)}" data-series="{escape(labels[k])}">'
                       f'<title>{escape(tip)}</title></rect>')
            shown = f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "none"
            svg.append(f'<text x="{left + w + 6:.1f}" y="{y + bar - 3}">{escape(shown)}</text>')
            y += bar
        y += gap
    svg.append("</svg>")
    legend = " ".join(f'<span><svg width="12" height="12"><rect width="12" height="12" fill="{colors[k]}"/></svg> '
                      f'{escape(label)}</span> &nbsp;' for k, label in enumerate(labels))
    return ('<section id="chart"><h2>Coverage per pathway</h2>' + "\n".join(svg)
            + f'<p class="muted">{legend}</p></section>')


def _heat_rows(report: AuditReport) -> tuple[list[str], dict[str, Counter], str]:
    cov = report.coverage
    if cov is not None:
        return cov.folders, {rid: r.folders for rid, r in cov.rules.items()}, \
            "cases of each folder in which the rule fired"
    ctx = report.context
    counts: dict[str, Counter] = {}
    folders = set()
    if ctx is not None and ctx.cases_dir is not None:
        for path, data in ctx.case_data:
            folder = str(path.parent.relative_to(ctx.cases_dir)) if path.parent != Path(ctx.cases_dir) else "."
            folders.add(folder)
            expected = data.get("expected") if isinstance(data, dict) else None
            for rule_id in (expected or {}).get("rules_fired", ()) if isinstance(expected, dict) else ():
                counts.setdefault(rule_id, Counter())[folder] += 1
    return sorted(folders), counts, "cases of each folder that name the rule as must-fire"


def _heatmap_section(report: AuditReport) -> str:
    folders, counts, meaning = _heat_rows(report)
    top = max((n for c in counts.values() for n in c.values()), default=1)
    head = "".join(f'<th class="folder">{escape(f)}</th>' for f in folders)
    rows = [f'<table class="heatmap" id="heatmap"><thead><tr><th>rule</th>{head}<th class="num">total</th></tr>'
            '</thead><tbody>']
    for pathway in sorted({r.pathway for r in report.rules}):
        rows.append(f'<tr class="pathway"><td colspan="{len(folders) + 2}">{escape(pathway)}</td></tr>')
        for rule in report.rules:
            if rule.pathway != pathway:
                continue
            mine = counts.get(rule.id, Counter())
            total = sum(mine.values())
            cells = []
            for folder in folders:
                n = mine.get(folder, 0)
                ink = "#fff" if n and _level(n, top) > .55 else "#1d2733"
                cells.append(f'<td class="cell" style="background:{_heat(n, top)};color:{ink}" '
                             f'title="{escape(rule.id)} / {escape(folder)}: {n}">{n or ""}</td>')
            css = ' class="never"' if total == 0 else ""
            rows.append(f'<tr{css} data-rule="{escape(rule.id)}"><td class="rule" title="{escape(rule.file)}:{rule.line}">'
                        f'{escape(rule.id)}</td>{"".join(cells)}<td class="num">{total}</td></tr>')
    rows.append("</tbody></table>")
    return (f'<section id="heatmap-section"><h2>Rules &times; case folders</h2><p class="muted">Each cell: {meaning}. '
            'Empty cells are zero; a rule in red has no case at all.</p>' + "".join(rows) + "</section>")


def _level(n: int, top: int) -> float:
    return math.log1p(n) / math.log1p(top) if top else 0


def _heat(n: int, top: int) -> str:
    if n == 0:
        return "#f3f5f7"
    level = _level(n, top)
    # from a pale to a deep blue
    r, g, b = (int(219 - level * (219 - 31)), int(234 - level * (234 - 78)), int(254 - level * (254 - 141)))
    return f"rgb({r},{g},{b})"


def _status_section(report: AuditReport) -> str:
    cov = report.coverage
    rows = ['<table id="statuses"><thead><tr><th>condition / red flag</th><th>pathway</th><th class="num">suspected</th>'
            '<th class="num">probable</th><th class="num">confirmed</th></tr></thead><tbody>']
    for code, item in cov.conditions.items():
        rows.append(f'<tr><td>{escape(code)}</td><td>{escape(item["pathway"] or "-")}</td>'
                    f'<td class="num">{item["suspected"]}</td><td class="num">{item["probable"]}</td>'
                    f'<td class="num">{item["confirmed"]}</td></tr>')
    for code, item in cov.red_flags.items():
        rows.append(f'<tr><td>{escape(code)}</td><td>red_flags</td><td class="num">{item["suspected"]}</td>'
                    f'<td class="num">-</td><td class="num">{item["confirmed"]}</td></tr>')
    rows.append("</tbody></table>")
    fell = ", ".join(cov.fell_through[:LISTED]) or "none"
    if len(cov.fell_through) > LISTED:
        fell += f" ... and {len(cov.fell_through) - LISTED} more (the JSON report lists them all)"
    return ('<section id="reached"><h2>What the cases reached</h2>' + "".join(rows)
            + f'<p><strong>Fell through every pathway</strong> ({len(cov.fell_through)}): '
              f'<span class="muted">{escape(fell)}</span></p>'
            + f'<p><strong>Always also concluded by another rule</strong>: '
              f'<span class="muted">{escape(", ".join(cov.shadowed) or "none")}</span></p></section>')


def _finding_row(f) -> str:
    where = f.place.where()
    related = "".join(f'<br><span class="muted">with {escape(p.rule or "")} {escape(p.where())}</span>'
                      for p in f.related[:5])
    if len(f.related) > 5:
        related += f'<br><span class="muted">and {len(f.related) - 5} more</span>'
    return (f'<tr class="finding {f.severity}" data-check="{escape(f.check)}">'
            f'<td><span class="sev {f.severity}">{f.severity}</span></td>'
            f'<td>{escape(f.check)}</td><td class="where">{escape(f.rule or "")}<br>{escape(where)}</td>'
            f'<td class="msg">{escape(f.message)}{related}</td></tr>')


def _findings_section(report: AuditReport) -> str:
    head = '<thead><tr><th>severity</th><th>check</th><th>rule / where</th><th>finding</th></tr></thead>'
    main = [f for f in report.findings if f.severity != "info"]
    info = [f for f in report.findings if f.severity == "info"]
    counts = report.counts
    out = [f'<section id="findings"><h2>Findings</h2><p class="muted">{counts["error"]} errors, '
           f'{counts["warning"]} warnings, {counts["info"]} info.</p>']
    if main:
        out.append(f'<table class="findings">{head}<tbody>' + "".join(_finding_row(f) for f in main) + "</tbody></table>")
    else:
        out.append('<p class="ok">No errors or warnings.</p>')
    if info:
        out.append(f'<details open><summary>{len(info)} info findings</summary><table class="findings">{head}<tbody>'
                   + "".join(_finding_row(f) for f in info) + "</tbody></table></details>")
    out.append("</section>")
    return "\n".join(out)
