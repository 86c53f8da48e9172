"""The process's evaluators: one compiled evaluator per knowledge base and engine, made on first use.

Explicit state with one owner: callers ask `EVALUATORS.get(kb, engine)` and never write to it. Every
evaluator is kept under the id of the process that made it. A forked worker process (batch, audit
coverage) takes over the evaluator its parent made for the same knowledge base and engine when that one
says it can serve after a fork (`fork_safe`): it is the parent's memory, copied, so the worker starts
without compiling the rules again (~0.1 s of every batch on the shipped rules, more on larger ones). The
durable-rules evaluator cannot when the fork caught a case half-run in another thread of the parent (its
lock is then held for ever in the child, and its rulesets hold that case's facts): the child makes its own.
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
        pid = os.getpid()
        key = (pid, id(kb), engine)
        found = self._made.get(key)
        if found is None or found.kb is not kb:
            cls = engine_class(engine)
            with self._lock:
                found = self._made.get(key)
                if found is None or found.kb is not kb:
                    found = self._made[key] = self._inherited(pid, kb, engine) or cls(kb)
        return found

    def _inherited(self, pid: int, kb, engine: str):
        """The evaluator of a parent process that forked this one, for this knowledge base and engine, if
        it can serve here."""
        for (maker, _, name), made in self._made.items():
            if maker != pid and name == engine and made.kb is kb and made.fork_safe():
                return made
        return None


EVALUATORS = Evaluators()


def evaluator_for(kb, engine: str = DEFAULT_ENGINE):
    """The process's evaluator for this knowledge base and engine (compiled once)."""
    return EVALUATORS.get(kb, engine)


def evaluate(case, knowledge, engine: str = DEFAULT_ENGINE):
    """Evaluate one validated case against a knowledge base. Pure: same case, rules and engine, same
    result; both engines give byte-identical results (the Result's `engine` attribute names which ran)."""
    return EVALUATORS.get(knowledge, engine).evaluate(case)
