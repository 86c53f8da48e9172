"""Asking the rule logic a question: find a case-shaped model in which some formulas hold.

Kept apart from `formulas` (which only builds the formulas) so that the layers run one way: `formulas`
knows nothing of clauses, `encoding` turns the formulas a question reaches into clauses, `witnesses` turns
a model into a case, and this module ties them together.
"""

from __future__ import annotations

from typing import Iterable

from cdss.audit.logic.encoding import Encoder, Model
from cdss.audit.logic.formulas import RuleLogic

MAX_WITNESS_RETRIES = 8  # new models sought when a model's opaque atoms cannot be met by any case


def solve(logic: RuleLogic, *roots: int, prefer: Iterable[int] = ()) -> Model | None:
    """A model in which every root formula holds, or None when no case can make them all hold. The
    solver tries the `prefer` formulas true first (a model where many of them hold answers more)."""
    blocked: list[dict] = []  # assignments of opaque atoms that no case could realise
    model = None
    for _ in range(MAX_WITNESS_RETRIES + 1):
        encoder = Encoder(logic)
        for root in roots:
            encoder.solver.add_clause([encoder.lit(root)])
        for node in prefer:
            lit = encoder.lit(node)
            encoder.solver.phase[abs(lit)] = 1 if lit > 0 else -1
            encoder.solver.activity[abs(lit)] = 1.0
        for assignment in blocked:
            clause = [-encoder.inputs[key] if on else encoder.inputs[key]
                      for key, on in assignment.items() if key in encoder.inputs]
            if clause:
                encoder.solver.add_clause(clause)
        found = encoder.solver.solve()
        if found is None:
            return model  # None, or the last model (whose case cannot be built) when retries ran out
        model = Model(logic, encoder, found)
        if model.case() is not None:
            return model
        # Field-to-field comparisons and trial counts are opaque to the solver: it may pick regions no
        # values can meet together (an ESR over 40 yet under half the age). Forbid that pick, try again.
        blocked.append(model.opaque_assignment())
    return model
