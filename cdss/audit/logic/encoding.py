"""Tseitin encoding of the formulas one question reaches into clauses for the SAT solver, with the axioms
of the case inputs they use (a field is in exactly one region, a list item needs its list, one trial
atom implies another, comparisons of the same two fields constrain one difference), and the model the
solver returns, readable as which rules fire and as a witness case.
"""

from __future__ import annotations

import copy
import itertools
import math
from cdss.audit.logic.formulas import RuleLogic
from cdss.audit.logic.solver import Solver
from cdss.audit.logic.witnesses import build_case
from cdss.kb.conditions import FieldTest


# The contract's contradictions between two fields: a list that must be empty when a boolean is false
# (cases-and-results.md: `joints.prosthetic_joint: false` with a non-empty `joints.prostheses`).
EMPTY_WHEN_FALSE = {"joints.prostheses": "joints.prosthetic_joint"}


class Encoder:
    """Tseitin encoding of the formulas a question reaches, with the axioms of the case inputs they use."""

    def __init__(self, logic: RuleLogic):
        self.logic = logic
        self.solver = Solver()
        self.lits: dict[int, int] = {}
        self.inputs: dict[tuple, int] = {}
        self.defs: dict[tuple, int] = {}
        self.groups: set = set()
        self.true = self.solver.new_var()
        self.solver.add_clause([self.true])

    def lit(self, node: int) -> int:
        found = self.lits.get(node)
        if found is not None:
            return found
        op, args = self.logic.formulas.nodes[node]
        s = self.solver
        if op == "T":
            return self.true
        if op == "F":
            return -self.true
        if op == "not":
            return -self.lit(args[0])
        if op == "v":
            x = self.lits[node] = s.new_var()
            self.inputs[args[0]] = x
            self._axioms(args[0])
            return x
        if op == "d":
            x = self.lits[node] = s.new_var()  # before the body: definitions may be (positively) cyclic
            self.defs[args[0]] = x
            b = self.lit(self.logic.body(args[0]))
            s.add_clause([-x, b])
            s.add_clause([x, -b])
            return x
        children = [self.lit(a) for a in args]
        x = self.lits[node] = s.new_var()
        if op == "and":
            for c in children:
                s.add_clause([-x, c])
            s.add_clause([x] + [-c for c in children])
        else:
            for c in children:
                s.add_clause([x, -c])
            s.add_clause([-x] + children)
        return x

    def _var(self, key: tuple) -> int:
        return self.lit(self.logic.formulas.var(key))

    def _axioms(self, key: tuple) -> None:
        kind = key[0]
        if kind in ("region", "present", "has"):
            self._field_axioms(key[1])
        elif kind == "trial":
            self._trial_axioms(key[1])
        elif kind == "ref":
            x = self.inputs[key]
            for path in (key[1], key[3]):
                self.solver.add_clause([-x, self.lit(self.logic.present(path))])
            self._ref_axioms(key[1], key[3], key[4])

    def _ref_axioms(self, path: str, ref: str, times: float) -> None:
        """Comparisons of one field with the same multiple of another constrain one difference
        d = path - times * ref: `d > 5` implies `d > 2`, excludes `d < 3`, and with `d <= 5` covers every
        case where both fields are recorded."""
        if ("ref", path, ref, times) in self.groups:
            return
        self.groups.add(("ref", path, ref, times))
        logic = self.logic
        keys = sorted({k for k in logic.ref_keys if k[1] == path and k[3] == ref and k[4] == times}, key=repr)
        lits = {key: self._var(key) for key in keys}
        both = [-self.lit(logic.present(path)), -self.lit(logic.present(ref))]
        for a, b in itertools.combinations(keys, 2):
            ia, ib = _difference_interval(a), _difference_interval(b)
            if _interval_within(ia, ib):
                self.solver.add_clause([-lits[a], lits[b]])
            if _interval_within(ib, ia):
                self.solver.add_clause([-lits[b], lits[a]])
            if _intervals_disjoint(ia, ib):
                self.solver.add_clause([-lits[a], -lits[b]])
            if _intervals_cover(ia, ib):
                self.solver.add_clause(both + [lits[a], lits[b]])

    def _field_axioms(self, path: str) -> None:
        if ("field", path) in self.groups:
            return
        self.groups.add(("field", path))
        logic, s = self.logic, self.solver
        space = logic.space
        kind = space.kind(path)
        if kind in ("object", "array"):
            here = self._var(("present", path))
        else:
            regions = [self._var(("region", path, i)) for i in range(len(space.regions(path)))]
            s.add_clause(regions)
            for a, b in itertools.combinations(regions, 2):
                s.add_clause([-a, -b])
            here = self.lit(logic.present(path))
        parent = path.rpartition(".")[0]
        if parent and not space.always_present(parent):
            s.add_clause([-here, self.lit(logic.present(parent))])
        spec = space.catalogue[path]
        if kind == "object":
            for child in spec.get("required", ()):
                s.add_clause([-here, self.lit(logic.present(f"{path}.{child}"))])
        if kind == "array":
            items = [self._var(("has", path, item)) for item in spec["items"].get("enum", ())]
            for item in items:
                s.add_clause([-item, here])
            if spec.get("minItems", 0) >= 1 and items:
                s.add_clause([-here] + items)
            if "normal" in spec["items"].get("enum", ()):
                normal = self._var(("has", path, "normal"))
                for item, lit in zip(spec["items"]["enum"], items):
                    if item != "normal":
                        s.add_clause([-normal, -lit])
            flag = EMPTY_WHEN_FALSE.get(path)
            if flag is not None and space.kind(flag) != "unknown":
                false = self.lit(logic.field(FieldTest(flag, "eq", False)))
                for lit in items:
                    s.add_clause([-false, -lit])

    def _trial_axioms(self, code: str) -> None:
        """One trial atom implies another when every trial it counts is counted by the other too."""
        if ("trials", code) in self.groups:
            return
        self.groups.add(("trials", code))
        keys = sorted(self.logic.trial_keys.get(code, ()), key=repr)
        lits = {key: self._var(key) for key in keys}
        for a, b in itertools.permutations(keys, 2):
            if _trial_implies(a, b):
                self.solver.add_clause([-lits[a], lits[b]])


