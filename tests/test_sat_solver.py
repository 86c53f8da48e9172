"""The audit's SAT solver (cdss/audit/logic/solver.py) against brute force: on random small CNFs it finds a
model exactly when one exists, and every model it returns satisfies every clause.

Every "no case can make this rule fire" the audit reports rests on the solver's "unsatisfiable", so a
wrong answer here would be a wrong finding there.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings, strategies as st

from cdss.audit.logic.solver import Solver

MAX_VARS = 8


def brute_force(nvars: int, clauses: list[list[int]]) -> bool:
    """Whether some assignment of the nvars variables satisfies every clause."""
    for bits in itertools.product((False, True), repeat=nvars):
        if all(any(bits[abs(lit) - 1] == (lit > 0) for lit in clause) for clause in clauses):
            return True
    return False


def solve(nvars: int, clauses: list[list[int]], **options) -> dict[int, bool] | None:
    solver = Solver()
    for _ in range(nvars):
        solver.new_var()
    for clause in clauses:
        solver.add_clause(list(clause))  # the solver reorders a clause's literals: give it its own copy
    return solver.solve(**options)


def satisfies(model: dict[int, bool], clauses: list[list[int]]) -> bool:
    return all(any(model[abs(lit)] == (lit > 0) for lit in clause) for clause in clauses)


@st.composite
def cnfs(draw, max_vars: int = MAX_VARS, max_clauses: int = 40):
    nvars = draw(st.integers(1, max_vars))
    literal = st.integers(1, nvars).flatmap(lambda v: st.sampled_from((v, -v)))
    clauses = draw(st.lists(st.lists(literal, min_size=1, max_size=4), max_size=max_clauses))
    return nvars, clauses


@settings(max_examples=400, deadline=None)
@given(cnf=cnfs())
def test_the_solver_agrees_with_brute_force(cnf):
    nvars, clauses = cnf
    model = solve(nvars, clauses)
    assert (model is not None) == brute_force(nvars, clauses)
    if model is not None:
        assert set(model) == set(range(1, nvars + 1))
        assert satisfies(model, clauses)


@settings(max_examples=200, deadline=None)
@given(cnf=cnfs(max_vars=6, max_clauses=24), prefer=st.lists(st.integers(-6, 6).filter(bool), max_size=6))
def test_preferred_phases_never_change_the_answer(cnf, prefer):
    """The audit asks the solver to try some literals true first (`phase`, `activity`): a hint, never a
    constraint."""
    nvars, clauses = cnf
    solver = Solver()
    for _ in range(nvars):
        solver.new_var()
    for clause in clauses:
        solver.add_clause(list(clause))
    for lit in prefer:
        if abs(lit) <= nvars:
            solver.phase[abs(lit)] = 1 if lit > 0 else -1
            solver.activity[abs(lit)] = 1.0
    model = solver.solve()
    assert (model is not None) == brute_force(nvars, clauses)
    if model is not None:
        assert satisfies(model, clauses)


def pigeonhole(pigeons: int, holes: int) -> tuple[int, list[list[int]]]:
    """Every pigeon in a hole, no two in one: unsatisfiable when pigeons > holes, and hard without
    learning, so it exercises conflict analysis and backjumping."""
    def var(p: int, h: int) -> int:
        return p * holes + h + 1

    clauses = [[var(p, h) for h in range(holes)] for p in range(pigeons)]
    for h in range(holes):
        for p, q in itertools.combinations(range(pigeons), 2):
            clauses.append([-var(p, h), -var(q, h)])
    return pigeons * holes, clauses


@pytest.mark.parametrize("pigeons, holes", [(3, 3), (4, 3), (5, 4), (6, 5)])
def test_pigeonhole(pigeons, holes):
    nvars, clauses = pigeonhole(pigeons, holes)
    model = solve(nvars, clauses)
    if pigeons > holes:
        assert model is None
    else:
        assert model is not None and satisfies(model, clauses)


def test_edge_cases():
    assert solve(1, []) is not None  # no clause: anything goes
    assert solve(1, [[]]) is None  # the empty clause
    assert solve(2, [[1], [-1]]) is None  # contradicting units
    assert solve(2, [[1, -1]]) is not None  # a tautology is dropped
    assert solve(2, [[1, 1, 2], [-1]]) == {1: False, 2: True}  # repeated literals are merged


def test_it_gives_up_loudly_past_its_conflict_budget():
    nvars, clauses = pigeonhole(6, 5)
    with pytest.raises(RuntimeError, match="gave up"):
        solve(nvars, clauses, max_conflicts=3)
