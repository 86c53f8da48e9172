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
from cdss.engine.capacity import thing_property
from cdss.engine.compiler import Program, compile_knowledge
from cdss.engine.firing import CaseRun, Firing
from cdss.errors import EngineFault
from cdss.kb.conditions import FieldRef, FieldTest, TrialTest
from cdss.kb.fields import field_catalogue
from cdss.kb.rules import KnowledgeBase
from cdss.model import Case, Result

NAME = "direct"
# Which gates a variant watches first: derived things (rarely all present) before case fields.
GATE_RANK = {"fact": 0, "condition": 0, "red_flag": 0, "trial": 1, "list": 2, "value": 2, "absent": 2, "field": 3}
# The field tests whose outcome the field's own value decides (given a fixed operand): their gates are met
# per case, by value (_ValueGates).
VALUE_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in")
MAX_VALUES = 256  # values remembered per field (_ValueGates)
LEAF = ""  # the key under which a node of the path tree keeps the gates of its own path
ANY_RED_FLAG = ("red_flag", "any")  # met with every red flag raised (`red_flag: any` tests it)


def _gate(alias: str, pattern: dict, things: dict) -> tuple | None:
    """The fact a positive pattern needs to exist, as a gate key (the thing its first test's property stands
    for: ("field", path), ("fact", name), ...); None for a negation or the token."""
    if alias.endswith("$not"):
        return None
    return things.get(thing_property(pattern["$and"]))  # the token's `t` is no thing's


def _case_needs(tests) -> dict[tuple, tuple | None]:
    """Gates the case itself must meet for a variant's tests all to hold, also where a test is not one of
    its patterns (a trial test with its own weeks, a field past the compiler's limit of distinct tests):
    a scalar field's test of a fixed value passed by the case's value (`value`: age 8 or over), a field
    left out (`absent`), a tested field recorded (every other field test but `absent` fails on a missing
    field), a list with an element for `contains`, a treatment of the code a trial test counts. They never
    change while a case runs, so they only keep a rule asleep in cases where it cannot fire: rules on an
    age band or on one answer were woken, and failed, ~20 times in a typical case. Each gate maps to what
    judges it per case: (compare, operand) for a value gate, None for the others."""
    catalogue, needs = field_catalogue(), {}
    for test in tests:
        if isinstance(test, FieldTest) and test.path in catalogue:
            kind = catalogue[test.path].get("type")
            if test.op == "absent":
                needs[("absent", test.path)] = None
            elif _decided_by_value(test, kind):
                needs[_value_gate(test)] = (test.compare, test.operand)
            elif kind != "array":
                needs[("field", test.path)] = None
            elif test.op in ("contains", "contains_any"):
                needs[("list", test.path)] = None
        elif isinstance(test, TrialTest) and test.at_least >= 1:
            needs[("trial", test.code)] = None
    return needs


def _variant_gates(patterns, needs: dict, things: dict) -> list[tuple]:
    """A variant's gates, sorted: its positive patterns' facts and what the case must hold (`needs`, from
    _case_needs). A value gate is met only where its field is recorded: that field's own gate is left out."""
    gates = {gate for alias, pattern in patterns if (gate := _gate(alias, pattern, things)) is not None} | needs.keys()
    valued = {gate[1] for gate in gates if gate[0] == "value"}
    return sorted(gate for gate in gates if not (gate[0] == "field" and gate[1] in valued))


def _decided_by_value(test: FieldTest, kind: str | None) -> bool:
    """Whether the test compares a scalar field with a fixed operand (not another field)."""
    return kind not in ("array", "object") and test.op in VALUE_OPS and not isinstance(test.operand, FieldRef)


def _value_gate(test: FieldTest) -> tuple:
    """A field test of a fixed value as a gate: its operand by repr, so that gates sort and 1, 1.0 and True
    stay apart (as `eq` keeps them)."""
    return ("value", test.path, test.op, repr(test.operand))


class _ValueGates:
    """The value gates of one scalar case field, and which of them each value it has been seen with meets
    (field values repeat from case to case: an age, a yes or no, a code). At most MAX_VALUES values are
    remembered per field (a lab value can take many); past that a value is judged each time it is seen."""

    __slots__ = ("tests", "seen")

    def __init__(self, tests: tuple):
        self.tests = tests  # ((gate, compare, operand), ...)
        self.seen: dict = {}

    def met(self, value) -> tuple:
        key = (value.__class__, value)  # 1, 1.0 and True apart
        try:
            return self.seen[key]
        except KeyError:
            pass
        except TypeError:  # not hashable (a case the schema would refuse): judged, not remembered
            return self._judge(value)
        met = self._judge(value)
        if len(self.seen) < MAX_VALUES:
            self.seen[key] = met
        return met

    def _judge(self, value) -> tuple:
        met = []
        for gate, compare, operand in self.tests:
            try:
                passed = compare(value, operand)
            except Exception:  # noqa: BLE001 - left to the rule's own check, which fails as it always did
                passed = True
            if passed:
                met.append(gate)
        return tuple(met)


