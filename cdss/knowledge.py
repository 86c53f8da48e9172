"""Load and check a rule folder into a KnowledgeBase: the rules, their order, version and hash.

A rule base that does not load stops the run: a typo in a field name or a code would otherwise make a
rule silently never fire. Every error names the file, the rule id and the line.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import jsonschema
from attrs import field, frozen

from . import resources
from .conditions import (FIELD_OPS, LIST_OPS, NUMERIC_OPS, All, Any_, ConditionTest, Count, Domain, FactTest,
                         FieldRef, FieldTest, Node, Not, RedFlagTest, Score, TrialTest, references)
from .errors import RuleFileError
from .model import KnowledgeBaseId, Text
from .yamlfile import line_at, read_yaml

MANIFEST = "knowledge_base.yaml"


@frozen
class Conclusion:
    """One thing a rule concludes: kind is assert | condition | classify | red_flag | recommend |
    advise_against | warn; data holds the conclusion's fields as written."""

    kind: str
    data: dict = field(eq=False)

    @property
    def asserts(self) -> tuple[str, str] | None:
        """The derived thing this conclusion makes testable by other rules, if any."""
        if self.kind == "assert":
            return ("fact", self.data["name"])
        if self.kind == "condition":
            return ("condition", self.data["code"])
        if self.kind == "red_flag":
            return ("red_flag", self.data["code"])
        return None


@frozen
class Rule:
    id: str
    title: Text
    status: str
    sources: tuple[str, ...]
    when: Node = field(eq=False)
    then: tuple[Conclusion, ...] = field(eq=False)
    rationale: Text = field(eq=False)
    pathway: str = ""
    file: str = ""
    line: int = 0
    order: int = 0

    def describe_conclusions(self) -> list[str]:
        return [describe_conclusion(c) for c in self.then]


def describe_conclusion(conclusion: Conclusion) -> str:
    d = conclusion.data
    if conclusion.kind == "assert":
        return f"fact:{d['name']}"
    if conclusion.kind == "condition":
        return f"condition:{d['code']}:{d['status']}"
    if conclusion.kind == "classify":
        return f"classify:{d['code']}:{d['icd10']}"
    if conclusion.kind == "red_flag":
        return f"red_flag:{d['code']}:{d['status']}:{d['urgency']}"
    if conclusion.kind == "recommend":
        return f"recommend:{d['code']}:{d['urgency']}"
    if conclusion.kind == "advise_against":
        return f"do_not:{d['code']}"
    return f"warning:{d['code']}"


@frozen
class KnowledgeBase:
    """The loaded rule base. Rules are in rule-base order: files by name, rules as written."""

    directory: str
    rules: tuple[Rule, ...]
    manifest: dict = field(eq=False)
    identity: KnowledgeBaseId
    files: tuple[str, ...]

    @functools.cached_property
    def by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}

    @functools.cached_property
    def order_of(self) -> dict[str, int]:
        return {rule.id: rule.order for rule in self.rules}

    @property
    def failed_min_weeks(self) -> float:
        return self.manifest.get("failed_trial_min_weeks", 4)


@functools.cache
def field_catalogue() -> dict[str, dict]:
    """Every case field path (dotted) with its JSON Schema, from the case schema itself."""
    catalogue: dict[str, dict] = {}

    def visit(prefix: str, node: dict) -> None:
        for name, sub in node.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            catalogue[path] = sub
            if sub.get("type") == "object":
                visit(path, sub)

    visit("", resources.schema("case"))
    return catalogue


def _kind_of(spec: dict) -> str:
    if "enum" in spec:
        return "enum"
    return spec.get("type", "any")


