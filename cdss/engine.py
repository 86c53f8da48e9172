"""evaluate(case, knowledge) -> Result: the one entry point that the CLI, batch and audit all call.

One Evaluator per process and knowledge base: it compiles the rules once into a durable-rules Host and
then runs cases one at a time in one durable-rules state. After each case every fact it asserted is
retracted and the state is checked to be empty, so no case sees another's facts. A state is reused
rather than created and deleted per case because, with this rule base, creating one costs ~580 us
(durable-rules allocates frame pools for every node) and deleting one whose case fired no action
frees uninitialised buffers and aborts the process (durable-rules 2.0.28, reproduced in
tests/test_engine_traps.py). Every durable-rules trap listed in shared/notes/durable-rules.md is guarded
here; a case on which the engine misbehaves raises EngineFault, never a silent or partial result, and the
Host it broke is abandoned for a fresh one.
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
        self.in_engine: list[dict] = []  # every fact asserted into durable-rules, to retract afterwards
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
        self._lock = threading.Lock()
        self._paths = [(path, tuple(path.split("."))) for path in sorted(self.program.scalar_paths)]
        self._list_paths = [(path, tuple(path.split("."))) for path in sorted(self.program.list_paths)]

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
            run.in_engine.append(fact)
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
        data, sid = run.case.data, run.sid
        for path, parts in self._paths:
            value = lookup(data, parts)
            if value is MISSING or isinstance(value, list):
                continue
            # A study (an object) is pushed only as "present"; its findings travel as list facts.
            out.append({"sid": sid, "id": f"o{len(out)}", "t": "obs", "k": path,
                        "v": True if isinstance(value, dict) else value})
        if self.program.trials:
            limit = self.kb.failed_min_weeks
            for trial in data.get("treatments", ()):
                weeks, response = trial["weeks"], trial["response"]
                out.append({"sid": sid, "id": f"o{len(out)}", "t": "trial", "c": trial["code"],
                            "j": trial.get("joint", "*"), "failed": response in ("none", "partial") and weeks >= limit,
                            "running": weeks < limit, "good": response == "good"})
        for path, parts in self._list_paths:
            value = lookup(data, parts)
            if isinstance(value, list):
                for item in dict.fromkeys(value):
                    out.append({"sid": sid, "id": f"o{len(out)}", "t": "obs", "k": path + "[]", "v": item})
        return out

    SID = "case"

    def run(self, case: Case) -> CaseRun:
        with self._lock:
            run = CaseRun(case, self.kb, self.SID)
            self._current = run
            clean = poisoned = False
            try:
                facts = self._case_facts(run)
                run.in_engine.extend(facts)
                if facts:  # assert_facts([]) segfaults (trap 3)
                    self.host.assert_facts(self.ruleset, facts)
                for stratum in self.program.strata:
                    if run.fault is not None:
                        break
                    token = {"sid": run.sid, "id": f"p{stratum}", "t": "phase", "k": stratum}
                    run.in_engine.append(token)
                    self.host.assert_fact(self.ruleset, token)
                clean = run.fault is None
            except durable_engine.MessageNotHandledException:
                run.fault, poisoned = EngineFault("durable-rules did not handle a fact (MessageNotHandled)"), True
            except durable_engine.MessageObservedException:
                run.fault = EngineFault("durable-rules saw a fact twice (MessageObserved; see its issue #376)")
                poisoned = True
            except Exception as error:  # the C core reports its errors as plain Exceptions
                run.fault, poisoned = EngineFault(f"durable-rules failed: {error}"), True
            finally:
                self._current = None
                if not poisoned:
                    if not clean:
                        self._drain()
                    poisoned = not self._empty_state(run)
                if poisoned:
                    # A refused assert leaves the state corrupt (deleting it aborts the process): leave
                    # this Host behind and start a fresh one.
                    self._new_host()
            if run.fault is not None:
                fault = run.fault
                raise fault if isinstance(fault, EngineFault) else EngineFault(
                    f"a rule action failed: {type(fault).__name__}: {fault}")
            return run

    def _empty_state(self, run: CaseRun) -> bool:
        """Retract what the case asserted and check that nothing is left: the next case starts clean."""
        try:
            if run.in_engine:
                self.host.retract_facts(self.ruleset, run.in_engine)
            left = self.host.get_facts(self.ruleset, run.sid)
        except Exception as error:
            if run.fault is None:
                run.fault = EngineFault(f"durable-rules could not clear the case: {error}")
            return False
        if left:
            if run.fault is None:
                run.fault = EngineFault(f"{len(left)} facts were left in durable-rules after the case")
            return False
        return True

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
