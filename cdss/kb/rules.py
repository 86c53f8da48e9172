"""The loaded knowledge: rules, what they conclude, and the knowledge base that holds them.

Frozen attrs classes: a knowledge base is built once per process and then only read, by the compiler,
the engines, the policies and the audit alike.
"""

from __future__ import annotations

import functools

from attrs import field, frozen

from cdss.kb.conditions import Node
from cdss.kb.policy import ClinicalPolicy, from_manifest
from cdss.kb.phrases import EMPTY, Phrases
from cdss.model import PROFILES, KnowledgeBaseId, Text


@frozen
class Conclusion:
    """One thing a rule concludes: kind is assert | condition | classify | red_flag | recommend |
    advise_against | warn; data holds the conclusion's fields as written."""

    kind: str
    data: dict = field(eq=False)
    # The derived thing this conclusion makes testable by other rules, if any: worked out once, as the
    # conclusion is made (the direct engine asks it of every conclusion that fires, ~20 a case).
    asserts: tuple[str, str] | None = field(init=False, eq=False, repr=False)

    @asserts.default
    def _asserts(self) -> tuple[str, str] | None:
        if self.kind == "assert":
            return ("fact", self.data["name"])
        if self.kind == "condition":
            return ("condition", self.data["code"])
        if self.kind == "red_flag":
            return ("red_flag", self.data["code"])
        return None

    def describe(self) -> str:
        """The conclusion as one trace token: `fact:x`, `condition:code:status`, `recommend:code:urgency`."""
        d = self.data
        if self.kind == "assert":
            return f"fact:{d['name']}"
        if self.kind == "condition":
            return f"condition:{d['code']}:{d['status']}"
        if self.kind == "classify":
            return f"classify:{d['code']}:{d['icd10']}"
        if self.kind == "red_flag":
            return f"red_flag:{d['code']}:{d['status']}:{d['urgency']}"
        if self.kind == "recommend":
            return f"recommend:{d['code']}:{d['urgency']}"
        if self.kind == "advise_against":
            return f"do_not:{d['code']}"
        return f"warning:{d['code']}"


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
    profiles: tuple[str, ...] = PROFILES  # the guideline profiles it belongs to (absent in the file: all)
    lookups: dict = field(factory=dict, eq=False)  # name -> {of, steps}: texts chosen by a count or score
    placeholders: bool = False  # whether its rationale or warnings name case facts (cdss.kb.placeholders)

    def describe_conclusions(self) -> list[str]:
        return [c.describe() for c in self.then]


@frozen
class RuleEntry:
    """One rule as written in its file, whether or not it could be parsed (what the audit reads)."""

    id: str | None
    file: str
    line: int | None
    index: int
    raw: dict = field(eq=False)
    status: str | None
    rule: Rule | None = field(default=None, eq=False)
    duplicate_of: tuple[str, int | None] | None = None  # (file, line) of the first rule with this id


@frozen
class UnknownField:
    """A test of a field the case schema lacks: a valid case can never record it (collecting mode only)."""

    rule: str
    path: str
    file: str
    line: int | None


@frozen
class KnowledgeBase:
    """The loaded rule base. Rules are in rule-base order: files by name, rules as written.

    It holds the rules of one guideline profile (`identity.profile`): a rule whose `profiles` leave that
    profile out is not loaded at all, so nothing downstream needs to know profiles exist.

    Loaded in collecting mode (`load(..., collect_errors=True)`), `errors` holds every problem found and
    `rules` every rule that could still be read; the audit judges exactly these rules.
    """

    directory: str
    rules: tuple[Rule, ...]
    manifest: dict = field(eq=False)
    identity: KnowledgeBaseId
    files: tuple[str, ...]
    errors: tuple = ()  # RuleFileError, collecting mode only
    entries: tuple[RuleEntry, ...] = field(default=(), eq=False, repr=False)
    unknown_fields: tuple[UnknownField, ...] = field(default=(), eq=False, repr=False)
    node_lines: dict = field(factory=dict, eq=False, repr=False)  # id(condition node) -> line
    documents: dict = field(factory=dict, eq=False, repr=False)  # file -> (data, YAML node tree)
    phrases: Phrases = field(default=EMPTY, eq=False, repr=False)  # case facts in words (rules/phrases.yaml)

    @functools.cached_property
    def by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}

    @functools.cached_property
    def order_of(self) -> dict[str, int]:
        return {rule.id: rule.order for rule in self.rules}

    @property
    def profile(self) -> str:
        return self.identity.profile

    @functools.cached_property
    def policy(self) -> ClinicalPolicy:
        """The clinical policy the manifest declares (rules/knowledge_base.yaml)."""
        return from_manifest(self.manifest)

    def line_of(self, node: Node, rule: Rule) -> int:
        """The line of a condition node in its rule file (collecting mode), else the rule's line."""
        return self.node_lines.get(id(node)) or rule.line
