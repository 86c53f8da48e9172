"""The parts of a rule the audit talks about: its branches (the alternatives of any, count and score),
when two conclusions say the same thing, and conditions and conclusions written back as one short line
of text, close to how they are written (`pain.duration_weeks >= 12`, `recommend mri_hip (soon)`).
"""

from __future__ import annotations

from cdss.kb.conditions import All, Any_, ConditionTest, Count, FactTest, FieldRef, FieldTest, Node, Not, RedFlagTest, Score, TrialTest
from cdss.kb.rules import Conclusion


def positive_alternatives(node: Node):
    """The items of any / count / score nodes that are not under a `not`: the rule's branches."""
    if isinstance(node, Not):
        return
    if isinstance(node, (Any_, Count)):
        for item in node.items:
            yield item
    if isinstance(node, Score):
        for domain in node.domains:
            for _, item in domain.options:
                yield item
    for child in node.children():
        yield from positive_alternatives(child)


def conclusion_key(conclusion: Conclusion) -> tuple:
    """Two conclusions with the same key say the same thing."""
    items = []
    for key, value in sorted(conclusion.data.items()):
        items.append((key, tuple(sorted(value)) if isinstance(value, list) else value))
    return (conclusion.kind,) + tuple(items)


# How each kind of conclusion reads in a finding; `target` is " for <conditions>" when it names them.
SHOWN = {"assert": "fact {name}", "recommend": "recommend {code} ({urgency}){target}",
         "advise_against": "do-not {code}{target}", "condition": "condition {code} {status}",
         "red_flag": "red flag {code} {status} ({urgency})", "classify": "classify {code} as {icd10}",
         "warn": "warning {code}"}


def show_conclusion(conclusion: Conclusion) -> str:
    d = conclusion.data
    target = f" for {', '.join(d['for'])}" if d.get("for") else ""
    return SHOWN.get(conclusion.kind, conclusion.kind + " {code}").format_map({**d, "target": target})


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
