"""evaluate(case, knowledge) -> Result: the one entry point that the CLI, batch and audit all call.

One Evaluator per process and knowledge base: it compiles the rules once into a durable-rules Host and
then runs cases one at a time, each in its own durable-rules state (sid) that is deleted afterwards.
Every durable-rules trap listed in shared/notes/durable-rules.md is guarded here; a case on which the
engine misbehaves raises EngineFault, never a silent or partial result.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Callable

from durable import engine as durable_engine

from . import policies
from .compiler import Program, compile_knowledge
from .conditions import MISSING, STATUS_RANK, Facts, lookup
from .errors import EngineFault
from .knowledge import Conclusion, KnowledgeBase, Rule, describe_conclusion
from .model import Case, Result

URGENCY_RANK = {"emergency": 0, "urgent": 1, "soon": 2, "routine": 3}


class _QuietHost(durable_engine.Host):
    """A Host without the two timer threads, which would run pending actions outside our call (trap 2)."""

    def _run(self) -> None:
        pass


class CaseRun:
    """What one case accumulates while its rules fire."""

    def __init__(self, case: Case, kb: KnowledgeBase, sid: str):
        self.case = case
        self.sid = sid
        self.facts = Facts(case=case.data, failed_min_weeks=kb.failed_min_weeks)
        self.fired: dict[str, tuple] = {}  # rule id -> (witnesses, asserted)
        self.conclusions: list[tuple[Rule, Conclusion]] = []
        self.fault: BaseException | None = None
        self.serial = itertools.count()


class Evaluator:
    """A compiled knowledge base inside one durable-rules Host, for one process."""

    _names = itertools.count()

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.program: Program = compile_knowledge(kb)
        self.stratum_of = {item.rule.id: item.stratum for item in self.program.compiled}
        self._new_host()
        self._current: CaseRun | None = None
        self._sids = itertools.count(1)
        self._lock = threading.Lock()

    def _new_host(self) -> None:
        self.ruleset = f"cdss{next(self._names)}"
        self.host = _QuietHost()
        self.host.register_rulesets({self.ruleset: self.program.definition(self._action_for)})
        self.abandoned_hosts = getattr(self, "abandoned_hosts", -1) + 1

    # -- durable-rules actions ------------------------------------------------------------------
    def _action_for(self, rule: Rule) -> Callable:
        # Exactly one parameter: a second one would make durable-rules treat the action as asynchronous
        # and silently stop the chain (trap 5).
        def action(c) -> None:
            run = self._current
            if run is None:
                return  # draining a failed case: do nothing
            try:
                self._fire(run, rule, c)
            except BaseException as error:  # durable-rules would swallow it (trap 4): keep it
                if run.fault is None:
                    run.fault = error
        return action

    def _fire(self, run: CaseRun, rule: Rule, c) -> None:
        if rule.id in run.fired:
            return  # a rule fires once per case, whichever pattern match woke it
        witnesses = rule.when.holds(run.facts)
        if witnesses is None:
            return
        unique = list(dict.fromkeys(witnesses))
        asserted = []
        to_assert = []
        for conclusion in rule.then:
            asserted.append(describe_conclusion(conclusion))
            run.conclusions.append((rule, conclusion))
            made = self._apply(run, conclusion)
            if made is not None:
                to_assert.append(made)
        run.fired[rule.id] = (tuple(unique), tuple(asserted))
        for fact in to_assert:
            c.assert_fact(fact)

    def _apply(self, run: CaseRun, conclusion: Conclusion) -> dict | None:
        """Record a conclusion in the case's knowledge; return the durable-rules fact to assert, if any
        rule pattern consumes it and it is new (asserting a duplicate would raise, trap 4)."""
        d, facts = conclusion.data, run.facts
        pushed = self.program.pushed_refs
        if conclusion.kind == "assert":
            if d["name"] in facts.facts:
                return None
            facts.facts.add(d["name"])
            if ("fact", d["name"]) in pushed:
                return {"sid": run.sid, "id": f"d{next(run.serial)}", "t": "fact", "n": d["name"]}
        elif conclusion.kind == "condition":
            have = facts.conditions.setdefault(d["code"], set())
            if d["status"] in have:
                return None
            have.add(d["status"])
            if ("condition", d["code"]) in pushed:
                return {"sid": run.sid, "id": f"d{next(run.serial)}", "t": "cond", "c": d["code"], "s": d["status"]}
        elif conclusion.kind == "red_flag":
            have = facts.red_flags.setdefault(d["code"], set())
            if d["urgency"] in have:
                return None
            have.add(d["urgency"])
            if ("red_flag", d["code"]) in pushed or ("red_flag", "any") in pushed:
                return {"sid": run.sid, "id": f"d{next(run.serial)}", "t": "flag", "c": d["code"], "u": d["urgency"]}
        return None

    # -- one case -------------------------------------------------------------------------------
    def _case_facts(self, run: CaseRun) -> list[dict]:
        out = []
        data = run.case.data
        for path in sorted(self.program.scalar_paths):
            value = lookup(data, tuple(path.split(".")))
            if value is MISSING or isinstance(value, list):
                continue
            # A study (an object) is pushed only as "present"; its findings travel as list facts.
            shown = True if isinstance(value, dict) else value
            out.append({"sid": run.sid, "id": f"o{len(out)}", "t": "obs", "k": path, "v": shown})
        for path in sorted(self.program.list_paths):
            value = lookup(data, tuple(path.split(".")))
            if isinstance(value, list):
                for item in dict.fromkeys(value):
                    out.append({"sid": run.sid, "id": f"o{len(out)}", "t": "obs", "k": path + "[]", "v": item})
        return out

    def run(self, case: Case) -> CaseRun:
        with self._lock:
            run = CaseRun(case, self.kb, str(next(self._sids)))
            self._current = run
            clean = False
            poisoned = False
            try:
                facts = self._case_facts(run)
                if facts:  # assert_facts([]) segfaults (trap 3)
                    self.host.assert_facts(self.ruleset, facts)
                for stratum in self.program.strata:
                    if run.fault is not None:
                        break
                    self.host.assert_fact(self.ruleset, {"sid": run.sid, "id": f"p{stratum}", "t": "phase", "k": stratum})
                clean = run.fault is None
            except durable_engine.MessageNotHandledException:
                run.fault = EngineFault("durable-rules did not handle a fact (MessageNotHandled)")
                poisoned = True
            except durable_engine.MessageObservedException:
                run.fault = EngineFault("durable-rules saw a fact twice (MessageObserved; see its issue #376)")
                poisoned = True
            except Exception as error:  # the C core reports its errors as plain Exceptions
                run.fault = EngineFault(f"durable-rules failed: {error}")
                poisoned = True
            finally:
                self._current = None
                if poisoned:
                    # After a refused assert the state is corrupt: deleting it frees an invalid pointer
                    # and aborts the process (seen with 2.0.28). Leave it, and start a fresh Host.
                    self._new_host()
                else:
                    if not clean:
                        self._drain()
                    self.host.delete_state(self.ruleset, run.sid)  # one live sid at a time (trap 1)
            if run.fault is not None:
                fault = run.fault
                raise fault if isinstance(fault, EngineFault) else EngineFault(
                    f"a rule action failed: {type(fault).__name__}: {fault}")
            return run

    def _drain(self) -> None:
        """Run pending activations as no-ops, so the state can be deleted safely (trap 2)."""
        ruleset = self.host.get_ruleset(self.ruleset)
        from durable import engine as e  # the C module handle lives there
        for _ in range(10000):
            result = e.durable_rules_engine.start_action(ruleset._handle)
            if not result:
                return
            ruleset._flush_actions(json.loads(result[0]), {"message": json.loads(result[1])}, result[2],
                                   lambda error, state: None)

    def evaluate(self, case: Case) -> Result:
        run = self.run(case)
        return policies.build_result(run, self.kb, self.stratum_of)


_evaluators: dict[int, Evaluator] = {}


def evaluator_for(kb: KnowledgeBase) -> Evaluator:
    """The process's Evaluator for this knowledge base (compiled once)."""
    key = id(kb)
    found = _evaluators.get(key)
    if found is None or found.kb is not kb:
        found = _evaluators[key] = Evaluator(kb)
    return found


def evaluate(case: Case, knowledge: KnowledgeBase) -> Result:
    """Evaluate one validated case against a knowledge base. Pure: same case and rules, same result."""
    return evaluator_for(knowledge).evaluate(case)


__all__ = ["evaluate", "Evaluator", "evaluator_for", "URGENCY_RANK", "STATUS_RANK"]
