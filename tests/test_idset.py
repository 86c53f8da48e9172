"""`IdSet` (cdss/batch/idset.py), the compact set batch uses to find a case id seen twice: it answers as a set
of strings would while its table grows from any starting size, and it stays at most half full.

A wrong answer here would call a fresh case a duplicate (and drop it from a batch) or let a repeated id
through.
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from cdss.batch.idset import IdSet

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(ids, max_size=300), capacity=st.sampled_from((1, 2, 4, 16, 1 << 14)))
def test_answers_as_a_set_of_strings_does(items, capacity):
    seen: set[str] = set()
    compact = IdSet(capacity)
    for item in items:
        assert compact.add(item) == (item not in seen), item
        seen.add(item)
        assert len(compact) == len(seen)


def test_grows_through_many_doublings_and_forgets_nothing():
    compact = IdSet(1)
    n = 50_000
    assert all(compact.add(f"case-{i:06d}") for i in range(n))
    assert len(compact) == n
    table = compact._table  # noqa: SLF001 - the growth itself is what this test is about
    assert len(table) & (len(table) - 1) == 0  # a power of two, as the probing mask needs
    assert 2 * n <= len(table) < 8 * n  # at most half full, and not grown far past need
    assert not any(compact.add(f"case-{i:06d}") for i in range(n))  # every id is still found after growing
    assert len(compact) == n


def test_ids_that_differ_only_slightly_are_different():
    compact = IdSet(4)
    for item in ("a", "A", "a ", " a", "a\u0301", "á", "1", "01", "1.0"):
        assert compact.add(item), item
    assert len(compact) == 9
