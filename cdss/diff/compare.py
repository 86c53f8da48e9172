"""What changed for one case between two rule-base versions: typed changes, each with the rules behind it.

Two results of the same case, one per version, compared list by list and code by code. A change type says
what a reader must weigh: a red flag that disappears is not a recommendation whose urgency moved. The
types are data (CHANGE_TYPES), so that `--fail-on`, the reports and the docs share one list.
"""

from __future__ import annotations

from attrs import frozen

from cdss.model import ErrorResult, Result

# type -> what it means, in the order reports show them (most safety-relevant first)
CHANGE_TYPES = {
    "red_flag_added": "a red flag the base did not raise",
    "red_flag_removed": "a red flag the base raised is gone",
    "red_flag_urgency_changed": "a red flag's urgency changed",
    "red_flag_status_changed": "a red flag's status changed (suspected, confirmed)",
    "condition_added": "a condition the base did not conclude",
    "condition_removed": "a condition the base concluded is gone",
    "condition_status_changed": "a condition's status changed (suspected, probable, confirmed)",
    "recommendation_added": "a recommendation the base did not make",
    "recommendation_removed": "a recommendation the base made is gone",
    "recommendation_urgency_changed": "a recommendation's urgency changed",
    "recommendation_for_changed": "the conditions a recommendation is for changed",
    "do_not_added": "advice against the base did not give",
    "do_not_removed": "advice against the base gave is gone",
    "warning_added": "a warning the base did not give",
    "warning_removed": "a warning the base gave is gone",
    "evaluation_error": "the case evaluates under one version and fails under the other",
}
GROUPS = ("red_flag", "condition", "recommendation", "do_not", "warning")  # --fail-on red_flag: every red_flag_*

# (result attribute, change-type stem, the attributes whose change is a change of its own)
LISTS = (("red_flags", "red_flag", ("urgency", "status")),
         ("conditions", "condition", ("status",)),
         ("recommendations", "recommendation", ("urgency", "for_")),
         ("do_not", "do_not", ()),
         ("warnings", "warning", ()))
ATTRIBUTE_TYPE = {"urgency": "urgency_changed", "status": "status_changed", "for_": "for_changed"}


@frozen
class Change:
    """One difference: its type, the code, the value before and after (status, urgency, `for`; None for an
    added or removed item), and the rules (or policies) behind it in each version."""

    type: str
    code: str
    base: str | None = None
    new: str | None = None
    base_rules: tuple[str, ...] = ()
    new_rules: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"type": self.type, "code": self.code, "base": self.base, "new": self.new,
                "base_rules": list(self.base_rules), "new_rules": list(self.new_rules)}

    def describe(self) -> str:
        if self.base is not None and self.new is not None:
            what = f"{self.code}: {self.base} -> {self.new}"
        else:
            what = self.code
        rules = []
        if self.base_rules:
            rules.append("base " + ", ".join(self.base_rules))
        if self.new_rules:
            rules.append("new " + ", ".join(self.new_rules))
        return f"{self.type} {what}" + (f" ({'; '.join(rules)})" if rules else "")


def _value(item, attribute: str) -> str:
    value = getattr(item, attribute)
    return ", ".join(value) if isinstance(value, tuple) else str(value)


def _removed_by(result: Result, code: str) -> tuple[str, ...]:
    """The policies that removed `code` from this result after a rule concluded it."""
    out = []
    for entry in result.trace:
        if not entry.rule.startswith("policy."):
            continue
        for token in entry.asserted:
            rest = token[len("removed:"):] if token.startswith("removed:") else None
            if rest is None:
                continue
            rest = rest[len("do_not:"):] if rest.startswith("do_not:") else rest
            if rest == code or rest.startswith(code + ":for:"):
                out.append(entry.rule)
                break
    return tuple(out)


def _rules(item) -> tuple[str, ...]:
    return tuple(getattr(item, "rules", ()))


def changes(base: Result | ErrorResult, new: Result | ErrorResult) -> tuple[Change, ...]:
    """Every difference between the two results of one case, in report order."""
    if isinstance(base, ErrorResult) or isinstance(new, ErrorResult):
        if isinstance(base, ErrorResult) and isinstance(new, ErrorResult):
            return ()  # the same bad case under both: an input error, not a change
        def show(result):
            return f"error: {result.message}" if isinstance(result, ErrorResult) else "ok"
        return (Change("evaluation_error", "", show(base), show(new)),)
    out: list[Change] = []
    for attribute, stem, tracked in LISTS:
        before = {item.code: item for item in getattr(base, attribute)}
        after = {item.code: item for item in getattr(new, attribute)}
        for code, item in after.items():
            if code not in before:
                out.append(Change(f"{stem}_added", code, None, None, _removed_by(base, code), _rules(item)))
        for code, item in before.items():
            if code not in after:
                out.append(Change(f"{stem}_removed", code, None, None, _rules(item), _removed_by(new, code)))
        for code, item in before.items():
            other = after.get(code)
            if other is None:
                continue
            for name in tracked:
                if getattr(item, name) != getattr(other, name):
                    out.append(Change(f"{stem}_{ATTRIBUTE_TYPE[name]}", code, _value(item, name), _value(other, name),
                                      _rules(item), _rules(other)))
    order = {name: i for i, name in enumerate(CHANGE_TYPES)}
    return tuple(sorted(out, key=lambda c: (order[c.type], c.code)))


def fired(result: Result | ErrorResult) -> frozenset[str]:
    """The rules (and policies) that fired for a result."""
    if isinstance(result, ErrorResult):
        return frozenset()
    return frozenset(entry.rule for entry in result.trace)


def select(spec: str) -> set[str]:
    """The change types a `--fail-on` word names: a type, a group (`red_flag`: every red_flag_*), or `any`.
    Hyphens may stand for underscores. ValueError for a word that names none."""
    word = spec.strip().replace("-", "_")
    if word == "any":
        return set(CHANGE_TYPES)
    if word in CHANGE_TYPES:
        return {word}
    if word in GROUPS:
        return {name for name in CHANGE_TYPES if name.startswith(word + "_")}
    raise ValueError(f"{spec!r} is not a change type; expected any, one of {', '.join(GROUPS)}, "
                     f"or one of {', '.join(CHANGE_TYPES)}")
