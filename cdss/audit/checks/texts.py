"""Sources and Dutch text: every rule cites a source and speaks both languages."""

from __future__ import annotations

from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.findings import Finding, Place
from cdss.kb.loader import TEXT_FIELDS
from cdss.kb.yamlfile import line_at


class TextCheck(Check):
    """Sources and Dutch text: every rule cites a source and speaks both languages."""

    name = "texts"

    def check(self, ctx: AuditContext) -> list[Finding]:
        out = []
        for name, (data, root) in ctx.kb.documents.items():
            for key in ("title", "description"):
                text = data.get(key)
                if isinstance(text, dict) and not _filled(text.get("nl")):
                    out.append(Finding("missing-dutch", "error", f"the file's {key} has no Dutch text",
                                       Place(None, name, line_at(root, [key]))))
        for entry in ctx.kb.entries:
            if entry.id is None or entry.duplicate_of is not None or entry.status == "deprecated":
                continue
            root = ctx.kb.documents[entry.file][1]

            def place(*parts):
                return Place(entry.id, entry.file, line_at(root, ["rules", entry.index, *parts]))

            raw = entry.raw
            sources = raw.get("sources")
            if not isinstance(sources, list) or not sources:
                out.append(Finding("missing-source", "error", "the rule cites no source", place("sources")))
            else:
                for i, source in enumerate(sources):
                    if not _filled(source) or len(str(source).strip()) < 3:
                        out.append(Finding("missing-source", "error", f"source {i + 1} is empty", place("sources", i)))
            for key in TEXT_FIELDS:
                text = raw.get(key)
                if text is None and key == "limitations":
                    continue
                if not isinstance(text, dict) or not _filled(text.get("en")):
                    out.append(Finding("missing-text", "error", f"the rule has no English {key}", place(key)))
                    continue
                out += _dutch(text, f"{key}", place(key, "nl") if _filled(text.get("nl")) else place(key))
            for i, conclusion in enumerate(raw.get("then", ()) if isinstance(raw.get("then"), list) else ()):
                warn = conclusion.get("warn") if isinstance(conclusion, dict) else None
                if isinstance(warn, dict):
                    out += _dutch(warn, f"warning {warn.get('code')}", place("then", i, "warn"))
        return out


def _filled(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _dutch(text: dict, what: str, place: Place) -> list[Finding]:
    if not _filled(text.get("nl")):
        return [Finding("missing-dutch", "error", f"the {what} has no Dutch text", place)]
    if text["nl"].strip() == str(text.get("en", "")).strip() and len(text["nl"]) >= 12:
        return [Finding("dutch-copy", "warning", f"the Dutch {what} is a copy of the English", place)]
    return []
