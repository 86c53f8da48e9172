"""Labels and words: every code has an English and a Dutch label, and every case field, score domain and
placeholder a rule reads can be said in words from the phrase catalogue (rules/phrases.yaml), so that the
text output never has to fall back on a code or a field path (cases-and-results.md, "Labels, not codes")."""

from __future__ import annotations

from cdss import resources
from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.findings import Finding, Place
from cdss.kb import phrases as phrase_catalogue
from cdss.kb import placeholders
from cdss.kb.conditions import FieldRef, FieldTest, Score
from cdss.kb.fields import field_catalogue
from cdss.kb.vocabulary import problems as vocabulary_problems


class WordsCheck(Check):
    """Labels for codes, phrases for what rules read."""

    name = "words"

    def check(self, ctx: AuditContext) -> list[Finding]:
        vocabulary = str(resources.VOCABULARY_FILE)
        out = [Finding("vocabulary", "error", problem, Place(None, vocabulary)) for problem in vocabulary_problems()]
        catalogue = ctx.kb.phrases
        where = f"{ctx.kb.directory}/{phrase_catalogue.FILE}"
        reported: set[tuple] = set()
        warnings = resources.vocabulary().get("warnings", {})

        def gap(rule, node, path: str, what: str) -> None:
            missing = phrase_catalogue.missing(catalogue, path)
            if missing and (rule.id, path) not in reported:
                reported.add((rule.id, path))
                out.append(Finding("missing-phrase", "error",
                                   f"{what} {path!r} has no {', '.join(missing)} in {where}: the text output "
                                   "could not say it in words", ctx.place(rule, node)))

        for rule in ctx.rules:
            for node in rule.when.walk():
                if isinstance(node, FieldTest) and node.path in field_catalogue():
                    gap(rule, node, node.path, "the rule reads the field")
                    if isinstance(node.operand, FieldRef) and node.operand.path in field_catalogue():
                        gap(rule, node, node.operand.path, "the rule reads the field")
                if isinstance(node, Score):
                    for domain in node.domains:
                        if domain.name not in catalogue.scores:
                            out.append(Finding("missing-phrase", "error",
                                               f"the score domain {domain.name!r} has no words under `scores` in "
                                               f"{where}", ctx.place(rule, node)))
            for conclusion in rule.then:
                code = conclusion.data.get("code") if conclusion.kind == "warn" else None
                if code is not None and code not in warnings:
                    out.append(Finding("unlabelled-warning", "warning",
                                       f"the warning code {code!r} is not in the vocabulary's warnings, so it has no "
                                       "label: results show its message as the label (cases-and-results.md, Codes)",
                                       ctx.place(rule, None)))
            texts = [rule.rationale.en, rule.rationale.nl]
            texts += [c.data[lang] for c in rule.then if c.kind == "warn" for lang in ("en", "nl")]
            for token in {t for text in texts for t in placeholders.tokens(text)}:
                if token in field_catalogue():
                    gap(rule, None, token, "a text of the rule names the field")
        return out
