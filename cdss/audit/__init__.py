"""`cdss audit`: verification of the rule base, and what a corpus of cases reaches in it.

The package, by job:
- `run`: the two entry points (`audit_rules`, `audit_coverage`) and the `AuditReport` they return;
- `findings`: what a check reports (a severity, a rule, a place);
- `checks/`: the checks of the rule base, one per module, and the context they share;
- `logic/`: rule conditions as formulas (`formulas`, `regions`), their clauses (`encoding`), a SAT solver
  (`solver`), witness cases from its models (`witnesses`), threshold bands (`bands`);
- `coverage`: running a corpus and gathering what it reached;
- `rule_parts`: a rule's branches and conclusions, and both written back as text;
- `report/`: the report as text, JSON, SARIF and one HTML page.

The names below are what the command line needs; they load on first use, so that importing one part (say
`cdss.audit.logic.solver`) does not load the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from cdss.audit.findings import Finding, Place
    from cdss.audit.report.html import write as write_html
    from cdss.audit.report.json import to_dict, to_json
    from cdss.audit.report.sarif import to_sarif
    from cdss.audit.report.text import to_text
    from cdss.audit.run import DEFAULT_CASES_DIR, AuditReport, audit_coverage, audit_rules

_EXPORTS = {  # name -> (module, name there)
    "audit_rules": ("cdss.audit.run", "audit_rules"),
    "audit_coverage": ("cdss.audit.run", "audit_coverage"),
    "AuditReport": ("cdss.audit.run", "AuditReport"),
    "DEFAULT_CASES_DIR": ("cdss.audit.run", "DEFAULT_CASES_DIR"),
    "Finding": ("cdss.audit.findings", "Finding"),
    "Place": ("cdss.audit.findings", "Place"),
    "to_text": ("cdss.audit.report.text", "to_text"),
    "to_json": ("cdss.audit.report.json", "to_json"),
    "to_dict": ("cdss.audit.report.json", "to_dict"),
    "to_sarif": ("cdss.audit.report.sarif", "to_sarif"),
    "write_html": ("cdss.audit.report.html", "write"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cdss.audit' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value
