"""The audit as SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format), for CI code-scanning views.

One run of the tool `cdss`: each kind of finding (`unreachable-rule`, `missing-dutch`, ...) is a SARIF
rule, each finding a result with its level (error, warning, note), message, and the rule file and line
where it is written; the cdss rule it concerns is the result's logical location, the other rules
involved are related locations. File paths are relative to the working folder (`%SRCROOT%`), as code
scanning services expect of paths in a repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cdss.audit.run import AuditReport, tool_identity

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}

# What each kind of finding means, for the SARIF rule's description (unknown kinds show their name).
DESCRIPTIONS = {
    "load-error": "The rule file or rule does not load.",
    "duplicate-id": "Two rules share an id.",
    "duplicate-rule": "Two rules say the same thing.",
    "unknown-field": "A rule tests a field the case schema does not have.",
    "unasserted-fact": "A rule tests a fact that no rule asserts.",
    "unused-fact": "A fact is asserted but no rule uses it.",
    "unreachable-rule": "No case can make the rule fire, also through chains of rules.",
    "dead-alternative": "An alternative of an any, count or score can never hold.",
    "subsumed-rule": "Everything the rule concludes another rule concludes whenever it fires.",
    "subsumed-conclusion": "A conclusion of the rule is always made by another rule as well.",
    "missing-source": "The rule names no source.",
    "missing-text": "A title, rationale or warning text is missing.",
    "missing-dutch": "A Dutch text is missing.",
    "dutch-copy": "The Dutch text is a copy of the English.",
    "untested-rule": "A stable rule lacks a must-fire or a must-not-fire case.",
    "unknown-rule-in-case": "A case names a rule that does not exist.",
    "expectation-broken": "A case's expectation about which rules fire does not hold.",
    "never-fired": "No case in the corpus makes the rule fire.",
    "no-near-miss": "No case in the corpus expects the rule not to fire.",
    "branch-not-covered": "No case in the corpus takes this alternative.",
    "always-shadowed": "Whenever the rule fires, another rule concludes the same.",
    "code-never-produced": "A contract code no case in the corpus produces.",
    "code-unproducible": "A contract code no rule can produce.",
    "fell-through": "A case that no pathway explains.",
    "case-error": "A case of the corpus cannot be read.",
}


def _uri(file: str, root: Path) -> tuple[str, bool]:
    """A path as a URI reference: relative to the root when inside it, else an absolute file URI."""
    path = Path(file)
    absolute = path if path.is_absolute() else (root / path)
    try:
        return absolute.resolve().relative_to(root.resolve()).as_posix(), True
    except ValueError:
        return absolute.resolve().as_uri(), False


def _location(file: str | None, line: int | None, root: Path) -> dict | None:
    if not file:
        return None
    uri, relative = _uri(file, root)
    artifact = {"uri": uri}
    if relative:
        artifact["uriBaseId"] = "SRCROOT"
    physical: dict = {"artifactLocation": artifact}
    if line:
        physical["region"] = {"startLine": int(line)}
    return {"physicalLocation": physical}


def to_dict(report: AuditReport, root: str | Path | None = None) -> dict:
    root = Path(root) if root is not None else Path(os.getcwd())
    kinds = list(dict.fromkeys(f.check for f in report.findings))
    index = {kind: i for i, kind in enumerate(kinds)}
    worst: dict[str, str] = {}
    for finding in report.findings:
        rank = ("error", "warning", "info")
        if kind_level := worst.get(finding.check):
            if rank.index(finding.severity) < rank.index(kind_level):
                worst[finding.check] = finding.severity
        else:
            worst[finding.check] = finding.severity
    rules = [{"id": kind, "name": kind,
              "shortDescription": {"text": DESCRIPTIONS.get(kind, kind.replace("-", " "))},
              "defaultConfiguration": {"level": LEVELS[worst[kind]]}} for kind in kinds]
    results = []
    for finding in report.findings:
        who = f"{finding.place.rule}: " if finding.place.rule else ""
        result: dict = {"ruleId": finding.check, "ruleIndex": index[finding.check],
                        "level": LEVELS[finding.severity], "message": {"text": who + finding.message}}
        location = _location(finding.place.file, finding.place.line, root)
        if location is not None:
            if finding.place.rule:
                location["logicalLocations"] = [{"name": finding.place.rule, "kind": "rule"}]
            result["locations"] = [location]
        related = []
        for i, place in enumerate(finding.related):
            other = _location(place.file, place.line, root)
            if other is not None:
                other["id"] = i
                if place.rule:
                    other["message"] = {"text": place.rule}
                related.append(other)
        if related:
            result["relatedLocations"] = related
        result["partialFingerprints"] = {
            "cdssFinding/v1": f"{finding.check}:{finding.place.rule or ''}:{finding.message}"}
        results.append(result)
    tool = tool_identity()
    run = {
        "tool": {"driver": {"name": tool["name"], "version": tool["version"], "rules": rules}},
        "originalUriBaseIds": {"SRCROOT": {"uri": root.resolve().as_uri() + "/"}},
        "results": results,
        "properties": {"audit": report.kind, "rulesDir": report.rules_dir,
                       "knowledgeBase": report.knowledge_base, "ok": report.ok},
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def to_sarif(report: AuditReport, root: str | Path | None = None) -> str:
    return json.dumps(to_dict(report, root), indent=2, ensure_ascii=False)
