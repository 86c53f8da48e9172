"""Case fields cut into regions: the values of one field on which every rule's test of it gives the same
answer, so that "which region is the value in" is a finite choice the solver can make.

A number field is cut at every threshold any rule uses (and at its schema bounds); an enum or a boolean
has one region per value; a free string has the values the rules name and one other. Every field that a
case may leave out has an "absent" region too. Each region keeps a few sample values, the first being the
one a witness case uses.
"""

from __future__ import annotations

import math
from typing import Iterable

from cdss.kb.conditions import MISSING, FieldRef, FieldTest
from cdss.kb.fields import field_catalogue


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
