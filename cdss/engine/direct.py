"""The direct engine: the compiled strata evaluated in Python, without durable-rules.

Same compiled program as the durable-rules engine (cdss/engine/compiler.py): the same strata, the same
patterns per variant, the same firing order (cdss/engine/firing.py). Where durable-rules' Rete network
activates a rule when every positive pattern of one of its variants matches, this engine uses a cheaper
necessary condition, a gate: every positive pattern's fact exists (the case field is recorded, the fact,
condition or red flag has been asserted), and so does what the case must hold for the variant's other
tests (`_case_needs`). A variant's rule becomes pending once all its gates are met:
as a stratum opens, only the variants whose rarest gate (derived things before case fields, the ones fewer
rules test first) the case meets are looked at, each by one subset test of its gates against what is met;
when a rule asserts a derived thing, the variants that have it and whose rarest gate is met are looked at.
Each later assertion of a derived thing a variant has (a new status or urgency) makes its rule pending
again, as a new durable-rules activation would. A rule whose rarest gate is never met (a dormant rule)
costs nothing per case.
The rule's whole condition, checked when it fires, decides, exactly as on durable-rules: the two engines
give byte-identical results (tests/test_engines_agree.py).
"""

from __future__ import annotations

import heapq

from cdss.engine import policies
from cdss.engine.compiler import Program, compile_knowledge, variants_of
from cdss.engine.firing import CaseRun, Firing
from cdss.errors import EngineFault
from cdss.kb.conditions import FieldTest, TrialTest
from cdss.kb.fields import field_catalogue
from cdss.kb.rules import KnowledgeBase
from cdss.model import Case, Result

NAME = "direct"
# Which gates a variant watches first: derived things (rarely all present) before case fields.
GATE_RANK = {"fact": 0, "condition": 0, "red_flag": 0, "trial": 1, "list": 2, "field": 3}
LEAF = ""  # the key under which a node of the path tree keeps the gates of its own path
ANY_RED_FLAG = ("red_flag", "any")  # met with every red flag raised (`red_flag: any` tests it)


def _gate(alias: str, pattern: dict) -> tuple | None:
    """The fact a positive pattern needs to exist, as a gate key; None for a negation or the token."""
    if alias.endswith("$not"):
        return None
    tests = pattern["$and"]
    kind = tests[0]["t"]
    if kind == "obs":
        key = tests[1]["k"]
        return ("list", key[:-2]) if key.endswith("[]") else ("field", key)
    if kind == "fact":
        return ("fact", tests[1]["n"])
    if kind == "cond":
        return ("condition", tests[1]["c"])
    if kind == "flag":
        return ("red_flag", tests[1]["c"]) if "c" in tests[1] else ("red_flag", "any")
    if kind == "trial":
        return ("trial", tests[1]["c"])
    return None  # the partition's token: no gate


def _case_needs(tests) -> set[tuple]:
    """Gates the case itself must meet for a variant's tests all to hold, also where a test is not one of
    its patterns (a trial test with its own weeks, a field past the compiler's limit of distinct tests):
    a tested field recorded (every field test but `absent` fails on a missing field), a list with an
    element for `contains`, a treatment of the code a trial test counts. They never change while a case
    runs, so they only keep a rule asleep in cases where it cannot fire (three DMARD rules were woken,
    and failed, in almost every case)."""
    catalogue, needs = field_catalogue(), set()
    for test in tests:
        if isinstance(test, FieldTest) and test.op != "absent" and test.path in catalogue:
            if catalogue[test.path].get("type") != "array":
                needs.add(("field", test.path))
            elif test.op in ("contains", "contains_any"):
                needs.add(("list", test.path))
        elif isinstance(test, TrialTest) and test.at_least >= 1:
            needs.add(("trial", test.code))
    return needs


