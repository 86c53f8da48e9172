"""What reading the rule folder found: unreadable files, rules that do not parse, duplicate ids, tests of
fields the case schema lacks. (What the strict loader and the compiler would refuse besides, such as a
cycle through `not`, the audit run adds as `load-error` unless a check reports it more precisely.)"""

from __future__ import annotations

from difflib import get_close_matches

from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.findings import Finding, Place
from cdss.kb.fields import field_catalogue

# What the loader's problem kinds become as findings. Duplicate ids are reported below with both places,
# facts nobody asserts by the facts check, references and compile errors by the audit run.
FINDING_OF = {"file": "invalid-file", "rule": "invalid-rule"}


class LoadCheck(Check):
    """What the reader found: unreadable files, rules that do not parse, duplicate ids, unknown fields."""

    name = "load"

    def check(self, ctx: AuditContext) -> list[Finding]:
        kb = ctx.kb
        out = [Finding(FINDING_OF[error.kind], "error", error.message, Place(error.rule_id, error.file, error.line))
               for error in kb.errors if error.kind in FINDING_OF]
        for entry in kb.entries:
            if entry.duplicate_of is not None:
                first = Place(entry.id, *entry.duplicate_of)
                out.append(Finding("duplicate-id", "error",
                                   f"duplicate rule id (first defined at {first.where()}); "
                                   "the loader refuses the rule base", Place(entry.id, entry.file, entry.line), (first,)))
        for unknown in kb.unknown_fields:
            out.append(Finding("unknown-field", "error",
                               f"tests field {unknown.path!r}, which the case schema lacks{_closest(unknown.path)}: "
                               "no valid case can record it", Place(unknown.rule, unknown.file, unknown.line)))
        return out


def _closest(path: str) -> str:
    close = get_close_matches(path, field_catalogue(), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