def _scalar_ok(spec: dict, value) -> bool:
    kind = _kind_of(spec)
    if kind == "enum":
        return value in spec["enum"]
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("number", "integer"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    return False


class _RuleParser:
    """Turns one rule's YAML data into typed nodes, checking each against the case schema and vocabulary."""

    def __init__(self, file: str, root, rule_index: int, rule_id: str):
        self.file, self.root, self.rule_index, self.rule_id = file, root, rule_index, rule_id
        self.vocab = resources.vocabulary()

    def fail(self, where: list, message: str):
        line = line_at(self.root, ["rules", self.rule_index] + where)
        raise RuleFileError(self.file, message, rule_id=self.rule_id, line=line)

    def condition(self, data: dict, where: list) -> Node:
        if "all" in data:
            return All(tuple(self.condition(c, where + ["all", i]) for i, c in enumerate(data["all"])))
        if "any" in data:
            return Any_(tuple(self.condition(c, where + ["any", i]) for i, c in enumerate(data["any"])))
        if "not" in data:
            return Not(self.condition(data["not"], where + ["not"]))
        if "count" in data:
            spec = data["count"]
            items = tuple(self.condition(c, where + ["count", "of", i]) for i, c in enumerate(spec["of"]))
            if spec["at_least"] > len(items):
                self.fail(where + ["count"], f"count needs at least {spec['at_least']} of only {len(items)} items")
            return Count(items, spec["at_least"], spec.get("at_most"))
        if "score" in data:
            spec = data["score"]
            domains = tuple(
                Domain(d["name"], tuple((o["points"], self.condition(o["when"], where + ["score", "domains", i, "options", j, "when"]))
                                        for j, o in enumerate(d["options"])))
                for i, d in enumerate(spec["domains"]))
            return Score(domains, spec["at_least"], spec.get("at_most"))
        if "field" in data:
            return self.field_test(data, where)
        if "fact" in data:
            return FactTest(data["fact"])
        if "condition" in data:
            code = data["condition"]
            if code not in self.vocab["conditions"]:
                self.fail(where + ["condition"], f"unknown condition code {code!r}")
            return ConditionTest(code, tuple(data.get("status", ("suspected", "probable", "confirmed"))))
        if "red_flag" in data:
            code = data["red_flag"]
            if code != "any" and code not in self.vocab["red_flags"]:
                self.fail(where + ["red_flag"], f"unknown red flag code {code!r}")
            return RedFlagTest(code, tuple(data.get("urgency", self.vocab["urgencies"])))
        if "trial" in data:
            code = data["trial"]
            if self.vocab["recommendations"].get(code, {}).get("kind") != "treatment":
                self.fail(where + ["trial"], f"{code!r} is not a treatment code")
            return TrialTest(code, data.get("joint"), data.get("outcome", "any"), data.get("min_weeks"),
                             data.get("at_least", 1))
        self.fail(where, "unknown condition form")

    def field_test(self, data: dict, where: list) -> FieldTest:
        path = data["field"]
        catalogue = field_catalogue()
        if path not in catalogue:
            from difflib import get_close_matches
            close = get_close_matches(path, catalogue, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.fail(where + ["field"], f"no case field {path!r}{hint}")
        spec = catalogue[path]
        op = next(k for k in data if k != "field")
        operand = data[op]
        kind = _kind_of(spec)
        at = where + [op]
        if op in ("eq", "ne") and not _scalar_ok(spec, operand):
            self.fail(at, f"{path} takes {self._expects(spec)}; got {operand!r}")
        if op == "in":
            for value in operand:
                if not _scalar_ok(spec, value):
                    self.fail(at, f"{path} takes {self._expects(spec)}; got {value!r}")
        if op in NUMERIC_OPS:
            if kind not in ("number", "integer"):
                self.fail(at, f"{op} needs a number field; {path} is {self._expects(spec)}")
            if isinstance(operand, dict):
                ref = operand["field"]
                if _kind_of(catalogue.get(ref, {})) not in ("number", "integer"):
                    self.fail(at + ["field"], f"{ref!r} is not a number field of the case")
                operand = FieldRef(ref, operand.get("times", 1), operand.get("plus", 0))
            elif isinstance(operand, bool) or not isinstance(operand, (int, float)):
                self.fail(at, f"{op} needs a number; got {operand!r}")
        if op in LIST_OPS:
            if kind != "array":
                self.fail(at, f"{op} needs a list field; {path} is {self._expects(spec)}")
            values = operand if op == "contains_any" else [operand]
            for value in values:
                if not _scalar_ok(spec["items"], value):
                    self.fail(at, f"{path} holds {self._expects(spec['items'])}; got {value!r}")
            if op == "contains_any":
                operand = tuple(operand)
        if op == "in":
            operand = tuple(operand)
        assert op in FIELD_OPS
        return FieldTest(path, op, operand, line=line_at(self.root, ["rules", self.rule_index] + where))

    @staticmethod
    def _expects(spec: dict) -> str:
        if "enum" in spec:
            return "one of " + ", ".join(map(str, spec["enum"]))
        return {"boolean": "true or false", "number": "a number", "integer": "an integer",
                "array": "a list", "object": "an object"}.get(spec.get("type"), "a value")

    def conclusion(self, data: dict, where: list) -> Conclusion:
        kind = next(iter(data))
        body = data[kind]
        vocab = self.vocab
        at = where + [kind]
        if kind == "assert":
            return Conclusion("assert", {"name": body})
        body = dict(body)
        code = body.get("code")
        if kind in ("condition", "classify"):
            if code not in vocab["conditions"]:
                self.fail(at + ["code"], f"unknown condition code {code!r}")
            icd10 = body.get("icd10")
            if icd10 is not None and icd10 not in vocab["conditions"][code]["icd10"]:
                self.fail(at + ["icd10"], f"ICD-10 {icd10!r} is not one of {vocab['conditions'][code]['icd10']} for {code}")
        elif kind == "red_flag":
            if code not in vocab["red_flags"]:
                self.fail(at + ["code"], f"unknown red flag code {code!r}")
        elif kind == "recommend":
            known = vocab["recommendations"].get(code)
            if known is None:
                self.fail(at + ["code"], f"unknown recommendation code {code!r}")
            for key in ("kind", "category"):
                if key in body and body[key] != known.get(key):
                    self.fail(at + [key], f"{code} has {key} {known.get(key)!r} in the contract, not {body[key]!r}")
            body["kind"], body["category"] = known["kind"], known.get("category")
        elif kind == "advise_against":
            if code not in vocab["do_not"]:
                self.fail(at + ["code"], f"unknown do-not code {code!r}")
        for i, target in enumerate(body.get("for", ())):
            if target not in vocab["conditions"] and target not in vocab["red_flags"]:
                self.fail(at + ["for", i], f"'for' names {target!r}, which is neither a condition nor a red flag code")
        return Conclusion(kind, body)


def _schema_error(file: str, data, root, schema_name: str) -> None:
    validator = jsonschema.Draft202012Validator(resources.schema(schema_name))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return
    parts = list(error.absolute_path)
    rule_id = None
    if len(parts) >= 2 and parts[0] == "rules" and isinstance(data, dict):
        rules = data.get("rules")
        if isinstance(rules, list) and isinstance(parts[1], int) and isinstance(rules[parts[1]], dict):
            rule_id = rules[parts[1]].get("id")
    where = "/" + "/".join(map(str, parts))
    message = error.message if len(error.message) < 300 else error.message[:300] + "..."
    if error.validator == "oneOf" and parts:
        message = f"not a valid condition or conclusion at {where}"
    raise RuleFileError(file, f"{where}: {message}", rule_id=rule_id, line=line_at(root, parts))


def rule_files(directory: Path) -> list[Path]:
    """The rule files of a folder, by name; symlinks that leave the folder or loop are refused."""
    try:
        entries = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.name != MANIFEST)
    except OSError as error:
        raise RuleFileError(str(directory), f"cannot read the rule folder: {error.strerror or error}") from None
    for path in entries:
        if not path.is_file():
            raise RuleFileError(str(path), "not a regular file (a broken or looping symlink?)")
    return entries


def load(directory: str | Path | None = None) -> KnowledgeBase:
    """Load, check and order every rule of a folder. Raises RuleFileError on the first problem."""
    directory = Path(directory) if directory else resources.DEFAULT_RULES_DIR
    if not directory.is_dir():
        raise RuleFileError(str(directory), "not a folder of rule files")
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise RuleFileError(str(manifest_path), "missing: a rule folder needs a knowledge_base.yaml (name, version)")
    manifest, manifest_root = read_yaml(manifest_path)
    _schema_error(str(manifest_path), manifest, manifest_root, "knowledge_base")

    digest = hashlib.sha256()
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    files = rule_files(directory)
    if not files:
        raise RuleFileError(str(directory), "no rule files (*.yaml) in the folder")
    for path in [manifest_path] + files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    marker = _validated_marker(digest.hexdigest())
    already_valid = marker is not None and marker.exists()
    for path in files:
        name = str(path)
        data, root = read_yaml(path)
        if not already_valid:
            _schema_error(name, data, root, "rule")
        for index, raw in enumerate(data["rules"]):
            parser = _RuleParser(name, root, index, raw["id"])
            line = line_at(root, ["rules", index])
            if raw["id"] in seen:
                raise RuleFileError(name, f"duplicate rule id (first defined in {seen[raw['id']]})",
                                    rule_id=raw["id"], line=line)
            seen[raw["id"]] = f"{path.name}:{line}"
            if raw["status"] == "deprecated":
                continue
            rules.append(Rule(
                id=raw["id"], title=Text(**raw["title"]), status=raw["status"], sources=tuple(raw["sources"]),
                when=parser.condition(raw["when"], ["when"]),
                then=tuple(parser.conclusion(c, ["then", i]) for i, c in enumerate(raw["then"])),
                rationale=Text(**raw["rationale"]), pathway=data["pathway"], file=name, line=line or 0,
                order=len(rules)))
    _check_references(rules)
    if marker is not None and not already_valid:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass  # no cache: the next load validates again
    return KnowledgeBase(directory=str(directory), rules=tuple(rules), manifest=manifest,
                         identity=KnowledgeBaseId(str(manifest["version"]), digest.hexdigest()),
                         files=tuple(str(p) for p in files))


def _validated_marker(rules_digest: str) -> Path | None:
    """A marker that these exact rule bytes passed the rule schema (itself hashed in the name): JSON Schema
    validation is most of a cold load, and a rule base that was valid stays valid. Everything else (YAML
    safety, field paths, codes, references) is checked on every load. CDSS_CACHE=off disables it."""
    import os
    where = os.environ.get("CDSS_CACHE", "")
    if where == "off":
        return None
    base = Path(where) if where else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cdss"
    schema_digest = hashlib.sha256((resources.SCHEMA_DIR / "rule.schema.json").read_bytes()).hexdigest()
    return base / f"rules-valid-{rules_digest[:32]}-{schema_digest[:16]}"


def _check_references(rules: list[Rule]) -> None:
    """A fact that no rule asserts is a typo or a dead branch: refuse it at load time."""
    asserted = {c.asserts for rule in rules for c in rule.then if c.asserts}
    for rule in rules:
        for ref in sorted(references(rule.when)):
            if ref[0] == "fact" and ref not in asserted:
                raise RuleFileError(rule.file, f"tests fact {ref[1]!r}, which no rule asserts", rule_id=rule.id,
                                    line=rule.line)