class DirectEvaluator:
    """A compiled knowledge base evaluated by gates and a pending heap, for one process."""

    engine = NAME

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.program: Program = compile_knowledge(kb)
        self.stratum_of = {item.rule.id: item.stratum for item in self.program.compiled}
        self._fire = Firing(item.rule for item in self.program.compiled)
        strata = self.program.strata
        self._stratum_number = {stratum: number for number, stratum in enumerate(strata)}
        # Per stratum: gate -> ((gates, rule index), ...), the variants whose rarest gate it is (looked at
        # as the stratum opens); gate -> ((rarest gate, ((gates, rule index), ...)), ...), the variants that
        # have it, by their rarest gate (looked at when it is asserted, a group only if its rarest gate is
        # met); and the rules with a variant of no gate (pending as the stratum opens).
        self._first: list[dict[tuple, tuple]] = [{} for _ in strata]
        having: list[dict[tuple, dict[tuple, tuple]]] = [{} for _ in strata]
        self._open: list[list[int]] = [[] for _ in strata]
        field_paths, list_paths, trial_codes = set(), set(), set()
        gated = []
        for item in self.program.compiled:
            tests = variants_of(item.rule.when)  # the variants the compiler made patterns of, in its order
            if len(tests) != len(item.variants):
                tests = [()] * len(item.variants)
            gated.append((item, [sorted({gate for alias, pattern in patterns
                                         if (gate := _gate(alias, pattern)) is not None} | _case_needs(variant))
                                 for patterns, variant in zip(item.variants, tests)]))
        tested_by: dict[tuple, int] = {}
        for _, variants in gated:
            for gates in variants:
                for gate in gates:
                    tested_by[gate] = tested_by.get(gate, 0) + 1
        for item, variants in gated:
            number = self._stratum_number[item.stratum]
            for gates in variants:
                if not gates:
                    self._open[number].append(item.index)
                    continue
                rarest = min(gates, key=lambda g: (GATE_RANK[g[0]], tested_by[g], g))
                variant = (frozenset(gates), item.index)
                self._first[number][rarest] = self._first[number].get(rarest, ()) + (variant,)
                for gate in gates:
                    groups = having[number].setdefault(gate, {})
                    groups[rarest] = groups.get(rarest, ()) + (variant,)
                    if gate[0] == "field":
                        field_paths.add(gate[1])
                    elif gate[0] == "list":
                        list_paths.add(gate[1])
                    elif gate[0] == "trial":
                        trial_codes.add(gate[1])
        self._open = [sorted(set(indexes)) for indexes in self._open]
        self._having = [{gate: tuple(groups.items()) for gate, groups in by_gate.items()} for by_gate in having]
        # The gated case paths as a tree of the case's keys: a case is walked once, only where it has data.
        # A node is (the gate of its path recorded as a scalar or an object, the gate of its path recorded as
        # a list with an element, the tree below it): None where there is none.
        tree: dict = {}
        for kind, paths in (("field", field_paths), ("list", list_paths)):
            for path in sorted(paths):
                node = tree
                for part in path.split("."):
                    node = node.setdefault(part, {})
                node.setdefault(LEAF, {})[kind] = (kind, path)

        def as_nodes(node: dict) -> dict:
            return {key: (child.get(LEAF, {}).get("field"), child.get(LEAF, {}).get("list"),
                          as_nodes(child) if len(child) > (LEAF in child) else None)
                    for key, child in node.items() if key != LEAF}
        self._tree = as_nodes(tree)
        self._trial_codes = trial_codes

    def _case_gates(self, data: dict) -> list[tuple]:
        """The gates the case's own fields meet: a scalar or object recorded, a list with an element."""
        met: list[tuple] = []
        stack = [(self._tree, data)]
        while stack:
            tree, block = stack.pop()
            for key, value in block.items():
                node = tree.get(key)
                if node is None:
                    continue
                recorded, listed, below = node
                if isinstance(value, list):
                    if listed is not None and value:
                        met.append(listed)
                else:
                    if recorded is not None:
                        met.append(recorded)
                    if below is not None and isinstance(value, dict):
                        stack.append((below, value))
        if self._trial_codes:
            met += [("trial", code) for code in dict.fromkeys(t["code"] for t in data.get("treatments", ()))
                    if code in self._trial_codes]
        return met

    def run(self, case: Case) -> CaseRun:
        run = CaseRun(case, self.kb)
        try:
            self._run(run)
        except EngineFault:
            raise
        except Exception as error:
            raise EngineFault(f"a rule action failed: {type(error).__name__}: {error}") from error
        return run

    def _run(self, run: CaseRun) -> None:
        firers, make = self._fire.by_index, self._fire.of
        met = set(self._case_gates(run.case.data))  # and, as rules fire, the derived things asserted so far
        push, pop = heapq.heappush, heapq.heappop
        for number in range(len(self.program.strata)):
            first, having = self._first[number], self._having[number]
            pending = list(self._open[number])  # sorted: already a heap
            queued = set(pending)
            # As the stratum opens: every variant whose gates are all met already (its rarest one among them).
            for gate in first.keys() & met:  # the smaller side is walked, in C
                for gates, index in first[gate]:
                    if index not in queued and gates <= met:
                        queued.add(index)
                        push(pending, index)
            while pending:
                index = pop(pending)
                queued.discard(index)
                for conclusion in (firers[index] or make(index))(run) or ():
                    gate = conclusion.asserts
                    if gate is None:
                        continue
                    for gate in (gate, ANY_RED_FLAG) if gate[0] == "red_flag" else (gate,):
                        # a new derived thing, or a new status or urgency of one (a new activation): every
                        # variant that has it and now has all its gates met
                        met.add(gate)
                        for rarest, group in having.get(gate, ()):
                            if rarest in met:
                                for gates, index in group:
                                    if index not in queued and gates <= met:
                                        queued.add(index)
                                        push(pending, index)

    def evaluate(self, case: Case) -> Result:
        return policies.build_result(self.run(case), self.kb, self.stratum_of, engine=NAME)
