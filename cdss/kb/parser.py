"""One rule's YAML data into typed condition nodes and conclusions, checked against the case schema and
the contract's vocabulary.

Like pySigma's parser, it runs in one of two modes. Strict (the engine's): the first problem raises a
RuleFileError naming the file, the rule and the line. Collecting (the audit's): a test of a field the case
schema lacks is kept as a test that can never hold and recorded, and each node's line is remembered, so
that the audit reasons about the rule exactly as the author wrote it. Both modes share every other check.
"""

from __future__ import annotations


from cdss import resources
from cdss.errors import RuleFileError
from cdss.kb.conditions import (FIELD_OPS, LIST_OPS, NUMERIC_OPS, All, Any_, ConditionTest, Count, Domain, FactTest,
                                FieldRef, FieldTest, Node, Not, RedFlagTest, Score, TrialTest)
from cdss.kb.fields import accepts, expects, field_catalogue, kind_of
from cdss.kb.rules import Conclusion, UnknownField
from cdss.kb.yamlfile import line_at

MAX_CONDITION_DEPTH = 64


def condition_depth(when) -> int:
    """How deeply a rule's condition (as read from YAML) nests, counted without recursion: the loader
    refuses a rule deeper than MAX_CONDITION_DEPTH before anything recursive (schema validation, parsing,
    evaluation) walks it."""
    deepest, stack = 0, [(when, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        deepest = max(deepest, depth)
        if depth > MAX_CONDITION_DEPTH:
            return depth
        children = []
        for key in ("all", "any"):
            if isinstance(node.get(key), list):
                children += node[key]
        if "not" in node:
            children.append(node["not"])
        if isinstance(node.get("count"), dict) and isinstance(node["count"].get("of"), list):
            children += node["count"]["of"]
        if isinstance(node.get("score"), dict) and isinstance(node["score"].get("domains"), list):
            for domain in node["score"]["domains"]:
                if isinstance(domain, dict) and isinstance(domain.get("options"), list):
                    children += [o.get("when") for o in domain["options"] if isinstance(o, dict)]
        stack += [(child, depth + 1) for child in children]
    return deepest


class RuleParser:
    """Parses one rule (the `index`-th of its file). `collect` is None in strict mode; in collecting mode it
    is the loader's collector, which receives unknown fields and node lines."""

    def __init__(self, file: str, root, rule_index: int, rule_id: str, collect=None):
        self.file, self.root, self.rule_index, self.rule_id = file, root, rule_index, rule_id
        self.vocab = resources.vocabulary()
        self.collect = collect

    def _line(self, where: list) -> int | None:
        return line_at(self.root, ["rules", self.rule_index] + where)

    def fail(self, where: list, message: str):
        raise RuleFileError(self.file, message, rule_id=self.rule_id, line=self._line(where))

    def condition(self, data: dict, where: list) -> Node:
        if len(where) > 2 * MAX_CONDITION_DEPTH:
            self.fail(where, f"conditions are nested more than {MAX_CONDITION_DEPTH} deep")
        node = self._condition(data, where)
        if self.collect is not None:
            self.collect.node_lines[id(node)] = self._line(where)
        return node

    def _condition(self, data: dict, where: list) -> Node:
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
        op = next(k for k in data if k != "field")
        operand = data[op]
        unknown = path if path not in catalogue else (
            operand["field"] if isinstance(operand, dict) and operand.get("field") not in catalogue else None)
        if unknown is not None:
            if self.collect is not None:
                return self._unknown_field_test(data, where, unknown)
            from difflib import get_close_matches  # only for an error's hint

            close = get_close_matches(unknown, catalogue, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            at = where + (["field"] if unknown == path else [op, "field"])
            self.fail(at, f"no case field {unknown!r}{hint}")
        spec = catalogue[path]
        kind = kind_of(spec)
        at = where + [op]
        if op in ("eq", "ne") and not accepts(spec, operand):
            self.fail(at, f"{path} takes {expects(spec)}; got {operand!r}")
        if op == "in":
            for value in operand:
                if not accepts(spec, value):
                    self.fail(at, f"{path} takes {expects(spec)}; got {value!r}")
            operand = tuple(operand)
        if op in NUMERIC_OPS:
            if kind not in ("number", "integer"):
                self.fail(at, f"{op} needs a number field; {path} is {expects(spec)}")
            if isinstance(operand, dict):
                ref = operand["field"]
                if kind_of(catalogue[ref]) not in ("number", "integer"):
                    self.fail(at + ["field"], f"{ref!r} is not a number field of the case")
                operand = FieldRef(ref, operand.get("times", 1), operand.get("plus", 0))
            elif isinstance(operand, bool) or not isinstance(operand, (int, float)):
                self.fail(at, f"{op} needs a number; got {operand!r}")
        if op in LIST_OPS:
            if kind != "array":
                self.fail(at, f"{op} needs a list field; {path} is {expects(spec)}")
            values = operand if op == "contains_any" else [operand]
            for value in values:
                if not accepts(spec["items"], value):
                    self.fail(at, f"{path} holds {expects(spec['items'])}; got {value!r}")
            if op == "contains_any":
                operand = tuple(operand)
        if op not in FIELD_OPS:
            self.fail(at, f"unknown field test {op!r}")
        return FieldTest(path, op, operand, line=self._line(where))

    def _unknown_field_test(self, data: dict, where: list, unknown: str) -> FieldTest:
        """Collecting mode: keep the test as written (no valid case can record the field) and record it."""
        line = self._line(where + ["field"])
        self.collect.unknown_fields.append(UnknownField(self.rule_id, unknown, self.file, line))
        op = next(k for k in data if k != "field")
        operand = data[op]
        if isinstance(operand, dict):
            operand = FieldRef(operand["field"], operand.get("times", 1), operand.get("plus", 0))
        elif isinstance(operand, list):
            operand = tuple(operand)
        return FieldTest(data["field"], op, operand, line=line)

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
