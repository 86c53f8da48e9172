"""evaluate(case, knowledge) -> Result: the one entry point that the CLI, batch and audit all call.

One Evaluator per process and knowledge base: it compiles the rules once into a durable-rules ruleset
and then runs cases one at a time in one durable-rules state. After each case every fact it asserted is
retracted and the state is checked to be empty, so no case sees another's facts. A state is reused
rather than created and deleted per case because, with this rule base, creating one costs ~580 us
(durable-rules allocates frame pools for every node) and deleting one whose case fired no action
frees uninitialised buffers and aborts the process (durable-rules 2.0.28, reproduced in
tests/test_engine_traps.py).

The evaluator drives durable-rules' C core itself (assert, then take and complete activations one by
one) instead of going through its Python Host wrapper: the wrapper builds objects and re-encodes the
state as JSON for every action, which was most of the engine's time, and it swallows exceptions raised
in actions (trap 4), which a loop of our own cannot do. Every trap listed in shared/notes/durable-rules.md
is guarded here; a case on which the engine misbehaves raises EngineFault, never a silent or partial
result, and the ruleset it broke is abandoned for a fresh one.
"""

from __future__ import annotations

import itertools
import json
import re
import threading

from durable import engine as durable_engine

from cdss.engine import policies
from cdss.engine.compiler import Program, compile_knowledge
from cdss.kb.conditions import MISSING, STATUS_RANK, Facts, lookup
from cdss.errors import EngineFault
from cdss.kb.rules import Conclusion, KnowledgeBase, Rule
from cdss.model import Case, Result

CORE = durable_engine.durable_rules_engine
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# durable-rules' JSON reader (src/rules/json.c, getNumber) accepts an exponent only after a fraction: it
# reads Python's repr of 1e16 or 1e-05 ("1e+16", "1e-05") as the integer 1 followed by garbage, and the
# state that leaves behind crashes the process (a segfault on the next activation). Write them "1.0e+16".
# A number in our compact JSON follows ':', ',' or '['; the facts' strings (paths, codes, ids) hold none.
_BARE_EXPONENT = re.compile(r"(?<=[:,\[])(-?[0-9]+)(?=[eE][-+]?[0-9])")


def _dumps(value) -> str:
    text = _encode(value)
    if "e-" in text or "e+" in text:  # Python writes exponents so; a cheap test first, the regex scan is slow
        text = _BARE_EXPONENT.sub(r"\1.0", text)
    return text


def _conclusion_json(conclusion: Conclusion, pushed: frozenset) -> str | None:
    """The JSON fields (after sid and id) of the fact a conclusion asserts into durable-rules, or None
    when no rule pattern consumes it and it stays in Python only."""
    d = conclusion.data
    if conclusion.kind == "assert" and ("fact", d["name"]) in pushed:
        fields = {"t": "fact", "n": d["name"]}
    elif conclusion.kind == "condition" and ("condition", d["code"]) in pushed:
        fields = {"t": "cond", "c": d["code"], "s": d["status"]}
    elif conclusion.kind == "red_flag" and (("red_flag", d["code"]) in pushed or ("red_flag", "any") in pushed):
        fields = {"t": "flag", "c": d["code"], "u": d["urgency"]}
    else:
        return None
    return _dumps(fields)[1:-1]


class _QuietHost(durable_engine.Host):
    """A Host without the two timer threads, which would run pending actions outside our call (trap 2)."""

    def _run(self) -> None:
        pass


