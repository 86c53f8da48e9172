"""Rule conditions as propositional logic over the case's fields, for the audit's reasoning.

Every rule's `when` becomes a formula whose atoms are case inputs: which region of a number field the value
lies in (regions are cut at every threshold any rule uses, so each test is true or false on a whole
region), which enum value or list item is present, which treatment trials exist. A derived fact, a
condition at a status or a red flag at an urgency is a named definition: true exactly when one of the
rules concluding it fires. That is how the engine's stratified fixpoint behaves, so a question such as
"can one case make rule A fire and not rule B?" is a satisfiability question, answered by `audit_sat` on
only the rules and fields the question touches. Chains are followed to the case fields at the bottom.

Two kinds of atom are kept opaque and so over-approximated: comparisons between two fields
(`crp_mg_l > crp_uln_mg_l`) and scores too large to enumerate. Over-approximation can only add models,
so an answer of "impossible" (an unreachable rule, a subsumed rule) is never wrong because of it; an
answer of "possible" comes with a witness case that is checked by evaluating it.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Iterable

from cdss.audit.logic.solver import Solver
from cdss.kb.conditions import MISSING, All, Any_, ConditionTest, Count, FactTest, FieldRef, FieldTest, Node, Not, RedFlagTest, Score, TrialTest, compare
from cdss.kb.fields import field_catalogue

FALSE, TRUE = 0, 1
MAX_SCORE_COMBINATIONS = 20000


class Formulas:
    """Hash-consed formulas: each distinct formula is one small integer."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, tuple]] = [("F", ()), ("T", ())]
        self.index: dict[tuple[str, tuple], int] = {self.nodes[0]: FALSE, self.nodes[1]: TRUE}

    def _make(self, op: str, args: tuple) -> int:
        key = (op, args)
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.nodes)
            self.nodes.append(key)
        return found

    def var(self, key: tuple) -> int:
        return self._make("v", (key,))

    def defn(self, key: tuple) -> int:
        return self._make("d", (key,))

    def not_(self, node: int) -> int:
        if node == TRUE:
            return FALSE
        if node == FALSE:
            return TRUE
        op, args = self.nodes[node]
        if op == "not":
            return args[0]
        return self._make("not", (node,))

    def _junction(self, op: str, items: Iterable[int], unit: int, zero: int) -> int:
        flat: set[int] = set()
        for item in items:
            if item == zero:
                return zero
            if item == unit:
                continue
            kind, args = self.nodes[item]
            if kind == op:
                flat.update(args)
            else:
                flat.add(item)
        for item in flat:
            if self.not_(item) in flat:
                return zero
        if not flat:
            return unit
        if len(flat) == 1:
            return next(iter(flat))
        return self._make(op, tuple(sorted(flat)))

    def and_(self, items: Iterable[int]) -> int:
        return self._junction("and", items, TRUE, FALSE)

    def or_(self, items: Iterable[int]) -> int:
        return self._junction("or", items, FALSE, TRUE)


# -- case fields ---------------------------------------------------------------------------------

def _bounds(spec: dict) -> tuple:
    lo, lo_in = spec.get("minimum"), True
    if "exclusiveMinimum" in spec:
        lo, lo_in = spec["exclusiveMinimum"], False
    hi, hi_in = spec.get("maximum"), True
    if "exclusiveMaximum" in spec:
        hi, hi_in = spec["exclusiveMaximum"], False
    return lo, lo_in, hi, hi_in


def _open_nonempty(a, b, integer: bool) -> bool:
    lo = -math.inf if a is None else a
    hi = math.inf if b is None else b
    if integer:
        first = math.floor(lo) + 1 if lo != -math.inf else -math.inf
        return first < hi
    return lo < hi


def _open_samples(a, b, integer: bool) -> list:
    """A few values strictly inside (a, b), None being unbounded; the representative first."""
    if integer:
        first = math.floor(a) + 1 if a is not None else (math.ceil(b) - 61 if b is not None else 0)
        last = math.ceil(b) - 1 if b is not None else first + 60
        return list(range(first, min(last, first + 60) + 1))
    if a is not None and b is not None:
        return [(a + b) / 2] + [a + (b - a) * k / 8 for k in (1, 2, 3, 5, 6, 7)]
    if a is not None:
        return [a + 1] + [a + d for d in (0.001, 0.5, 2, 5, 10, 50, 100)]
    if b is not None:
        return [b - 1] + [b - d for d in (0.001, 0.5, 2, 5, 10)]
    return [0, 1, 10, 100]


