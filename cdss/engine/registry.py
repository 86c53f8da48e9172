"""The process's evaluators: one compiled evaluator per knowledge base and engine, made on first use.

Explicit state with one owner: callers ask `EVALUATORS.get(kb, engine)` and never write to it. A forked
worker process (batch, audit coverage) must not reuse its parent's durable-rules Host, so every evaluator
is kept under the id of the process that made it and a child simply makes its own.
"""

from __future__ import annotations

import os
import threading

from cdss.errors import CdssError

ENGINES = ("durable", "direct")
DEFAULT_ENGINE = "durable"


def engine_class(engine: str):
    if engine == "durable":
        from cdss.engine.durable import Evaluator
        return Evaluator
    if engine == "direct":
        from cdss.engine.direct import DirectEvaluator
        return DirectEvaluator
    raise CdssError(f"unknown engine {engine!r}; expected one of: {', '.join(ENGINES)}")


class Evaluators:
    """A cache of compiled evaluators keyed by (process, knowledge base, engine)."""

    def __init__(self):
        self._made: dict[tuple[int, int, str], object] = {}
        self._lock = threading.Lock()

    def get(self, kb, engine: str = DEFAULT_ENGINE):
        key = (os.getpid(), id(kb), engine)
        found = self._made.get(key)
        if found is None or found.kb is not kb:
            cls = engine_class(engine)
            with self._lock:
                found = self._made.get(key)
                if found is None or found.kb is not kb:
                    found = self._made[key] = cls(kb)
        return found


EVALUATORS = Evaluators()


def evaluator_for(kb, engine: str = DEFAULT_ENGINE):
    """The process's evaluator for this knowledge base and engine (compiled once)."""
    return EVALUATORS.get(kb, engine)


def evaluate(case, knowledge, engine: str = DEFAULT_ENGINE):
    """Evaluate one validated case against a knowledge base. Pure: same case, rules and engine, same
    result; both engines give byte-identical results (the Result's `engine` attribute names which ran)."""
    return EVALUATORS.get(knowledge, engine).evaluate(case)
