"""The impact of a rule-base change on a corpus: what `cdss diff` reports, added up case by case.

Counts and case ids per change type, per rule whose firing changed, the rules added, removed or edited
between the versions, and (on request) both results of a case side by side. Built in input order from
the workers' CaseDiffs, so the report is the same at any parallelism.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from attrs import define, field

from cdss.diff.compare import CHANGE_TYPES
from cdss.diff.worker import CaseDiff

EXAMPLES = 5  # case ids a text line shows per change type or rule


@define
class RuleFiring:
    """How one rule's firing changed over the corpus."""

    rule: str
    started: int = 0
    stopped: int = 0
    started_examples: list = field(factory=list)
    stopped_examples: list = field(factory=list)

    def to_dict(self) -> dict:
        return {"rule": self.rule, "started": self.started, "stopped": self.stopped,
                "started_examples": self.started_examples, "stopped_examples": self.stopped_examples}


@define
class DiffReport:
    base: dict  # {"source", "revision", "version", "sha256", "profile"}
    new: dict
    rules_added: list = field(factory=list)
    rules_removed: list = field(factory=list)
    rules_edited: list = field(factory=list)
    cases: int = 0
    changed: int = 0
    problems: list = field(factory=list)  # (where, message): cases that could not be read
    by_type: dict = field(factory=dict)  # change type -> [case id, ...] in input order
    firing: dict = field(factory=dict)  # rule -> RuleFiring
    changed_cases: list = field(factory=list)  # CaseDiff of every changed case, in input order
    sides: dict = field(factory=dict)  # case id -> (base side, new side), as asked for
    seconds: float = 0.0
    fail_on: tuple = ()  # the change types that fail the run
    jobs: int = 1

    def add(self, diff: CaseDiff) -> None:
        self.cases += 1
        if diff.problem is not None:
            self.problems.append((diff.where, diff.problem))
            return
        if diff.changes:
            self.changed += 1
            self.changed_cases.append(diff)
            for kind in dict.fromkeys(c.type for c in diff.changes):
                self.by_type.setdefault(kind, []).append(diff.case_id)
        for rule in diff.started:
            firing = self.firing.setdefault(rule, RuleFiring(rule))
            firing.started += 1
            if len(firing.started_examples) < EXAMPLES:
                firing.started_examples.append(diff.case_id)
        for rule in diff.stopped:
            firing = self.firing.setdefault(rule, RuleFiring(rule))
            firing.stopped += 1
            if len(firing.stopped_examples) < EXAMPLES:
                firing.stopped_examples.append(diff.case_id)
        if diff.sides is not None:
            self.sides[diff.case_id] = diff.sides

    @property
    def types(self) -> list[tuple[str, list]]:
        """(change type, case ids) for every type that occurred, in CHANGE_TYPES order."""
        return [(kind, self.by_type[kind]) for kind in CHANGE_TYPES if kind in self.by_type]

    @property
    def failing(self) -> list[str]:
        """The --fail-on change types that occurred."""
        return [kind for kind in self.fail_on if kind in self.by_type]

    @property
    def ok(self) -> bool:
        return not self.failing and not self.problems

    def rule_rows(self) -> list[RuleFiring]:
        return sorted(self.firing.values(), key=lambda f: (-(f.started + f.stopped), f.rule))

    def change_counts(self) -> Counter:
        return Counter({kind: len(ids) for kind, ids in self.by_type.items()})

    def to_dict(self) -> dict:
        return {
            "base": self.base, "new": self.new,
            "rules": {"added": self.rules_added, "removed": self.rules_removed, "edited": self.rules_edited},
            "cases": self.cases, "changed": self.changed, "unchanged": self.cases - self.changed - len(self.problems),
            "invalid": [{"where": where, "message": message} for where, message in self.problems],
            "change_types": {kind: {"cases": len(ids), "meaning": CHANGE_TYPES[kind], "case_ids": ids}
                             for kind, ids in self.types},
            "firing": [f.to_dict() for f in self.rule_rows()],
            "changed_cases": [{"case_id": d.case_id, "where": d.where, "changes": [c.to_dict() for c in d.changes],
                               "started": list(d.started), "stopped": list(d.stopped)} for d in self.changed_cases],
            "side_by_side": {case_id: {"base": b, "new": n} for case_id, (b, n) in self.sides.items()},
            "fail_on": list(self.fail_on), "failed": self.failing,
            "seconds": round(self.seconds, 3),
        }


def rule_changes(base_kb, new_kb) -> tuple[list, list, list]:
    """Rules added, removed, and edited (same id, different text as written) between two knowledge bases."""
    base_raw, new_raw = _as_written(base_kb), _as_written(new_kb)
    added = [rule for rule in new_raw if rule not in base_raw]
    removed = [rule for rule in base_raw if rule not in new_raw]
    edited = [rule for rule in new_raw if rule in base_raw and new_raw[rule] != base_raw[rule]]
    return added, removed, edited


def _as_written(kb) -> dict:
    from cdss.kb.yamlfile import read_yaml
    out = {}
    ids = {rule.id for rule in kb.rules}
    for name in kb.files:
        data, _ = read_yaml(Path(name))
        for raw in data.get("rules", ()) if isinstance(data, dict) else ():
            if isinstance(raw, dict) and raw.get("id") in ids:
                out[raw["id"]] = raw
    return out