class Region:
    """A set of values of one field on which every rule's test on that field gives the same answer."""

    def __init__(self, label: str, samples: list, missing: bool = False, between: tuple | None = None):
        self.label, self.samples, self.missing = label, samples, missing
        self.between = between  # (low, high) of an open interval, None meaning unbounded

    def contains(self, value) -> bool:
        if self.missing:
            return value is MISSING
        if value is MISSING:
            return False
        if self.between is None:
            return value == self.samples[0] and isinstance(value, bool) == isinstance(self.samples[0], bool)
        if isinstance(value, bool) or (isinstance(self.samples[0], int) and not float(value).is_integer()):
            return False
        low, high = self.between
        return (low is None or value > low) and (high is None or value < high)

    @property
    def value(self):
        return MISSING if self.missing else self.samples[0]


class FieldSpace:
    """The regions of every scalar field, cut at the values the rules test."""

    def __init__(self, tests: Iterable[FieldTest]):
        self.catalogue = field_catalogue()
        self.values: dict[str, set] = {}
        for test in tests:
            spec = self.catalogue.get(test.path)
            if spec is None or isinstance(test.operand, FieldRef):
                continue
            bucket = self.values.setdefault(test.path, set())
            if test.op in ("eq", "ne", "lt", "lte", "gt", "gte"):
                bucket.add(test.operand)
            elif test.op == "in":
                bucket.update(test.operand)
        self._regions: dict[str, list[Region]] = {}

    def kind(self, path: str) -> str:
        spec = self.catalogue.get(path)
        if spec is None:
            return "unknown"
        if "enum" in spec:
            return "enum"
        return spec.get("type", "any")

    def always_present(self, path: str) -> bool:
        return path in ("id", "patient", "patient.age_years")

    def regions(self, path: str) -> list[Region]:
        found = self._regions.get(path)
        if found is None:
            found = self._regions[path] = self._cut(path)
        return found

    def _cut(self, path: str) -> list[Region]:
        spec = self.catalogue[path]
        kind = self.kind(path)
        out = [] if self.always_present(path) else [Region("absent", [MISSING], missing=True)]
        if kind == "enum":
            out += [Region(f"= {v}", [v]) for v in spec["enum"]]
        elif kind == "boolean":
            out += [Region("= true", [True]), Region("= false", [False])]
        elif kind in ("number", "integer"):
            out += self._intervals(path, spec, kind == "integer")
        else:  # a free string: the values the rules name, and one other
            named = sorted(v for v in self.values.get(path, ()) if isinstance(v, str))
            out += [Region(f"= {v}", [v]) for v in named] + [Region("other", ["audit-other-value"])]
        return out

    def _intervals(self, path: str, spec: dict, integer: bool) -> list[Region]:
        lo, lo_in, hi, hi_in = _bounds(spec)
        points = {v for v in self.values.get(path, ()) if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if lo is not None and lo_in:
            points.add(lo)
        if hi is not None and hi_in:
            points.add(hi)

        def inside(p) -> bool:
            if lo is not None and (p < lo or (p == lo and not lo_in)):
                return False
            return not (hi is not None and (p > hi or (p == hi and not hi_in)))

        regions, left = [], lo
        for cut in sorted(p for p in points if inside(p)):
            if _open_nonempty(left, cut, integer):
                regions.append(Region(f"in ({_edge(left, '-inf')}, {_num(cut)})", _open_samples(left, cut, integer),
                                      between=(left, cut)))
            if not integer or float(cut).is_integer():
                regions.append(Region(f"= {_num(cut)}", [int(cut) if integer else cut]))
            left = cut
        if _open_nonempty(left, hi, integer):
            regions.append(Region(f"in ({_edge(left, '-inf')}, {_edge(hi, 'inf')})", _open_samples(left, hi, integer),
                                  between=(left, hi)))
        return regions


def _edge(value, infinite: str) -> str:
    return infinite if value is None else _num(value)


def _num(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- rules as formulas ---------------------------------------------------------------------------

class RuleLogic:
    """The rule base as formulas: fire(i) holds exactly when rule i fires on a case."""

    def __init__(self, rules, red_flag_codes: Iterable[str], failed_min_weeks: float = 4):
        self.rules = list(rules)
        self.f = Formulas()
        self.red_flag_codes = tuple(red_flag_codes)
        self.limit = failed_min_weeks
        tests, trials = [], {}
        for rule in self.rules:
            for node in rule.when.walk():
                if isinstance(node, FieldTest):
                    tests.append(node)
                elif isinstance(node, TrialTest):
                    trials.setdefault(node.code, set()).add(self._trial_key(node))
        self.space = FieldSpace(tests)
        self.ref_keys = {("ref", t.path, t.op, t.operand.path, t.operand.times, t.operand.plus)
                         for t in tests if isinstance(t.operand, FieldRef)}
        self.trial_keys = trials
        self.asserters: dict[tuple, list[int]] = {}
        for index, rule in enumerate(self.rules):
            for conclusion in rule.then:
                d = conclusion.data
                if conclusion.kind == "assert":
                    self.asserters.setdefault(("fact", d["name"]), []).append(index)
                elif conclusion.kind == "condition":
                    self.asserters.setdefault(("cond", d["code"], d["status"]), []).append(index)
                elif conclusion.kind == "red_flag":
                    self.asserters.setdefault(("flag", d["code"], d["urgency"]), []).append(index)
        self._when: dict[int, int] = {}
        self._bodies: dict[tuple, int] = {}

    # formulas
    def fire(self, index: int) -> int:
        return self.f.defn(("fire", index))

    def body(self, key: tuple) -> int:
        found = self._bodies.get(key)
        if found is None:
            if key[0] == "fire":
                found = self.node(self.rules[key[1]].when)
            else:
                found = self.f.or_(self.fire(i) for i in self.asserters.get(key, ()))
            self._bodies[key] = found
        return found

    def node(self, node: Node) -> int:
        f = self.f
        if isinstance(node, All):
            return f.and_(self.node(item) for item in node.items)
        if isinstance(node, Any_):
            return f.or_(self.node(item) for item in node.items)
        if isinstance(node, Not):
            return f.not_(self.node(node.item))
        if isinstance(node, Count):
            return self._count([self.node(item) for item in node.items], node.at_least, node.at_most)
        if isinstance(node, Score):
            return self._score(node)
        if isinstance(node, FieldTest):
            return self.field(node)
        if isinstance(node, FactTest):
            return f.defn(("fact", node.name))
        if isinstance(node, ConditionTest):
            return f.or_(f.defn(("cond", node.code, s)) for s in node.statuses)
        if isinstance(node, RedFlagTest):
            codes = self.red_flag_codes if node.code == "any" else (node.code,)
            return f.or_(f.defn(("flag", c, u)) for c in codes for u in node.urgencies)
        if isinstance(node, TrialTest):
            return f.var(self._trial_key(node))
        raise TypeError(f"unknown condition node {node!r}")

    def _trial_key(self, node: TrialTest) -> tuple:
        weeks = (self.limit if node.min_weeks is None else node.min_weeks) if node.outcome in ("failed", "running") else None
        return ("trial", node.code, node.joint, node.outcome, weeks, node.at_least)

    def _count(self, items: list[int], at_least: int, at_most: int | None) -> int:
        """Sequential counter: reach[j] = at least j of the items so far hold."""
        f = self.f
        top = len(items) if at_most is None else min(len(items), at_most + 1)
        need = max(at_least, top if at_most is not None else at_least)
        reach = [TRUE] + [FALSE] * need
        for item in items:
            reach = [TRUE] + [f.or_([reach[j], f.and_([reach[j - 1], item])]) for j in range(1, need + 1)]
        held = reach[at_least] if at_least <= need else FALSE
        if at_most is not None and at_most + 1 <= need:
            held = f.and_([held, f.not_(reach[at_most + 1])])
        return held

    def _score(self, node: Score) -> int:
        f = self.f
        levels = []
        for domain in node.domains:
            points = sorted({p for p, _ in domain.options} | {0})
            at_least = {p: f.or_(self.node(c) for q, c in domain.options if q >= p) for p in points if p > 0}
            exact = []
            for k, p in enumerate(points):
                reach = TRUE if p == 0 else at_least[p]
                higher = at_least[points[k + 1]] if k + 1 < len(points) else FALSE
                exact.append((p, f.and_([reach, f.not_(higher)])))
            levels.append(exact)
        if math.prod(len(level) for level in levels) > MAX_SCORE_COMBINATIONS:
            return f.var(("opaque-score", id(node)))
        ok = []
        for combo in itertools.product(*levels):
            total = sum(p for p, _ in combo)
            if total >= node.at_least and (node.at_most is None or total <= node.at_most):
                ok.append(f.and_(lit for _, lit in combo))
        return f.or_(ok)

    def present(self, path: str) -> int:
        f = self.f
        kind = self.space.kind(path)
        if kind == "unknown":
            return FALSE
        if self.space.always_present(path):
            return TRUE
        if kind in ("object", "array"):
            return f.var(("present", path))
        return f.not_(f.var(("region", path, 0)))

    def field(self, test: FieldTest) -> int:
        f = self.f
        kind = self.space.kind(test.path)
        if kind == "unknown":  # a field the case schema lacks: never in a valid case
            return TRUE if test.op == "absent" else FALSE
        if test.op == "present":
            return self.present(test.path)
        if test.op == "absent":
            return f.not_(self.present(test.path))
        if kind == "array":
            if test.op == "contains":
                return f.var(("has", test.path, test.operand))
            return f.or_(f.var(("has", test.path, item)) for item in test.operand)
        if isinstance(test.operand, FieldRef):
            ref = test.operand
            if self.space.kind(ref.path) == "unknown":
                return FALSE
            return f.var(("ref", test.path, test.op, ref.path, ref.times, ref.plus))
        regions = self.space.regions(test.path)
        return f.or_(f.var(("region", test.path, i)) for i, region in enumerate(regions)
                     if compare(test.op, region.value, test.operand))

    # questions
    def solve(self, *roots: int, prefer: Iterable[int] = ()) -> "Model | None":
        """A model in which every root formula holds, or None when no case can make them all hold. The
        solver tries the `prefer` formulas true first (a model where many of them hold answers more)."""
        encoder = _Encoder(self)
        for root in roots:
            encoder.solver.add_clause([encoder.lit(root)])
        for node in prefer:
            lit = encoder.lit(node)
            encoder.solver.phase[abs(lit)] = 1 if lit > 0 else -1
            encoder.solver.activity[abs(lit)] = 1.0
        found = encoder.solver.solve()
        return None if found is None else Model(self, encoder, found)


class _Encoder:
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
        op, args = self.logic.f.nodes[node]
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
        return self.lit(self.logic.f.var(key))

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

    def __init__(self, logic: RuleLogic, encoder: _Encoder, values: dict[int, bool]):
        self.logic = logic
        self.inputs = {key: values[lit] for key, lit in encoder.inputs.items()}
        self.defs = {key: values[lit] for key, lit in encoder.defs.items()}
        self._values = {node: values[lit] for node, lit in encoder.lits.items() if lit > 0}

    def holds(self, node: int) -> bool | None:
        """The formula's value in this model, when the question's encoding reached it."""
        if node in (TRUE, FALSE):
            return node == TRUE
        op, args = self.logic.f.nodes[node]
        if op == "not":
            inner = self.holds(args[0])
            return None if inner is None else not inner
        return self._values.get(node)

    def fires(self, index: int) -> bool | None:
        return self.defs.get(("fire", index))

    def case(self, case_id: str = "audit-witness") -> dict | None:
        """A case (as data) that realises the model, or None when the opaque atoms cannot be met."""
        return build_case(self.logic, self.inputs, case_id)


# -- witness cases -------------------------------------------------------------------------------

def _set(data: dict, path: str, value) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _get(data: dict, path: str):
    node = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def build_case(logic: RuleLogic, inputs: dict[tuple, bool], case_id: str) -> dict | None:
    space = logic.space
    data: dict[str, Any] = {"id": case_id, "patient": {}}
    chosen: dict[str, Region] = {}
    for key, on in inputs.items():
        if key[0] == "region" and on:
            region = space.regions(key[1])[key[2]]
            chosen[key[1]] = region
            if not region.missing:
                _set(data, key[1], region.value)
    for key, on in sorted(inputs.items(), key=lambda kv: kv[0][1] if kv[0][0] in ("present", "has") else ""):
        if key[0] == "present" and on:
            path = key[1]
            if _get(data, path) is MISSING:
                _set(data, path, [] if space.kind(path) == "array" else {})
    for key, on in inputs.items():
        if key[0] == "has" and on:
            found = _get(data, key[1])
            if found is MISSING:
                found = []
                _set(data, key[1], found)
            found.append(key[2])
    # present objects need their required children (a study needs findings)
    for key, on in inputs.items():
        if key[0] == "present" and on and space.kind(key[1]) == "object":
            for child in space.catalogue[key[1]].get("required", ()):
                path = f"{key[1]}.{child}"
                if _get(data, path) is MISSING:
                    spec = space.catalogue[path]
                    enum = spec.get("items", {}).get("enum", [])
                    _set(data, path, [enum[0]] if enum else [])
    if _get(data, "patient.age_years") is MISSING:
        data["patient"]["age_years"] = 40
    if not _meet_refs(logic, data, inputs, chosen):
        return None
    trials = _trials(logic, inputs)
    if trials is None:
        return None
    if trials:
        data["treatments"] = trials
    return data


def _ref_holds(data: dict, key: tuple) -> bool:
    _, path, op, ref, times, plus = key
    return FieldTest(path, op, FieldRef(ref, times, plus)).test(data)


def _meet_refs(logic: RuleLogic, data: dict, inputs: dict, chosen: dict) -> bool:
    """Pick values inside each field's region so that every field-to-field comparison comes out as the
    model says: try the compared-with fields' samples, and for the compared fields every value near a
    threshold that those samples put in play."""
    wanted = [(key, on) for key, on in inputs.items() if key[0] == "ref"]
    if all(_ref_holds(data, key) == on for key, on in wanted):
        return True
    space = logic.space
    left = sorted({key[1] for key, _ in wanted})
    right = sorted({key[3] for key, _ in wanted} - set(left))

    def candidates(path: str) -> list:
        region = chosen.get(path)
        if region is None:
            if space.always_present(path):
                return [r.value for r in space.regions(path)] + [_get(data, path)]
            return [MISSING]
        return [MISSING] if region.missing else region.samples

    budget = 20000
    for combo in itertools.product(*(candidates(p) for p in right)):
        budget -= 1
        if budget < 0:
            return False
        for path, value in zip(right, combo):
            if value is not MISSING:
                _set(data, path, value)
        for path in left:
            region = chosen.get(path)
            if region is None or region.missing:
                continue
            mine = [(key, on) for key, on in wanted if key[1] == path]
            cuts = set()
            for key, _ in mine:
                other = _get(data, key[3])
                if other is not MISSING:
                    cuts.add(other * key[4] + key[5])
            integer = isinstance(region.samples[0], int) and not isinstance(region.samples[0], bool)
            near = set(region.samples)
            for cut in cuts:
                near.update((cut, cut - 1, cut + 1, cut - 0.01, cut + 0.01, math.floor(cut), math.ceil(cut),
                             math.floor(cut) - 1, math.ceil(cut) + 1))
            for value in sorted(near, key=lambda v: abs(v - region.samples[0])):
                if integer and not float(value).is_integer():
                    continue
                value = int(value) if integer else value
                if not region.contains(value):
                    continue
                _set(data, path, value)
                if all(_ref_holds(data, key) == on for key, on in mine):
                    break
        if all(_ref_holds(data, key) == on for key, on in wanted):
            return True
    return False


def _trials(logic: RuleLogic, inputs: dict) -> list | None:
    """Treatment entries that make exactly the model's trial atoms true."""
    wanted = [(key, on) for key, on in inputs.items() if key[0] == "trial"]
    if not wanted:
        return []
    entries: list[dict] = []

    def ok_so_far(candidate: list[dict]) -> bool:
        case = {"treatments": candidate}
        from cdss.kb.conditions import Facts
        facts = Facts(case=case, failed_min_weeks=logic.limit)
        return all(on or len(_trial_node(key).matching(facts)) < key[5] for key, on in wanted)

    for key, on in sorted(wanted, key=lambda kv: -kv[0][5]):
        if not on:
            continue
        _, code, joint, outcome, weeks, need = key
        from cdss.kb.conditions import Facts
        node = _trial_node(key)
        for variant in _trial_variants(code, joint, outcome, weeks):
            trial = dict(variant)
            have = len(node.matching(Facts(case={"treatments": entries}, failed_min_weeks=logic.limit)))
            extra = [dict(trial) for _ in range(max(0, need - have))]
            if ok_so_far(entries + extra):
                entries += extra
                break
        else:
            return None
    from cdss.kb.conditions import Facts
    facts = Facts(case={"treatments": entries}, failed_min_weeks=logic.limit)
    if all((len(_trial_node(key).matching(facts)) >= key[5]) == on for key, on in wanted):
        return entries
    return None


def _trial_node(key: tuple) -> TrialTest:
    _, code, joint, outcome, weeks, need = key
    return TrialTest(code, joint, outcome, weeks, need)


def _trial_variants(code: str, joint: str | None, outcome: str, weeks: float | None):
    joints = [joint] if joint is not None else ["hip", "knee", "back"]
    shapes = {"failed": [("none", max(weeks or 4, 4) + 8)], "running": [("none", 0), ("good", 0)],
              "good": [("good", 12)], "any": [("good", 12), ("none", 12), ("partial", 0)]}[outcome]
    if outcome == "failed":
        shapes = [("none", (weeks or 0) + 8), ("partial", (weeks or 0) + 8)]
    for j in joints:
        for response, w in shapes:
            yield {"code": code, "weeks": w, "response": response, "joint": j}
    if joint is None:
        for response, w in shapes:
            yield {"code": code, "weeks": w, "response": response}
