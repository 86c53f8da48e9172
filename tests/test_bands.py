"""Threshold bands (cdss/audit/logic/bands.py) against the plain comparisons they stand for: a band holds a
value exactly when the tests it was made from hold it, and intersect, union, complement and `within`
behave as and, or, not and "every value of one is in the other".

The threshold check reports a gap or an overlap between two rules from these answers, so a band that is
off by one endpoint would report a gap that is not there (or miss one that is).
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings, strategies as st

from cdss.audit.logic.bands import Band, Interval, band_of, fields_of
from cdss.kb.conditions import All, Any_, FactTest, FieldRef, FieldTest, Not, compare

OPS = ("lt", "lte", "gt", "gte", "eq", "ne")
THRESHOLDS = (-2, 0, 1, 2.5, 3, 7)


def holds(band: Band, value: float) -> bool:
    return any((iv.low < value or (iv.low == value and iv.low_closed))
               and (value < iv.high or (value == iv.high and iv.high_closed)) for iv in band.intervals)


def probes(*bands: Band) -> list[float]:
    """Values that tell any two unions of these intervals apart: every endpoint, a point between each two
    neighbouring endpoints, and one beyond each end."""
    ends = sorted({x for band in bands for iv in band.intervals for x in (iv.low, iv.high) if math.isfinite(x)}
                  | set(THRESHOLDS))
    between = [(a + b) / 2 for a, b in itertools.pairwise(ends)]
    return ends + between + [ends[0] - 1, ends[-1] + 1]


tests = st.tuples(st.sampled_from(OPS), st.sampled_from(THRESHOLDS))


@st.composite
def bands(draw, depth: int = 2):
    """A band built from comparisons with and, or and not, beside the predicate it should equal."""
    if depth == 0 or draw(st.booleans()):
        op, value = draw(tests)
        return Band.of(op, value), lambda x, op=op, value=value: compare(op, x, value)
    kind = draw(st.sampled_from(("and", "or", "not")))
    a, pa = draw(bands(depth - 1))
    if kind == "not":
        return a.complement(), lambda x: not pa(x)
    b, pb = draw(bands(depth - 1))
    if kind == "and":
        return a.intersect(b), lambda x: pa(x) and pb(x)
    return a.union(b), lambda x: pa(x) or pb(x)


@settings(max_examples=300, deadline=None)
@given(built=bands(depth=3))
def test_a_band_holds_exactly_the_values_its_tests_hold(built):
    band, predicate = built
    for value in probes(band):
        assert holds(band, value) == predicate(value), value
    # normal form: sorted, disjoint, not touching
    for a, b in itertools.pairwise(band.intervals):
        assert a.high < b.low or (a.high == b.low and not (a.high_closed or b.low_closed))


@settings(max_examples=300, deadline=None)
@given(first=bands(), second=bands())
def test_within_means_every_value_of_one_is_in_the_other(first, second):
    a, b = first[0], second[0]
    assert a.within(b, integer=False) == all(holds(b, x) for x in probes(a, b) if holds(a, x))
    # of whole numbers: the thresholds lie in [-2, 7], so beyond [-10, 10] nothing changes
    assert a.within(b, integer=True) == all(holds(b, n) for n in range(-10, 11) if holds(a, n))


@settings(max_examples=300, deadline=None)
@given(low=st.integers(-6, 6), high=st.integers(-6, 6), low_closed=st.booleans(), high_closed=st.booleans(),
       shift=st.sampled_from((0, 0.5)))
def test_an_interval_is_empty_of_whole_numbers_exactly_when_it_holds_none(low, high, low_closed, high_closed, shift):
    iv = Interval(low + shift, low_closed, high, high_closed)
    band = Band((iv,))
    integers = [n for n in range(-10, 11) if holds(band, n)]
    assert iv.empty(integer=True) == (not integers)
    if integers:
        assert holds(band, iv.example(integer=True))
    if not iv.empty(integer=False):
        assert holds(band, iv.example(integer=False))


def test_rays_to_infinity_are_never_empty_and_have_an_example():
    for iv in (Interval(-math.inf, False, 3, False), Interval(3, False, math.inf, False),
               Interval(-math.inf, False, math.inf, False)):
        assert not iv.empty(integer=True) and not iv.empty(integer=False)
        assert holds(Band((iv,)), iv.example(integer=True)) and holds(Band((iv,)), iv.example(integer=False))


def test_a_gap_between_two_integer_rules_and_an_overlap():
    """`age < 44` beside `age >= 45` leaves 44 to no rule; `weeks <= 12` beside `weeks >= 12` gives 12 to
    both (the threshold check's two findings)."""
    below, above = Band.of("lt", 44), Band.of("gte", 45)
    gap = Interval(below.intervals[-1].high, not below.intervals[-1].high_closed,
                   above.intervals[0].low, not above.intervals[0].low_closed)
    assert not gap.empty(integer=True) and gap.example(integer=True) == 44 and gap.show() == "[44, 45)"
    assert Interval(43.5, False, 44, False).empty(integer=True)
    both = Band.of("lte", 12).intersect(Band.of("gte", 12))
    assert both.show() == "12" and not both.is_empty(integer=True)


def test_values_that_are_not_numbers_give_no_band():
    assert Band.of("eq", "left") is None and Band.of("gte", True) is None
    assert Band.of("in", (1, "x")) is None
    assert Band.of("in", (3, 1, 3)).show() == "1 or 3"


def test_missing_values():
    """`absent` is the band of the unrecorded value alone; a test on a number never holds it; not and or
    carry it over."""
    absent = Band.of("absent", None)
    assert absent.missing and absent.intervals == ()
    assert not Band.of("gte", 3).missing and not Band.of("present", None).missing
    assert absent.complement().missing is False and Band.of("lt", 3).complement().missing is True
    assert absent.union(Band.of("gte", 3)).missing and not absent.intersect(Band.of("gte", 3)).missing


def test_band_of_a_condition():
    age = "patient.age_years"
    adult = FieldTest(age, "gte", 16)
    band = band_of(All((adult, Not(FieldTest(age, "gte", 45)))), age, {})
    assert band.show() == "[16, 45)"
    assert band_of(Any_((FieldTest(age, "lt", 8), FieldTest(age, "gt", 15))), age, {}).show() == "(-inf, 8) or (15, inf)"
    # a condition that is about another field too, or compares with another field, has no band
    assert band_of(All((adult, FieldTest("pain.severity_0_10", "gte", 7))), age, {}) is None
    assert band_of(FieldTest("labs.crp_mg_l", "gt", FieldRef("labs.crp_uln_mg_l")), "labs.crp_mg_l", {}) is None
    # a fact whose only rule is a band over the field counts as that band
    facts = {"derived.adult": (age, Band.of("gte", 16))}
    assert band_of(FactTest("derived.adult"), age, facts).show() == "[16, inf)"
    assert band_of(FactTest("derived.adult"), "pain.severity_0_10", facts) is None
    assert fields_of(All((FactTest("derived.adult"), FieldTest("pain.severity_0_10", "gte", 7))), facts) == {
        age, "pain.severity_0_10"}


@pytest.mark.parametrize("op, value, inside, outside", [
    ("lt", 5, [4.99, -100], [5, 6]), ("lte", 5, [5], [5.01]), ("gt", 5, [5.01], [5]),
    ("gte", 5, [5], [4.99]), ("eq", 5, [5], [4, 6]), ("ne", 5, [4, 6], [5]),
])
def test_each_comparison(op, value, inside, outside):
    band = Band.of(op, value)
    assert all(holds(band, x) for x in inside) and not any(holds(band, x) for x in outside)
