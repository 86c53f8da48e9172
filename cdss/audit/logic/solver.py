"""A small CDCL SAT solver, so that `cdss audit rules` can reason over rule conditions without a dependency.

The audit asks questions such as "can one case make rule A fire and rule B not fire?". Each question is a
few hundred to a few thousand clauses (only the rules and case fields it touches), well within reach of
a plain conflict-driven solver: two watched literals, first-UIP learning, activity-based decisions.
Literals are non-zero ints (DIMACS style): v is true, -v is false.
"""

from __future__ import annotations

import heapq


class Solver:
    """Clauses in, a model or None out. Use once: add clauses, then call solve()."""

    def __init__(self) -> None:
        self.nvars = 0
        self.clauses: list[list[int]] = []
        self.watches: dict[int, list[int]] = {}
        self.value: list[int] = [0]  # per var: 1 true, -1 false, 0 unassigned
        self.level: list[int] = [0]
        self.reason: list[int] = [-1]
        self.activity: list[float] = [0.0]
        self.phase: list[int] = [-1]
        self.trail: list[int] = []
        self.trail_lim: list[int] = []
        self.head = 0
        self.units: list[int] = []
        self.empty = False
        self.bump = 1.0
        self.heap: list[tuple[float, int]] = []

    def new_var(self) -> int:
        self.nvars += 1
        self.value.append(0)
        self.level.append(0)
        self.reason.append(-1)
        self.activity.append(0.0)
        self.phase.append(-1)
        return self.nvars

    def add_clause(self, lits) -> None:
        clause = list(dict.fromkeys(lits))
        if any(-lit in clause for lit in clause):
            return  # a tautology
        if not clause:
            self.empty = True
        elif len(clause) == 1:
            self.units.append(clause[0])
        else:
            self._attach(clause)

    def _attach(self, clause: list[int]) -> int:
        index = len(self.clauses)
        self.clauses.append(clause)
        self.watches.setdefault(clause[0], []).append(index)
        self.watches.setdefault(clause[1], []).append(index)
        return index

    def _lit_value(self, lit: int) -> int:
        v = self.value[abs(lit)]
        return v if lit > 0 else -v

    def _assign(self, lit: int, reason: int) -> None:
        var = abs(lit)
        self.value[var] = 1 if lit > 0 else -1
        self.level[var] = len(self.trail_lim)
        self.reason[var] = reason
        self.trail.append(lit)

    def _propagate(self) -> int:
        """Unit propagation; returns the index of a conflicting clause or -1."""
        clauses, watches, value = self.clauses, self.watches, self.value
        while self.head < len(self.trail):
            lit = self.trail[self.head]
            self.head += 1
            false_lit = -lit
            watching = watches.get(false_lit)
            if not watching:
                continue
            keep = []
            i = 0
            n = len(watching)
            while i < n:
                ci = watching[i]
                i += 1
                clause = clauses[ci]
                if clause[0] == false_lit:
                    clause[0], clause[1] = clause[1], clause[0]
                first = clause[0]
                fv = value[abs(first)]
                if (fv if first > 0 else -fv) == 1:
                    keep.append(ci)
                    continue
                for k in range(2, len(clause)):
                    other = clause[k]
                    ov = value[abs(other)]
                    if (ov if other > 0 else -ov) != -1:
                        clause[1], clause[k] = other, false_lit
                        watches.setdefault(other, []).append(ci)
                        break
                else:
                    keep.append(ci)
                    if (fv if first > 0 else -fv) == -1:
                        keep.extend(watching[i:])
                        watches[false_lit] = keep
                        return ci
                    self._assign(first, ci)
            watches[false_lit] = keep
        return -1

    def _analyze(self, conflict: int) -> tuple[list[int], int]:
        """First-UIP learning: the learnt clause (asserting literal first) and the level to go back to."""
        seen = set()
        learnt = [0]
        counter = 0
        lit = 0
        index = len(self.trail) - 1
        current = len(self.trail_lim)
        clause = self.clauses[conflict]
        while True:
            for q in (clause if lit == 0 else clause[1:]):
                var = abs(q)
                if var in seen or self.level[var] == 0:
                    continue
                seen.add(var)
                self._bump(var)
                if self.level[var] == current:
                    counter += 1
                else:
                    learnt.append(q)
            while abs(self.trail[index]) not in seen:
                index -= 1
            lit = self.trail[index]
            index -= 1
            counter -= 1
            if counter == 0:
                break
            clause = self.clauses[self.reason[abs(lit)]]
            seen.discard(abs(lit))
        learnt[0] = -lit
        if len(learnt) == 1:
            return learnt, 0
        best = max(range(1, len(learnt)), key=lambda k: self.level[abs(learnt[k])])
        learnt[1], learnt[best] = learnt[best], learnt[1]
        return learnt, self.level[abs(learnt[1])]

    def _bump(self, var: int) -> None:
        self.activity[var] += self.bump
        if self.activity[var] > 1e100:
            self.activity = [a * 1e-100 for a in self.activity]
            self.bump *= 1e-100
            self.heap = [(-self.activity[v], v) for v in range(1, self.nvars + 1) if self.value[v] == 0]
            heapq.heapify(self.heap)
        elif self.value[var] == 0:
            heapq.heappush(self.heap, (-self.activity[var], var))

    def _backtrack(self, level: int) -> None:
        if len(self.trail_lim) <= level:
            return
        stop = self.trail_lim[level]
        for lit in self.trail[stop:]:
            var = abs(lit)
            self.phase[var] = 1 if lit > 0 else -1
            self.value[var] = 0
            self.reason[var] = -1
            heapq.heappush(self.heap, (-self.activity[var], var))
        del self.trail[stop:]
        del self.trail_lim[level:]
        self.head = len(self.trail)

    def _decide(self) -> int:
        heap, value, activity = self.heap, self.value, self.activity
        while heap:
            act, var = heapq.heappop(heap)
            if value[var] == 0 and -act == activity[var]:
                return var * self.phase[var]
        return 0

    def solve(self, max_conflicts: int = 100000) -> dict[int, bool] | None:
        """A model (var -> bool) or None when unsatisfiable. Raises RuntimeError past max_conflicts."""
        if self.empty:
            return None
        self.heap = [(-self.activity[var], var) for var in range(1, self.nvars + 1)]
        heapq.heapify(self.heap)
        for lit in self.units:
            state = self._lit_value(lit)
            if state == -1:
                return None
            if state == 0:
                self._assign(lit, -1)
        conflicts = 0
        while True:
            conflict = self._propagate()
            if conflict != -1:
                conflicts += 1
                if conflicts > max_conflicts:
                    raise RuntimeError("the SAT solver gave up (too many conflicts)")
                if not self.trail_lim:
                    return None
                learnt, back = self._analyze(conflict)
                self._backtrack(back)
                if len(learnt) == 1:
                    self._assign(learnt[0], -1)
                else:
                    self._assign(learnt[0], self._attach(learnt))
                self.bump *= 1.05
                continue
            lit = self._decide()
            if lit == 0:
                return {var: self.value[var] == 1 for var in range(1, self.nvars + 1)}
            self.trail_lim.append(len(self.trail))
            self._assign(lit, -1)
