"""Read a rule folder for the audit: as far as it goes, remembering every line, never stopping at the first
problem.

`knowledge.load` refuses a rule base with a duplicate id, an unknown field or a fact nobody asserts, which is
right for running cases but leaves nothing to audit. This reader reads the same files with the same parser,
rule by rule: a rule that cannot be parsed, a duplicate or a missing text becomes a finding with its file and
line, and the rest of the rule base is still analysed. A field the case schema lacks is kept in the rule
(it can never be recorded in a valid case), so the reasoning sees the rule exactly as the author wrote it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
from attrs import define, field

from . import resources
from .conditions import (All, Any_, ConditionTest, Count, FactTest, FieldRef, FieldTest, Node, Not, RedFlagTest,
                         Score, TrialTest)
from .errors import RuleFileError
from .knowledge import MANIFEST, Rule, _RuleParser, field_catalogue, rule_files
from .audit_model import Finding, Place
from .model import Text
from .yamlfile import line_at, read_yaml

TEXT_FIELDS = ("title", "rationale", "limitations")


@define
class Entry:
    """One rule as written, whether or not it could be parsed."""

    id: str | None
    file: str
    line: int | None
    index: int
    raw: dict
    status: str | None
    rule: Rule | None = None
    duplicate_of: Place | None = None

    @property
    def place(self) -> Place:
        return Place(self.id, self.file, self.line)


@define
class UnknownField:
    rule: str
    path: str
    place: Place


@define
class RuleSource:
    """Everything the audit knows about a rule folder without running a case."""

    directory: str
    entries: list[Entry] = field(factory=list)
    findings: list[Finding] = field(factory=list)
    lines: dict[int, int] = field(factory=dict)  # id(condition node) -> line
    unknown_fields: list[UnknownField] = field(factory=list)
    file_data: dict[str, dict] = field(factory=dict)
    manifest: dict = field(factory=dict)

    @property
    def rules(self) -> list[Rule]:
        """The rules that run: parsed, not deprecated, first of their id."""
        return [e.rule for e in self.entries if e.rule is not None]

    def line_of(self, node: Node, rule: Rule) -> int:
        return self.lines.get(id(node)) or rule.line

    def place(self, rule: Rule, node: Node | None = None) -> Place:
        return Place(rule.id, rule.file, rule.line if node is None else self.line_of(node, rule))

    @property
    def failed_min_weeks(self) -> float:
        return self.manifest.get("failed_trial_min_weeks", 4) if isinstance(self.manifest, dict) else 4


def _rule_schema_validator() -> jsonschema.Draft202012Validator:
    schema = resources.schema("rule")
    return jsonschema.Draft202012Validator({"$ref": "#/$defs/rule", "$defs": schema["$defs"]})


class _TolerantParser(_RuleParser):
    """The loader's parser, remembering each condition's line and keeping unknown fields as tests that can
    never hold (a valid case cannot record them)."""

    def __init__(self, file, root, rule_index, rule_id, source: RuleSource):
        super().__init__(file, root, rule_index, rule_id)
        self.source = source

    def _line(self, where: list) -> int | None:
        return line_at(self.root, ["rules", self.rule_index] + where)

    def condition(self, data: dict, where: list) -> Node:
        node = super().condition(data, where)
        self.source.lines[id(node)] = self._line(where)
        return node

    def field_test(self, data: dict, where: list) -> FieldTest:
        path = data["field"]
        if path in field_catalogue():
            operand_ref = next((v for k, v in data.items() if k != "field" and isinstance(v, dict)), None)
            if operand_ref is None or operand_ref.get("field") in field_catalogue():
                return super().field_test(data, where)
            path = operand_ref["field"]
        line = self._line(where + ["field"])
        self.source.unknown_fields.append(UnknownField(self.rule_id, path, Place(self.rule_id, self.file, line)))
        op = next(k for k in data if k != "field")
        operand = data[op]
        if isinstance(operand, dict):
            operand = FieldRef(operand["field"], operand.get("times", 1), operand.get("plus", 0))
        elif isinstance(operand, list):
            operand = tuple(operand)
        return FieldTest(data["field"], op, operand, line=line)


def _patch_texts(raw: dict) -> dict:
    """A copy that the schema accepts despite missing sources or Dutch text (reported separately)."""
    patched = copy.deepcopy(raw)
    sources = patched.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) and len(s) >= 3 for s in sources):
        patched["sources"] = ["(missing)"]
    for name in TEXT_FIELDS:
        text = patched.get(name)
        if isinstance(text, dict):
            en = text.get("en") if isinstance(text.get("en"), str) and text.get("en") else "(missing)"
            nl = text.get("nl") if isinstance(text.get("nl"), str) and text.get("nl") else en
            patched[name] = {"en": en, "nl": nl}
    for conclusion in patched.get("then", ()) if isinstance(patched.get("then"), list) else ():
        warn = conclusion.get("warn") if isinstance(conclusion, dict) else None
        if isinstance(warn, dict):
            warn.setdefault("en", "(missing)")
            if not isinstance(warn.get("nl"), str) or not warn.get("nl"):
                warn["nl"] = warn.get("en") or "(missing)"
    return patched


def read_rule_folder(directory: str | Path | None = None) -> RuleSource:
    directory = Path(directory) if directory else resources.DEFAULT_RULES_DIR
    source = RuleSource(str(directory))
    if not directory.is_dir():
        source.findings.append(Finding("invalid-file", "error", "not a folder of rule files", Place(None, str(directory))))
        return source
    manifest_path = directory / MANIFEST
    if manifest_path.is_file():
        try:
            source.manifest, _ = read_yaml(manifest_path)
        except RuleFileError as error:
            source.findings.append(Finding("invalid-file", "error", error.message, Place(None, error.file, error.line)))
    else:
        source.findings.append(Finding("invalid-file", "error", "missing: a rule folder needs a knowledge_base.yaml",
                                       Place(None, str(manifest_path))))
    try:
        files = rule_files(directory)
    except RuleFileError as error:
        source.findings.append(Finding("invalid-file", "error", error.message, Place(None, error.file, error.line)))
        return source
    validator = _rule_schema_validator()
    seen: dict[str, Place] = {}
    for path in files:
        _read_file(source, path, validator, seen)
    return source


def _read_file(source: RuleSource, path: Path, validator, seen: dict[str, Place]) -> None:
    name = str(path)
    try:
        data, root = read_yaml(path)
    except RuleFileError as error:
        source.findings.append(Finding("invalid-file", "error", error.message, Place(None, name, error.line)))
        return
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        source.findings.append(Finding("invalid-file", "error", "a rule file holds `pathway`, `title` and a list of `rules`",
                                       Place(None, name, 1)))
        return
    source.file_data[name] = {"data": data, "root": root}
    pathway = data.get("pathway") if isinstance(data.get("pathway"), str) else path.stem
    for index, raw in enumerate(data["rules"]):
        line = line_at(root, ["rules", index])
        if not isinstance(raw, dict):
            source.findings.append(Finding("invalid-rule", "error", "a rule is a mapping (id, title, status, ...)",
                                           Place(None, name, line)))
            continue
        rule_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        entry = Entry(rule_id, name, line, index, raw, raw.get("status") if isinstance(raw.get("status"), str) else None)
        source.entries.append(entry)
        if rule_id is None:
            source.findings.append(Finding("invalid-rule", "error", "the rule has no id", Place(None, name, line)))
            continue
        if rule_id in seen:
            entry.duplicate_of = seen[rule_id]
            continue
        seen[rule_id] = entry.place
        patched = _patch_texts(raw)
        error = jsonschema.exceptions.best_match(validator.iter_errors(patched))
        if error is not None:
            parts = list(error.absolute_path)
            where = "/" + "/".join(map(str, parts))
            message = error.message if len(error.message) < 200 else error.message[:200] + "..."
            source.findings.append(Finding("invalid-rule", "error", f"{where}: {message}",
                                           Place(rule_id, name, line_at(root, ["rules", index] + parts))))
            continue
        if patched["status"] == "deprecated":
            continue
        parser = _TolerantParser(name, root, index, rule_id, source)
        try:
            entry.rule = Rule(
                id=rule_id, title=Text(**patched["title"]), status=patched["status"], sources=tuple(patched["sources"]),
                when=parser.condition(patched["when"], ["when"]),
                then=tuple(parser.conclusion(c, ["then", i]) for i, c in enumerate(patched["then"])),
                rationale=Text(**patched["rationale"]), pathway=pathway, file=name, line=line or 0,
                order=len(source.rules))
        except RuleFileError as failure:
            source.findings.append(Finding("invalid-rule", "error", failure.message,
                                           Place(rule_id, name, failure.line or line)))


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