def _difference_interval(key: tuple) -> tuple:
    """(low, low_closed, high, high_closed) of d = field - times * ref for `field op ref * times + plus`."""
    op, plus = key[2], key[5]
    inf = math.inf
    return {"gt": (plus, False, inf, False), "gte": (plus, True, inf, False), "lt": (-inf, False, plus, False),
            "lte": (-inf, False, plus, True), "eq": (plus, True, plus, True)}.get(op, (-inf, False, inf, False))


def _interval_within(a: tuple, b: tuple) -> bool:
    low_ok = a[0] > b[0] or (a[0] == b[0] and (b[1] or not a[1]))
    high_ok = a[2] < b[2] or (a[2] == b[2] and (b[3] or not a[3]))
    return low_ok and high_ok


def _intervals_disjoint(a: tuple, b: tuple) -> bool:
    def before(x, y):  # x lies wholly below y
        return x[2] < y[0] or (x[2] == y[0] and not (x[3] and y[1]))
    return before(a, b) or before(b, a)


def _intervals_cover(a: tuple, b: tuple) -> bool:
    """a and b together cover every real number."""
    for x, y in ((a, b), (b, a)):
        if x[0] == -math.inf and y[2] == math.inf and (x[2] > y[0] or (x[2] == y[0] and (x[3] or y[1]))):
            return True
    return False


def _trial_implies(a: tuple, b: tuple) -> bool:
    _, _, joint_a, outcome_a, weeks_a, n_a = a
    _, _, joint_b, outcome_b, weeks_b, n_b = b
    if n_b > n_a:
        return False
    if joint_b is not None and joint_b != joint_a:
        return False
    if outcome_b == "any":
        return True
    if outcome_b != outcome_a:
        return False
    if outcome_a == "failed":
        return weeks_b <= weeks_a
    if outcome_a == "running":
        return weeks_a <= weeks_b
    return True


class Model:
    """One satisfying assignment, readable as which rules fire and as a concrete witness case."""

    def __init__(self, logic: RuleLogic, encoder: Encoder, values: dict[int, bool]):
        self.logic = logic
        self.inputs = {key: values[lit] for key, lit in encoder.inputs.items()}
        self.defs = {key: values[lit] for key, lit in encoder.defs.items()}
        self._values = {node: values[lit] for node, lit in encoder.lits.items() if lit > 0}

    def holds(self, node: int) -> bool | None:
        """The formula's value in this model, when the question's encoding reached it."""
        op, args = self.logic.formulas.nodes[node]
        if op in ("T", "F"):
            return op == "T"
        if op == "not":
            inner = self.holds(args[0])
            return None if inner is None else not inner
        return self._values.get(node)

    def fires(self, index: int) -> bool | None:
        return self.defs.get(("fire", index))

    def case(self, case_id: str = "audit-witness") -> dict | None:
        """A case (as data) that realises the model, or None when the opaque atoms cannot be met."""
        if not hasattr(self, "_case"):
            self._case = build_case(self.logic, self.inputs, "audit-witness")
        if self._case is None:
            return None
        return dict(copy.deepcopy(self._case), id=case_id)

    def opaque_assignment(self) -> dict:
        """The model's field-to-field comparisons and trial atoms, with the regions of the fields they
        compare: what decides whether a case can realise it."""
        paths = {part for key in self.inputs if key[0] == "ref" for part in (key[1], key[3])}
        return {key: on for key, on in self.inputs.items()
                if key[0] in ("ref", "trial") or (key[0] == "region" and key[1] in paths)}
