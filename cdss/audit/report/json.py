"""The audit as JSON, in the shape schemas/audit.schema.json describes (for CI and other tools)."""

from __future__ import annotations

import json

from cdss.audit.run import AuditReport, tool_identity


def to_dict(report: AuditReport) -> dict:
    cov = report.coverage
    summary = {
        "rules": len(report.rules),
        "reachable": sum(p["reachable"] for p in report.pathways.values()),
        "files": len(report.pathways),
        "findings": report.counts,
        "ok": report.ok,
        "seconds": round(report.elapsed_seconds, 3),
        "static_seconds": round(report.static_seconds, 3),
        "solver_questions": report.queries,
    }
    pathways = []
    for name, item in sorted(report.pathways.items()):
        entry = {"name": name, "file": item["file"], "rules": item["rules"], "reachable": item["reachable"]}
        if cov is not None and name in cov.pathways:
            extra = cov.pathways[name]
            entry.update({key: extra[key] for key in ("rules_fired", "branches", "branches_covered", "tested", "cases")})
        pathways.append(entry)
    out = {"audit": report.kind, "tool": tool_identity(), "rules_dir": report.rules_dir,
           "knowledge_base": report.knowledge_base, "summary": summary, "pathways": pathways,
           "findings": [f.to_dict() for f in report.findings], "coverage": None}
    if cov is not None:
        summary.update({
            "cases": cov.cases, "labelled_cases": cov.labelled, "case_errors": len(cov.case_errors),
            "rules_fired": cov.rules_fired,
            "branches": cov.branches_total, "branches_covered": cov.branches_covered,
            "codes": cov.codes["total"], "codes_producible": cov.codes["producible"],
            "codes_produced": cov.codes["produced"], "fell_through": len(cov.fell_through),
            "test_coverage_percent": round(cov.test_coverage_percent, 2), "fail_under": report.fail_under,
            "coverage_seconds": round(cov.seconds, 3)})
        out["coverage"] = {
            "paths": cov.paths, "folders": cov.folders,
            "rules": [cov.rules[rule.id].to_dict() for rule in report.rules],
            "conditions": cov.conditions, "red_flags": cov.red_flags, "codes": cov.codes,
            "fell_through": cov.fell_through, "always_shadowed": cov.shadowed,
            "case_errors": [{"file": f, "message": m} for f, m in cov.case_errors]}
    return out


def to_json(report: AuditReport) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False)