class CaseRun:
    """What one case accumulates while its rules fire."""

    def __init__(self, case: Case, kb: KnowledgeBase, sid: str):
        self.case = case
        self.sid = sid
        self.facts = Facts(case=case.data, trials=kb.policy.trials)
        self.fired: dict[str, tuple] = {}  # rule id -> (witnesses, asserted)
        self.in_engine: list[str] = []  # every fact asserted into durable-rules, as JSON, to retract afterwards
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
        # Every fact a conclusion can assert, as JSON around its id: encoding the facts was a tenth of a
        # case's time, and the same strings serve to retract them afterwards.
        self._fact_json = {id(c): body for item in self.program.compiled for c in item.rule.then
                           if (body := _conclusion_json(c, self.program.pushed_refs)) is not None}
        self._asserted = {item.rule.id: tuple(item.rule.describe_conclusions()) for item in self.program.compiled}
        self._phase_json = {k: _dumps({"sid": self.SID, "id": f"p{k}", "t": "phase", "k": k})
                            for k in self.program.strata}
        self._list_paths = [(path, tuple(path.split("."))) for path in sorted(self.program.list_paths)]
        # The pushed paths grouped by the case's top-level section, in the same (sorted) order: a case
        # fills a few sections, and a missing section skips all its paths at once.
        self._sections: list[tuple[str, list]] = []
        for path in sorted(self.program.scalar_paths):
            parts = tuple(path.split("."))
            section, rest = (parts[0], parts[1:]) if len(parts) > 1 else ("", parts)  # "": the case itself
            if not self._sections or self._sections[-1][0] != section:
                self._sections.append((section, []))
            self._sections[-1][1].append((path, rest))

    def _new_host(self) -> None:
        self.ruleset = f"cdss{next(self._names)}"
        self.host = _QuietHost()
        self.host.register_rulesets({self.ruleset: self.program.definition(self._action_for)})
        self._handle = self.host.get_ruleset(self.ruleset)._handle
        self._rules = self.program.rules_by_action_name()
        self.abandoned_hosts = getattr(self, "abandoned_hosts", -1) + 1

    # -- durable-rules actions: dispatched by our own loop, never by durable-rules' wrapper -------------
    @staticmethod
    def _action_for(rule: Rule):
        def dispatched_by_cdss(c) -> None:  # one parameter (trap 5), and never meant to run
            raise AssertionError(f"durable-rules ran the action of {rule.id} itself")
        return dispatched_by_cdss

    def _check(self, result, what: str):
        """durable-rules' result codes (its Python wrapper's _handle_result), as EngineFaults."""
        code = result[0]
        if code == 1:
            raise EngineFault(f"durable-rules did not handle {what} (MessageNotHandled)")
        if code == 2:
            raise EngineFault(f"durable-rules saw {what} twice (MessageObserved; see its issue #376)")
        return 0 if code == 3 else result[1]

    def _assert(self, facts: str, batch: bool) -> None:
        """Assert JSON from outside any action, then run every activation it leads to, to the fixpoint."""
        result = (CORE.assert_facts if batch else CORE.assert_fact)(self._handle, facts)
        self._run_actions(self._check(result, "a case fact" if batch else "a phase token"))

    def _run_actions(self, state_handle) -> None:
        started = CORE.start_action_for_state(self._handle, state_handle)
        if not started:
            return
        message = started[1]
        run = self._current
        while message:
            name = message[2:message.index('"', 2)]  # {"<rule name>": {...matched facts...}}
            try:
                self._fire(run, self._rules[name])
            except EngineFault:
                CORE.abandon_action(self._handle, state_handle)
                raise
            except BaseException as error:
                CORE.abandon_action(self._handle, state_handle)
                raise EngineFault(f"a rule action failed: {type(error).__name__}: {error}") from error
            message = CORE.complete_and_start_action(self._handle, state_handle)

    def _fire(self, run: CaseRun, rule: Rule) -> None:
        if rule.id in run.fired:
            return  # a rule fires once per case, whichever pattern match woke it
        witnesses = rule.when.holds(run.facts)
        if witnesses is None:
            return
        for conclusion in rule.then:
            run.conclusions.append((rule, conclusion))
            if self._apply(run, conclusion) and (body := self._fact_json.get(id(conclusion))) is not None:
                fact = f'{{"sid":"{run.sid}","id":"d{next(run.serial)}",{body}}}'
                run.in_engine.append(fact)
                # Inside an action: durable-rules queues the activations; our loop takes them next.
                self._check(CORE.assert_fact(self._handle, fact), f"fact {fact}")
        run.fired[rule.id] = (tuple(dict.fromkeys(witnesses)), self._asserted[rule.id])

    @staticmethod
    def _apply(run: CaseRun, conclusion: Conclusion) -> bool:
        """Record a conclusion in the case's knowledge; True when it is new (asserting a duplicate fact
        into durable-rules would raise, trap 4)."""
        d, facts = conclusion.data, run.facts
        if conclusion.kind == "assert":
            if d["name"] in facts.facts:
                return False
            facts.facts.add(d["name"])
            return True
        if conclusion.kind == "condition":
            have, value = facts.conditions.setdefault(d["code"], set()), d["status"]
        elif conclusion.kind == "red_flag":
            have, value = facts.red_flags.setdefault(d["code"], set()), d["urgency"]
        else:
            return False
        if value in have:
            return False
        have.add(value)
        return True

    # -- one case -------------------------------------------------------------------------------
    def _case_facts(self, run: CaseRun) -> list[dict]:
        out = []
        data, sid = run.case.data, run.sid
        for section, paths in self._sections:
            block = data.get(section) if section else data
            if not isinstance(block, dict):
                continue
            for path, rest in paths:
                value = lookup(block, rest)
                if value is MISSING or isinstance(value, list):
                    continue
                # A study (an object) is pushed only as "present"; its findings travel as list facts.
                out.append({"sid": sid, "id": f"o{len(out)}", "t": "obs", "k": path,
                            "v": True if isinstance(value, dict) else value})
        if self.program.trials:
            trials = self.kb.policy.trials
            for trial in data.get("treatments", ()):
                out.append({"sid": sid, "id": f"o{len(out)}", "t": "trial", "c": trial["code"],
                            "j": trial.get("joint", "*"), "failed": trials.failed(trial),
                            "running": trials.running(trial), "good": trial["response"] == "good"})
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
            clean = False
            try:
                facts = self._case_facts(run)
                if facts:  # assert_facts([]) segfaults (trap 3)
                    batch = _dumps(facts)
                    run.in_engine.append(batch[1:-1])
                    self._assert(batch, batch=True)
                for stratum in self.program.strata:
                    token = self._phase_json[stratum]
                    run.in_engine.append(token)
                    self._assert(token, batch=False)
                clean = self._empty_state(run)
            except EngineFault as fault:
                run.fault = fault
            except Exception as error:  # the C core reports its errors as plain Exceptions
                run.fault = EngineFault(f"durable-rules failed: {error}")
            finally:
                self._current = None
                if not clean:
                    # The state may hold pending activations or be corrupt (deleting such a state aborts
                    # the process): leave this ruleset behind and start a fresh one.
                    self._new_host()
            if run.fault is not None:
                raise run.fault
            return run

    def _retract(self, facts: list[str]) -> None:
        self._check(CORE.retract_facts(self._handle, "[" + ",".join(facts) + "]"), "the case's facts")

    def _empty_state(self, run: CaseRun) -> bool:
        """Retract what the case asserted and check that nothing is left: the next case starts clean."""
        if run.in_engine:
            self._retract(run.in_engine)
        left = json.loads(CORE.get_facts(self._handle, run.sid))
        if left:
            raise EngineFault(f"{len(left)} facts were left in durable-rules after the case")
        return True

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


__all__ = ["evaluate", "Evaluator", "evaluator_for", "STATUS_RANK"]
