"""`cdss feedback report`: what a knowledge author needs to mend a rule.

Per rule and per card kind: how often its cards were shown, accepted and overridden, the override reasons,
and the rules whose override rate stands out. A rule stands out when it has at least MIN_OUTCOMES outcomes
and the lower bound of the 95 % Wilson interval of its override rate is above the override rate of all
cards: clinicians override it more than the others, and not by the chance of a few answers.
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter

MIN_OUTCOMES = 5
Z = 1.96


def wilson_low(k: int, n: int) -> float:
    if n == 0:
        return 0.0
    p = k / n
    centre = p + Z * Z / (2 * n)
    spread = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return (centre - spread) / (1 + Z * Z / n)


def _tally() -> dict:
    return {"shown": 0, "accepted": 0, "overridden": 0, "reasons": Counter()}


def build(cards: dict) -> dict:
    """The report's data from the store's rows (`Store.rows()`)."""
    by_rule: dict[str, dict] = {}
    by_kind: dict[str, dict] = {}
    total = _tally()
    versions = Counter()
    for card in cards.values():
        versions[card["kb_version"]] += 1
        accepted = sum(o["outcome"] == "accepted" for o in card["outcomes"])
        overridden = sum(o["outcome"] == "overridden" for o in card["outcomes"])
        reasons = Counter(o["reason_code"] or "(no reason given)" for o in card["outcomes"] if o["outcome"] == "overridden")
        targets = [by_kind.setdefault(card["kind"], _tally()), total] + \
                  [by_rule.setdefault(rule, _tally()) for rule in card["rules"]]
        for tally in targets:
            tally["shown"] += 1
            tally["accepted"] += accepted
            tally["overridden"] += overridden
            tally["reasons"].update(reasons)
    overall = total["overridden"] / (total["accepted"] + total["overridden"]) if total["accepted"] + total["overridden"] else 0.0

    def finish(tally: dict) -> dict:
        answered = tally["accepted"] + tally["overridden"]
        rate = tally["overridden"] / answered if answered else None
        return {"shown": tally["shown"], "accepted": tally["accepted"], "overridden": tally["overridden"],
                "override_rate": round(rate, 3) if rate is not None else None,
                "override_rate_low": round(wilson_low(tally["overridden"], answered), 3) if answered else None,
                "reasons": dict(sorted(tally["reasons"].items(), key=lambda kv: (-kv[1], kv[0])))}

    rules = {rule: finish(t) for rule, t in sorted(by_rule.items())}
    stand_out = sorted((rule for rule, r in rules.items()
                        if r["accepted"] + r["overridden"] >= MIN_OUTCOMES and r["override_rate_low"] > overall),
                       key=lambda rule: (-rules[rule]["override_rate_low"], rule))
    return {"cards": len(cards), "knowledge_base_versions": dict(sorted(versions.items())),
            "overall": finish(total), "by_kind": {k: finish(t) for k, t in sorted(by_kind.items())},
            "by_rule": rules, "stand_out": stand_out, "min_outcomes": MIN_OUTCOMES}


def _rate(r: dict) -> str:
    return "-" if r["override_rate"] is None else f"{100 * r['override_rate']:.0f}%"


def _reasons(r: dict) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in r["reasons"].items()) or "-"


def text(report: dict) -> str:
    lines = [f"cdss feedback: {report['cards']} cards shown; knowledge base "
             + ", ".join(f"{v} ({n} cards)" for v, n in report["knowledge_base_versions"].items()), ""]
    o = report["overall"]
    lines.append(f"all cards: accepted {o['accepted']}, overridden {o['overridden']} (override rate {_rate(o)})")
    lines += ["", "RULES WHOSE OVERRIDE RATE STANDS OUT"]
    if report["stand_out"]:
        for rule in report["stand_out"]:
            r = report["by_rule"][rule]
            lines.append(f"  {rule}: {_rate(r)} of {r['accepted'] + r['overridden']} overridden "
                         f"(at least {100 * r['override_rate_low']:.0f}%); reasons: {_reasons(r)}")
    else:
        lines.append(f"  none (a rule needs {report['min_outcomes']} outcomes and an override rate clearly above "
                     f"the overall {_rate(o)})")
    lines += ["", "BY CARD KIND", f"  {'kind':<14} {'shown':>6} {'accepted':>9} {'overridden':>11} {'rate':>6}  reasons"]
    for kind, r in report["by_kind"].items():
        lines.append(f"  {kind:<14} {r['shown']:>6} {r['accepted']:>9} {r['overridden']:>11} {_rate(r):>6}  {_reasons(r)}")
    lines += ["", "BY RULE", f"  {'rule':<48} {'shown':>6} {'accepted':>9} {'overridden':>11} {'rate':>6}  reasons"]
    for rule, r in report["by_rule"].items():
        lines.append(f"  {rule:<48} {r['shown']:>6} {r['accepted']:>9} {r['overridden']:>11} {_rate(r):>6}  {_reasons(r)}")
    return "\n".join(lines) + "\n"


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}th,td{padding:.3rem .5rem;border-bottom:1px solid #d8dee4;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.stand-out td{background:#fff4e5}
.bar{display:inline-block;height:.7rem;background:#cf222e;vertical-align:middle}
.note{color:#57606a}
"""


