"""The rule folder as the audit sees it: read by the one rule loader in its collecting mode, so the audit
judges exactly the rules the engine runs, and still sees every rule that does not load.

The loader's strict mode refuses a rule base with a duplicate id, an unknown field or a fact nobody
asserts, which is right for running cases but leaves nothing to audit; collecting mode reads as far as
the files go and records each problem with its file and line.
"""

from __future__ import annotations

from pathlib import Path

from attrs import define, field

from cdss.audit.findings import Finding, Place
from cdss.kb.conditions import All, Any_, ConditionTest, Count, FactTest, FieldRef, FieldTest, Node, Not, RedFlagTest, Score, TrialTest
from cdss.kb.loader import TEXT_FIELDS, load
from cdss.kb.rules import KnowledgeBase, Rule, RuleEntry

# What the loader's problem kinds become as audit findings. Duplicates and untested facts are reported
# by checks of their own (with more detail), so they are not repeated here.
FINDING_OF = {"file": "invalid-file", "rule": "invalid-rule"}


@define
class Entry:
    """One rule as written, whether or not it could be parsed."""

    entry: RuleEntry

    def __getattr__(self, name):
        return getattr(self.entry, name)

    @property
    def place(self) -> Place:
        return Place(self.entry.id, self.entry.file, self.entry.line)

    @property
    def duplicate_of(self) -> Place | None:
        first = self.entry.duplicate_of
        return None if first is None else Place(self.entry.id, first[0], first[1])


@define
class UnknownField:
    rule: str
    path: str
    place: Place


@define
class RuleSource:
    """Everything the audit knows about a rule folder without running a case."""

    kb: KnowledgeBase
    entries: list[Entry] = field(factory=list)
    findings: list[Finding] = field(factory=list)
    unknown_fields: list[UnknownField] = field(factory=list)

    @property
    def directory(self) -> str:
        return self.kb.directory

    @property
    def rules(self) -> list[Rule]:
        """The rules that run: parsed, not deprecated, first of their id."""
        return list(self.kb.rules)

    @property
    def lines(self) -> dict:
        return self.kb.node_lines

    @property
    def file_data(self) -> dict[str, dict]:
        return {name: {"data": data, "root": root} for name, (data, root) in self.kb.documents.items()}

    @property
    def manifest(self) -> dict:
        return self.kb.manifest

    @property
    def loads(self) -> bool:
        """Whether the engine's strict loader would take this rule base as it is."""
        return not self.kb.errors

    def line_of(self, node: Node, rule: Rule) -> int:
        return self.kb.line_of(node, rule)

    def place(self, rule: Rule, node: Node | None = None) -> Place:
        return Place(rule.id, rule.file, rule.line if node is None else self.line_of(node, rule))

    @property
    def failed_min_weeks(self) -> float:
        return self.kb.failed_min_weeks


def read_rule_folder(directory: str | Path | None = None) -> RuleSource:
    kb = load(directory, collect_errors=True)
    source = RuleSource(kb, [Entry(e) for e in kb.entries])
    for error in kb.errors:
        kind = FINDING_OF.get(error.kind)
        if kind is not None:
            source.findings.append(Finding(kind, "error", error.message, Place(error.rule_id, error.file, error.line)))
    source.unknown_fields = [UnknownField(u.rule, u.path, Place(u.rule, u.file, u.line)) for u in kb.unknown_fields]
    return source


# -- reading conditions back as text --------------------------------------------------------------

def describe(node: Node, limit: int = 160) -> str:
    """A condition in one short line, close to how it is written: `pain.duration_weeks >= 12`."""
    text = _describe(node)
    return text if len(text) <= limit else text[:limit - 3] + "..."


OPS = {"eq": "=", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "in": "in",
       "contains": "contains", "contains_any": "contains any of"}


def _describe(node: Node) -> str:
    if isinstance(node, All):
        return "all(" + ", ".join(_describe(i) for i in node.items) + ")"
    if isinstance(node, Any_):
        return "any(" + " | ".join(_describe(i) for i in node.items) + ")"
    if isinstance(node, Not):
        return "not " + _describe(node.item)
    if isinstance(node, Count):
        most = "" if node.at_most is None else f", at most {node.at_most}"
        return f"count(at least {node.at_least}{most} of " + ", ".join(_describe(i) for i in node.items) + ")"
    if isinstance(node, Score):
        return f"score(at least {node.at_least:g} from " + ", ".join(d.name for d in node.domains) + ")"
    if isinstance(node, FieldTest):
        if node.op in ("present", "absent"):
            return f"{node.path} {node.op}"
        operand = node.operand
        if isinstance(operand, FieldRef):
            scale = "" if operand.times == 1 else f" x {operand.times:g}"
            plus = "" if not operand.plus else f" + {operand.plus:g}"
            shown = f"{operand.path}{scale}{plus}"
        elif isinstance(operand, tuple):
            shown = "[" + ", ".join(map(_value, operand)) + "]"
        else:
            shown = _value(operand)
        return f"{node.path} {OPS.get(node.op, node.op)} {shown}"
    if isinstance(node, FactTest):
        return f"fact {node.name}"
    if isinstance(node, ConditionTest):
        return f"condition {node.code} ({'/'.join(node.statuses)})"
    if isinstance(node, RedFlagTest):
        return f"red flag {node.code} ({'/'.join(node.urgencies)})"
    if isinstance(node, TrialTest):
        parts = [node.code, node.outcome]
        if node.joint:
            parts.append(f"joint {node.joint}")
        if node.at_least != 1:
            parts.append(f"x{node.at_least}")
        return "trial " + " ".join(parts)
    return repr(node)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
