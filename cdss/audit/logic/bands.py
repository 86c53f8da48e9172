"""Threshold bands: the values of one number field for which a rule's threshold tests hold.

A band is a union of intervals (plus whether an unrecorded value passes). Rules that differ only in their
band over one field form a threshold family; the family's bands should tile the field with neither a gap
(`age >= 45` beside `age < 44` leaves 44 to no rule) nor a partial overlap (`weeks <= 12` beside
`weeks >= 12` gives 12 to both).
"""

from __future__ import annotations

import math

from attrs import frozen

from cdss.kb.conditions import All, Any_, FactTest, FieldRef, FieldTest, Node, Not

INF = math.inf


@frozen
class Interval:
    low: float
    low_closed: bool
    high: float
    high_closed: bool

    def empty(self, integer: bool) -> bool:
        if self.low > self.high:
            return True
        if self.low == self.high:
            return not (self.low_closed and self.high_closed) or (integer and not float(self.low).is_integer())
        if integer:
            if self.low == -INF or self.high == INF:
                return False  # a ray holds whole numbers without end
            first = self.low if self.low_closed and float(self.low).is_integer() else math.floor(self.low) + 1
            last = self.high if self.high_closed and float(self.high).is_integer() else math.ceil(self.high) - 1
            return first > last
        return False

    def example(self, integer: bool):
        if self.low == -INF and self.high == INF:
            return 0
        if integer:
            if self.low == -INF:
                return int(self.high if self.high_closed else math.ceil(self.high) - 1)
            return int(self.low if self.low_closed and float(self.low).is_integer() else math.floor(self.low) + 1)
        if self.low_closed:
            return self.low
        if self.high_closed:
            return self.high
        if self.low == -INF:
            return self.high - 1
        if self.high == INF:
            return self.low + 1
        return (self.low + self.high) / 2

    def show(self) -> str:
        low = "-inf" if self.low == -INF else f"{self.low:g}"
        high = "inf" if self.high == INF else f"{self.high:g}"
        if self.low == self.high:
            return f"{low}"
        return f"{'[' if self.low_closed else '('}{low}, {high}{']' if self.high_closed else ')'}"


ALL = (Interval(-INF, False, INF, False),)


@frozen
class Band:
    intervals: tuple[Interval, ...]
    missing: bool = False

    @staticmethod
    def of(op: str, value) -> "Band | None":
        if op == "absent":
            return Band((), True)
        if op == "present":
            return Band(ALL)
        if op in ("eq", "in"):
            values = value if op == "in" else (value,)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                return None
            return Band(tuple(Interval(v, True, v, True) for v in sorted(set(values))))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return Band({"lt": (Interval(-INF, False, value, False),),
                     "lte": (Interval(-INF, False, value, True),),
                     "gt": (Interval(value, False, INF, False),),
                     "gte": (Interval(value, True, INF, False),),
                     "ne": (Interval(-INF, False, value, False), Interval(value, False, INF, False))}[op])

    def intersect(self, other: "Band") -> "Band":
        out = []
        for a in self.intervals:
            for b in other.intervals:
                low, low_closed = max((a.low, not a.low_closed), (b.low, not b.low_closed))
                high, high_closed = min((a.high, a.high_closed), (b.high, b.high_closed))
                out.append(Interval(low, not low_closed, high, high_closed))
        return Band(_normal(out), self.missing and other.missing)

    def union(self, other: "Band") -> "Band":
        return Band(_normal(list(self.intervals) + list(other.intervals)), self.missing or other.missing)

    def complement(self) -> "Band":
        out, low, low_closed = [], -INF, False
        for iv in self.intervals:
            out.append(Interval(low, low_closed, iv.low, not iv.low_closed))
            low, low_closed = iv.high, not iv.high_closed
        out.append(Interval(low, low_closed, INF, False))
        return Band(_normal(out), not self.missing)

    def clip(self, low: float, low_closed: bool, high: float, high_closed: bool, integer: bool) -> "Band":
        clipped = self.intersect(Band((Interval(low, low_closed, high, high_closed),)))
        return Band(tuple(iv for iv in clipped.intervals if not iv.empty(integer)), self.missing)

    def is_empty(self, integer: bool) -> bool:
        return all(iv.empty(integer) for iv in self.intervals)

    def within(self, other: "Band", integer: bool) -> bool:
        return self.intersect(other.complement()).is_empty(integer)

    def show(self) -> str:
        return " or ".join(iv.show() for iv in self.intervals) or "nothing"


def _normal(intervals: list[Interval]) -> tuple[Interval, ...]:
    """Sorted, merged, without empty pieces (as real intervals)."""
    live = sorted((iv for iv in intervals if not iv.empty(False)), key=lambda iv: (iv.low, not iv.low_closed))
    out: list[Interval] = []
    for iv in live:
        if out:
            last = out[-1]
            touches = iv.low < last.high or (iv.low == last.high and (iv.low_closed or last.high_closed))
            if touches:
                if (iv.high, iv.high_closed) > (last.high, last.high_closed):
                    out[-1] = Interval(last.low, last.low_closed, iv.high, iv.high_closed)
                continue
        out.append(iv)
    return tuple(out)


def band_of(node: Node, path: str, facts: dict[str, tuple[str, "Band"]]) -> "Band | None":
    """The band over `path` for which the condition holds, when the condition is about `path` alone
    (facts whose only rule is such a band count as that band); else None."""
    if isinstance(node, FieldTest):
        if node.path != path or isinstance(node.operand, FieldRef):
            return None
        return Band.of(node.op, node.operand)
    if isinstance(node, FactTest):
        found = facts.get(node.name)
        return found[1] if found and found[0] == path else None
    if isinstance(node, Not):
        inner = band_of(node.item, path, facts)
        return None if inner is None else inner.complement()
    if isinstance(node, (All, Any_)):
        parts = [band_of(item, path, facts) for item in node.items]
        if not parts or any(p is None for p in parts):
            return None
        out = parts[0]
        for part in parts[1:]:
            out = out.intersect(part) if isinstance(node, All) else out.union(part)
        return out
    return None


def fields_of(node: Node, facts: dict[str, tuple[str, "Band"]]) -> set[str]:
    """The fields a condition's thresholds are about (through band facts too)."""
    found = set()
    for item in node.walk():
        if isinstance(item, FieldTest) and not isinstance(item.operand, FieldRef):
            found.add(item.path)
        elif isinstance(item, FactTest) and item.name in facts:
            found.add(facts[item.name][0])
    return found