def to_html(report: dict) -> str:
    """One self-contained page (no scripts, no external files); every name from the store is escaped."""
    e = html.escape
    o = report["overall"]

    def row(name: str, r: dict, cls: str = "") -> str:
        width = 0 if r["override_rate"] is None else round(100 * r["override_rate"])
        return (f'<tr class="{cls}" data-name="{e(name)}"><td><code>{e(name)}</code></td><td class="n">{r["shown"]}</td>'
                f'<td class="n">{r["accepted"]}</td><td class="n">{r["overridden"]}</td>'
                f'<td class="n">{e(_rate(r))} <span class="bar" style="width:{width}px"></span></td>'
                f"<td>{e(_reasons(r))}</td></tr>")

    head = "<tr><th>{}</th><th>shown</th><th>accepted</th><th>overridden</th><th>override rate</th><th>reasons</th></tr>"
    stand = set(report["stand_out"])
    parts = ["<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<title>cdss feedback report</title><style>", STYLE, "</style></head><body>",
             "<h1>cdss feedback report</h1>",
             f"<p>{report['cards']} cards shown; accepted {o['accepted']}, overridden {o['overridden']} "
             f"(override rate {e(_rate(o))}). Knowledge base: "
             + e(", ".join(f"{v} ({n} cards)" for v, n in report["knowledge_base_versions"].items())) + ".</p>",
             "<h2>Rules whose override rate stands out</h2>"]
    if report["stand_out"]:
        parts.append('<table id="stand-out">' + head.format("rule"))
        parts += [row(rule, report["by_rule"][rule], "stand-out") for rule in report["stand_out"]]
        parts.append("</table>")
    else:
        parts.append(f'<p id="stand-out" class="note">None: a rule needs {report["min_outcomes"]} outcomes and an '
                     "override rate clearly above the overall rate.</p>")
    parts.append('<h2>By card kind</h2><table id="by-kind">' + head.format("kind"))
    parts += [row(kind, r) for kind, r in report["by_kind"].items()]
    parts.append('</table><h2>By rule</h2><table id="by-rule">' + head.format("rule"))
    parts += [row(rule, r, "stand-out" if rule in stand else "") for rule, r in report["by_rule"].items()]
    parts.append(f'</table><p class="note">A rule stands out when it has at least {report["min_outcomes"]} outcomes '
                 "and the lower bound of the 95 % Wilson interval of its override rate is above the overall rate. "
                 "No patient data is stored: only cards, rules, outcomes and coded reasons.</p></body></html>\n")
    return "".join(parts)