class DirectEvaluator:
    """A compiled knowledge base evaluated by gates and a pending heap, for one process."""

    engine = NAME

    @staticmethod
    def fork_safe() -> bool:
        """A forked child may use this evaluator (cdss/engine/registry.py): it keeps nothing between cases."""
        return True

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
        valued: dict[str, dict[tuple, tuple]] = {}  # path -> value gate -> (compare, operand)
        gated = []
        things = self.program.things()
        for item in self.program.compiled:
            variants = []
            for patterns, tests in zip(item.gated or item.variants, item.tests):
                needs = _case_needs(tests)
                for gate, judged in needs.items():
                    if judged is not None:
                        valued.setdefault(gate[1], {})[gate] = judged
                variants.append(_variant_gates(patterns, needs, things))
            gated.append((item, variants))
        tested_by: dict[tuple, int] = {}
        for _, variants in gated:
            for gates in variants:
                for gate in gates:
                    tested_by[gate] = tested_by.get(gate, 0) + 1
        # Each gate by a number of its own while a case runs: sets of small ints hash and compare for free,
        # where a gate as a tuple was hashed again at every set operation (the run's own loop was ~17 % of
        # a direct worker's time, sampled).
        self._gates: tuple[tuple, ...] = tuple(sorted(tested_by))  # number -> gate
        number_of = {gate: number for number, gate in enumerate(self._gates)}
        for item, variants in gated:
            number = self._stratum_number[item.stratum]
            for gates in variants:
                if not gates:
                    self._open[number].append(item.index)
                    continue
                rarest = number_of[min(gates, key=lambda g: (GATE_RANK[g[0]], tested_by[g], g))]
                variant = (frozenset(map(number_of.__getitem__, gates)), item.index)
                self._first[number][rarest] = self._first[number].get(rarest, ()) + (variant,)
                for gate in gates:
                    groups = having[number].setdefault(number_of[gate], {})
                    groups[rarest] = groups.get(rarest, ()) + (variant,)
                    if gate[0] == "field":
                        field_paths.add(gate[1])
                    elif gate[0] == "list":
                        list_paths.add(gate[1])
                    elif gate[0] == "trial":
                        trial_codes.add(gate[1])
        self._open = [sorted(set(indexes)) for indexes in self._open]
        self._having = [{gate: tuple(groups.items()) for gate, groups in by_gate.items()} for by_gate in having]
        # What each conclusion that asserts a derived thing meets, by its `asserts` (a red flag also meets
        # `red_flag: any`); only gates some variant has.
        self._asserted: dict[tuple, tuple[int, ...]] = {}
        for item in self.program.compiled:
            for conclusion in item.rule.then:
                gate = conclusion.asserts
                if gate is not None:
                    self._asserted[gate] = tuple(number_of[g] for g in ((gate, ANY_RED_FLAG) if gate[0] == "red_flag"
                                                                        else (gate,)) if g in number_of)
        # Gates of a missing field: all met, but those of the fields the case records (found as it is walked).
        self._absent = frozenset(number_of[gate] for gate in tested_by if gate[0] == "absent")
        # The gated case paths as a tree of the case's keys: a case is walked once, only where it has data.
        # A node is (the gate of its path recorded as a scalar or an object, the gate of its path recorded as
        # a list with an element, the tree below it, the value gates of its path, the gate of its path
        # missing): None where there is none.
        tree: dict = {}
        paths = [("field", path) for path in field_paths] + [("list", path) for path in list_paths] \
            + [("value", path) for path in valued] + [("absent", self._gates[gate][1]) for gate in self._absent]
        for kind, path in sorted(paths):
            node = tree
            for part in path.split("."):
                node = node.setdefault(part, {})
            node.setdefault(LEAF, {})[kind] = number_of.get((kind, path))

        def as_nodes(node: dict, prefix: str) -> dict:
            nodes = {}
            for key, child in node.items():
                if key == LEAF:
                    continue
                path, own = prefix + key, child.get(LEAF, {})
                tests = tuple((number_of[gate], *valued[path][gate]) for gate in sorted(valued[path])
                              if gate in number_of) if "value" in own else ()
                nodes[key] = (own.get("field"), own.get("list"),
                              as_nodes(child, path + ".") if len(child) > (LEAF in child) else None,
                              _ValueGates(tests) if tests else None, own.get("absent"))
            return nodes
        self._tree = as_nodes(tree, "")
        self._trial_codes = {code: number_of[("trial", code)] for code in trial_codes}

    def _case_gates(self, data: dict) -> set[int]:
        """The gates (by number) the case's own fields meet: a scalar or object recorded, a list with an
        element, a fixed-value test its value passes, a field it leaves out."""
        met: list[int] = []
        recorded_absent: list[int] = []  # the `absent` gates of fields the case records: not met
        stack = [(self._tree, data)]
        while stack:
            tree, block = stack.pop()
            for key, value in block.items():
                node = tree.get(key)
                if node is None:
                    continue
                recorded, listed, below, valued, absent = node
                if absent is not None:
                    recorded_absent.append(absent)
                if isinstance(value, list):
                    if listed is not None and value:
                        met.append(listed)
                    if valued is not None:  # a list where a scalar belongs: judged all the same
                        met += valued.met(value)
                else:
                    if recorded is not None:
                        met.append(recorded)
                    if valued is not None:
                        met += valued.met(value)
                    if below is not None and isinstance(value, dict):
                        stack.append((below, value))
        if self._trial_codes:
            trials = self._trial_codes
            met += [trials[code] for code in {t["code"] for t in data.get("treatments", ())} if code in trials]
        gates = set(met)
        if self._absent:
            gates |= self._absent.difference(recorded_absent)
        return gates

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
        met = self._case_gates(run.case.data)  # and, as rules fire, the derived things asserted so far
        push, pop, asserted = heapq.heappush, heapq.heappop, self._asserted
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
                    if conclusion.asserts is None:
                        continue
                    for gate in asserted[conclusion.asserts]:
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
