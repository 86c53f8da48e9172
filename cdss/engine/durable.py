"""The durable-rules engine: the compiled partitions as rulesets of durable-rules' C core, for one process.

It compiles the rules once into durable-rules rulesets (cdss/engine/compiler.py) and then runs cases one
at a time in one state per ruleset. After each case every fact it asserted is retracted and each state is
checked to be empty, so no case sees another's facts. A state is reused rather than created and deleted
per case because creating one costs ~580 us (durable-rules allocates frame pools for every node) and
deleting one whose case fired no action frees uninitialised buffers and aborts the process
(durable-rules 2.0.28, reproduced in tests/test_engine_traps.py).

The engine drives durable-rules' C core itself (create the rulesets, assert, then take and complete
activations one by one) instead of going through its Python Host wrapper: the wrapper builds objects and
re-encodes the state as JSON for every action, and it swallows exceptions raised in actions (trap 4). The
rulesets hold no actions at all, so durable-rules has nothing it could run itself (trap 5), and the
wrapper is never imported (~2 % of a cold `cdss evaluate`). durable-rules decides which
rules are activated; the activations are collected, and the pending rule of the lowest stratum, then the
lowest index, fires first, its whole condition checked on the case's knowledge (cdss/engine/firing.py). A
derived fact it asserts goes to every ruleset that tests it, once a stratum opens there that tests it (a
thing settled early, which no pattern tests, goes nowhere); a lazy ruleset (cdss/engine/compiler.py) is
given the case's facts only once the case has derived all that one of its rules needs, and has cost
nothing until then. Every trap listed in
shared/notes/durable-rules.md is guarded here; a case on which the engine misbehaves raises EngineFault,
never a silent or partial result, and the rulesets it broke are abandoned for fresh ones.
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
import threading

import durable_rules_engine as CORE
import orjson

from cdss.engine import policies
from cdss.engine.compiler import TRIAL_KEY, Partition, Program, compile_knowledge
from cdss.engine.firing import CaseRun, Firing
from cdss.errors import EngineFault, RuleFileError
from cdss.kb.rules import Conclusion, KnowledgeBase, Rule
from cdss.model import Case, Result

NAME = "durable"
ANY_FLAG = ("red_flag", "any")
SID = "case"
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


def _value_json(value) -> str:
    """A case value as JSON, fast for the common kinds (a study, an object, is pushed as "present")."""
    if value is True or isinstance(value, dict):
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if type(value) is str:
        return _text_json(value)
    return _dumps([value])[1:-1]  # in a list, so that a bare exponent (1e-05) is found and written 1.0e-05


def _text_json(text: str) -> str:
    """A string as JSON, the bytes json.dumps writes without ASCII escapes, ~5x faster (tests/test_jsonbytes.py
    holds orjson to them for every character, for this and for cdss/io/jsonbytes.py)."""
    return orjson.dumps(text).decode()


def _derived_fact(conclusion: Conclusion, program: Program) -> tuple[tuple[str, str], str] | None:
    """(the derived thing, the JSON fields after sid and id) of the fact a conclusion asserts into
    durable-rules, or None when it concludes nothing a pattern tests. The fact carries its thing's group and
    property (cdss/engine/compiler.py), and a red flag also those of every red flag (`red_flag: any`)."""
    ref = conclusion.asserts
    if ref is None:
        return None
    d = conclusion.data
    value = {"fact": True, "condition": d.get("status"), "red_flag": d.get("urgency")}[ref[0]]
    fields = {}
    for thing in (ref, ("red_flag", "any")) if ref[0] == "red_flag" else (ref,):
        name = program.properties.get(thing)
        if name is not None:
            fields[program.groups[name]] = 1
            fields[name] = value
    if not fields:
        return None
    return ref, _dumps(fields)[1:-1]


def create_ruleset(name: str, definition: dict):
    """A ruleset of durable-rules' C core, and its handle: the JSON its Python Host would give the core
    for the same definition, without the Host: no action objects and no timer threads, which would run
    pending actions outside our call (trap 2). Raises the core's Exception ("Could not create ruleset,
    error code: 108") when it refuses.
    The JSON is orjson's (the same values as json.dumps, without spaces; json.dumps was ~3 % of a cold
    `cdss evaluate`). A whole number beyond 64 bits, which orjson refuses, is written by json.dumps; a
    number durable-rules' reader cannot take never reaches a definition (compiler._core_readable)."""
    try:
        text = orjson.dumps(definition).decode("utf-8")
    except TypeError:
        text = json.dumps(definition, ensure_ascii=False)
    return CORE.create_ruleset(name, text)


class Ruleset:
    """One partition created in the C core: its handle, its rules by durable-rules name, and the facts it
    is given (the case fields and derived things its patterns test)."""

    def __init__(self, partition: Partition, name: str, handle):
        self.partition = partition
        self.name = name
        self.handle = handle
        self.by_name = partition.rules_by_name()
        self.scalar_paths = partition.scalar_paths
        self.list_paths = partition.list_paths
        self.lazy = partition.lazy
        self.token = _dumps({"sid": SID, "id": "p", "t": "phase", "k": 0}) if partition.tokened else None
        # the keys of the case facts it is given: field paths, `path[]` for list elements, `trial:<code>`
        self.keys = frozenset(self.scalar_paths | {path + "[]" for path in self.list_paths}
                              | {TRIAL_KEY + code for code in partition.trials})


class _Pass:
    """One case's pass through the rulesets: what was asserted where, and the pending rules."""

    def __init__(self, run: CaseRun):
        self.run = run
        self.case_facts: dict[str, list[str]] = {}
        self.present: set[tuple[str, str]] = set()  # the derived things so far (a red flag also as `any`)
        self.waiting: dict[int, list[str]] = {}  # lazy ruleset not yet opened -> derived facts held for it
        self.opened: set[int] = set()  # the lazy rulesets opened in this case
        self.in_engine: dict[int, list[str]] = {}  # ruleset number -> facts asserted there, as JSON
        # derived facts held back until the stratum of the first rule there that tests them: (that stratum,
        # ruleset number, fact JSON), in assertion order
        self.later: list[tuple] = []
        self.pending: list[int] = []  # ranks of pending rules (stratum, then rule-base index), a heap
        self.queued: set[int] = set()
        self.serial = itertools.count()


class Evaluator:
    """A compiled knowledge base as rulesets of durable-rules' C core, for one process."""

    engine = NAME
    SID = SID
    _names = itertools.count()

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.program: Program = compile_knowledge(kb)
        self.stratum_of = {item.rule.id: item.stratum for item in self.program.compiled}
        self._firing = Firing(item.rule for item in self.program.compiled)
        # pending rules fire stratum by stratum, lowest index first: their rank in that order
        self._ranked = sorted(self.program.compiled, key=lambda item: (item.stratum, item.index))
        self._rank = {item.index: rank for rank, item in enumerate(self._ranked)}
        # Every fact a conclusion can assert, as JSON after its id: encoding the facts was a tenth of a
        # case's time, and the same strings serve to retract them afterwards.
        properties, groups = self.program.properties, self.program.groups
        self._derived = {id(c): made for item in self.program.compiled for c in item.rule.then
                         if (made := _derived_fact(c, self.program)) is not None}
        # derived thing -> ((ruleset number, the stratum of its first rule that tests it), ...)
        self._wanting = {ref: tuple((number, due) for number, partition in enumerate(self.program.partitions)
                                    if (due := _first_tested(partition, ref)) is not None)
                         for ref, _ in self._derived.values()}
        # derived thing -> ((lazy ruleset number, the sets of derived things with it that open it), ...):
        # what the ruleset's rules need (cdss/engine/compiler.py), the least of them: a need that holds
        # another opens nothing that one does not (`derived.adult` alone opens what 114 other needs with it
        # would, and each thing that arrives was checked against all of them)
        opens: dict[tuple[str, str], dict[int, list[frozenset]]] = {}
        for number, partition in enumerate(self.program.partitions):
            needs = set(partition.requires)
            for need in sorted(needs, key=lambda need: (len(need), sorted(need))):
                if any(other < need for other in needs):
                    continue
                for thing in need:
                    opens.setdefault(thing, {}).setdefault(number, []).append(need)
        self._opens = {thing: tuple(by_number.items()) for thing, by_number in opens.items()}
        self._lock = threading.Lock()
        self.abandoned_hosts = -1  # sets of rulesets left behind after a fault (each once a Host)
        self._new_host()
        # The pushed paths as a tree of the case's keys, each node (its scalar path and the fact's JSON after
        # its id less the value, its list path and its list facts' JSON after the id less the value, the tree
        # below): a case is walked once, only where it has data (a lookup of each of ~100 paths was ~7 % of a
        # worker's time).
        tree: dict = {}
        for kind, paths in (("field", self.program.scalar_paths), ("list", self.program.list_paths)):
            for path in sorted(paths):
                node, parts = tree, path.split(".")
                for part in parts[:-1]:
                    node = node.setdefault(part, [None, None, None, None, {}])[4]
                entry = node.setdefault(parts[-1], [None, None, None, None, {}])
                name = properties[(kind, path)]
                if kind == "field":
                    entry[0], entry[1] = path, f'","{groups[name]}":1,{_dumps(name)}:'
                else:
                    entry[2], entry[3] = path + "[]", f'"{groups[name]}":1,{_dumps(name)}:'

        def frozen(node: dict) -> dict:
            return {key: (path, tail, listed, named, frozen(below) if below else None)
                    for key, (path, tail, listed, named, below) in node.items()}
        self._tree = frozen(tree)
        self._groups = groups
        # the treatments' properties, by code: a treatment no pattern tests is not asserted
        self._trials = {thing[1]: name for thing, name in properties.items() if thing[0] == "trial"}

    def fork_safe(self) -> bool:
        """Whether a forked child may use this evaluator (cdss/engine/registry.py): its rulesets are the
        C core's memory, copied by the fork, and empty unless a case was being run when the process forked
        (then the lock, copied held, would never be released in the child)."""
        return not self._lock.locked()

    def _new_host(self) -> None:
        """Create every partition afresh in the C core. A partition durable-rules refuses is reported with the
        rule whose addition broke it (issue: never a bare 'error code: 108')."""
        self.rulesets: list[Ruleset] = []
        for partition in self.program.partitions:
            name = f"cdss{next(self._names)}.{partition.name}"
            try:
                handle = create_ruleset(name, partition.definition())
            except Exception as error:  # the C core reports its errors as plain Exceptions
                raise _build_error(partition, error) from None
            self.rulesets.append(Ruleset(partition, name, handle))
        self.abandoned_hosts += 1

    @staticmethod
    def _check(result, what: str):
        """durable-rules' result codes (its Python wrapper's _handle_result), as EngineFaults."""
        code = result[0]
        if code == 1:
            raise EngineFault(f"durable-rules did not handle {what} (MessageNotHandled)")
        if code == 2:
            raise EngineFault(f"durable-rules saw {what} twice (MessageObserved; see its issue #376)")
        return 0 if code == 3 else result[1]

    def _assert(self, ruleset: Ruleset, facts: str, batch: bool, step: _Pass) -> None:
        """Assert JSON into one ruleset, then collect every activation it leads to as a pending rule."""
        result = (CORE.assert_facts if batch else CORE.assert_fact)(ruleset.handle, facts)
        state = self._check(result, "the case's facts" if batch else f"fact {facts}")
        started = CORE.start_action_for_state(ruleset.handle, state)
        if not started:
            return
        message = started[1]
        while message:
            name = message[2:message.index('"', 2)]  # {"<rule name>": {...matched facts...}}
            item = ruleset.by_name.get(name)
            if item is None:
                CORE.abandon_action(ruleset.handle, state)
                raise EngineFault(f"durable-rules activated an unknown rule {name!r}")
            if item.index not in step.queued:
                step.queued.add(item.index)
                heapq.heappush(step.pending, self._rank[item.index])
            message = CORE.complete_and_start_action(ruleset.handle, state)

    # -- one case -------------------------------------------------------------------------------
    def _case_facts(self, run: CaseRun) -> dict[str, list[str]]:
        """The case's facts as JSON, by the key the rulesets ask for: a field path, `path[]` for the
        elements of a list field, `trial:<code>` for the treatments of a code."""
        out: dict[str, list[str]] = {}
        data = run.case.data
        serial = 0
        stack = [(self._tree, data)]
        while stack:
            tree, block = stack.pop()
            for key, value in block.items():
                entry = tree.get(key)
                if entry is None:
                    continue
                path, tail, listed, named, below = entry
                if isinstance(value, list):
                    if listed is not None:
                        items = out[listed] = []
                        for item in dict.fromkeys(value):
                            made = _text_json(item) if type(item) is str else _dumps([item])[1:-1]
                            items.append(f'{{"sid":"{SID}","id":"o{serial}",{named}{made}}}')
                            serial += 1
                    continue
                if path is not None:
                    # A study (an object) is pushed only as "present"; its findings travel as list facts.
                    out[path] = [f'{{"sid":"{SID}","id":"o{serial}{tail}{_value_json(value)}}}']
                    serial += 1
                if below is not None and isinstance(value, dict):
                    stack.append((below, value))
        if self.program.trials:
            definition = self.kb.policy.trials
            for trial in data.get("treatments", ()):
                name = self._trials.get(trial["code"])
                if name is None:
                    continue  # no pattern tests a treatment of its code
                out.setdefault(TRIAL_KEY + trial["code"], []).append(_dumps({
                    "sid": SID, "id": f"o{serial}", self._groups[name]: 1, name: trial.get("joint", "*"),
                    "failed": definition.failed(trial), "running": definition.running(trial),
                    "good": trial["response"] == "good"}))
                serial += 1
        return out

    @staticmethod
    def _opening(ruleset: Ruleset, step: _Pass) -> list[str]:
        """A ruleset's case facts and its token: what it is given first."""
        keys = ruleset.keys
        facts = [fact for key, made in step.case_facts.items() if key in keys for fact in made]
        if ruleset.token is not None:
            facts.append(ruleset.token)
        return facts

    def _open(self, number: int, ruleset: Ruleset, step: _Pass) -> None:
        """Give a ruleset its case facts and its token."""
        facts = self._opening(ruleset, step)
        if facts:  # assert_facts([]) segfaults (trap 3)
            step.in_engine[number] = facts
            self._assert(ruleset, "[" + ",".join(facts) + "]", True, step)

    def run(self, case: Case) -> CaseRun:
        with self._lock:
            run = CaseRun(case, self.kb)
            step = _Pass(run)
            clean, fault = False, None
            try:
                step.case_facts = self._case_facts(run)
                ranked, pending = self._ranked, step.pending
                for number, ruleset in enumerate(self.rulesets):
                    if not ruleset.lazy:
                        self._open(number, ruleset, step)
                for stratum in self.program.strata:
                    if step.later:
                        self._release(stratum, step)
                    while pending and ranked[pending[0]].stratum <= stratum:
                        item = ranked[heapq.heappop(pending)]
                        step.queued.discard(item.index)
                        try:
                            new = self._fire(run, item.rule)
                        except Exception as error:
                            raise EngineFault(f"a rule action failed: {type(error).__name__}: {error}") from error
                        if new:
                            self._spread(new, step, stratum)
                clean = self._empty_state(step)
            except EngineFault as error:
                fault = error
            except Exception as error:  # the C core reports its errors as plain Exceptions
                fault = EngineFault(f"durable-rules failed: {error}")
            finally:
                if not clean:
                    # A state may hold pending activations or be corrupt (deleting such a state aborts
                    # the process): leave these rulesets behind and create fresh ones.
                    self._new_host()
            if fault is not None:
                raise fault
            return run

    def _fire(self, run: CaseRun, rule: Rule) -> list[Conclusion]:
        """A rule's action, as our loop dispatches it: fire it if its whole condition holds."""
        return self._firing(run, rule) or []

    def _spread(self, new: list[Conclusion], step: _Pass, stratum: int) -> None:
        """Open the lazy rulesets whose rules' needs the case now meets, then assert what a rule newly
        derived into each ruleset that tests it: now, in one batch per ruleset, where a rule of this stratum
        tests it; else once its first testing rule's stratum opens (it cannot wake a rule of a lower stratum,
        and a pending rule of a higher one waits for its stratum anyway)."""
        now: dict[int, list] = {}
        present, arrived = step.present, []
        for conclusion in new:
            ref = conclusion.asserts
            if ref is None:
                continue
            for thing in (ref, ANY_FLAG) if ref[0] == "red_flag" else (ref,):
                if thing not in present:
                    present.add(thing)
                    arrived.append(thing)
            made = self._derived.get(id(conclusion))
            wanting = self._wanting.get(ref) if made is not None else None
            if not wanting:
                continue  # no pattern tests it (a settled thing, say): durable-rules is not given it
            fact = f'{{"sid":"{SID}","id":"d{next(step.serial)}",{made[1]}}}'
            for number, due in wanting:
                if due <= stratum:
                    now.setdefault(number, []).append(fact)
                else:
                    step.later.append((due, number, fact))
        for thing in arrived:
            for number, needs in self._opens.get(thing, ()):
                if number not in step.opened and any(need <= present for need in needs):
                    self._open_lazy(number, step)
        for number, facts in now.items():
            self._assert_derived(number, facts, step)

    def _release(self, stratum: int, step: _Pass) -> None:
        """Assert the derived facts held back for this stratum, in one batch per ruleset."""
        now: dict[int, list] = {}
        later = []
        for held in step.later:
            if held[0] <= stratum:
                now.setdefault(held[1], []).append(held[2])
            else:
                later.append(held)
        step.later = later
        for number, made in now.items():
            self._assert_derived(number, made, step)

    def _open_lazy(self, number: int, step: _Pass) -> None:
        """Open a lazy ruleset: its case facts first (a negated pattern on a case field is decided when the
        field's facts are inserted), then the derived facts held for it."""
        step.opened.add(number)
        facts = self._opening(self.rulesets[number], step) + step.waiting.pop(number, [])
        if facts:  # assert_facts([]) segfaults (trap 3)
            step.in_engine[number] = facts
            self._assert(self.rulesets[number], "[" + ",".join(facts) + "]", True, step)

    def _assert_derived(self, number: int, facts: list[str], step: _Pass) -> None:
        """Assert derived facts (JSON) into a ruleset; a lazy one not yet opened in this case holds them."""
        ruleset = self.rulesets[number]
        if ruleset.lazy and number not in step.opened:
            step.waiting.setdefault(number, []).extend(facts)
            return
        step.in_engine.setdefault(number, []).extend(facts)
        if len(facts) == 1:
            self._assert(ruleset, facts[0], False, step)
        else:
            self._assert(ruleset, "[" + ",".join(facts) + "]", True, step)

    def _retract(self, ruleset: Ruleset, facts: list[str]) -> None:
        self._check(CORE.retract_facts(ruleset.handle, "[" + ",".join(facts) + "]"), "the case's facts")

    def _empty_state(self, step: _Pass) -> bool:
        """Retract what the case asserted and check that nothing is left: the next case starts clean."""
        for number, facts in step.in_engine.items():
            ruleset = self.rulesets[number]
            self._retract(ruleset, facts)
            left = CORE.get_facts(ruleset.handle, SID)
            if left != "[]" and json.loads(left):
                raise EngineFault(f"{len(json.loads(left))} facts were left in durable-rules after the case")
        return True

    def evaluate(self, case: Case) -> Result:
        run = self.run(case)
        return policies.build_result(run, self.kb, self.stratum_of, engine=NAME)


def _first_tested(partition: Partition, ref: tuple[str, str]) -> int | None:
    """The lowest stratum of a partition's rules that test a derived thing (a red flag is also met by
    `red_flag: any`), or None when none does."""
    found = [partition.first_tested[r] for r in (ref, ANY_FLAG if ref[0] == "red_flag" else None)
             if r in partition.first_tested]
    return min(found) if found else None


def _build_error(partition: Partition, error: Exception) -> RuleFileError:
    """durable-rules refused a ruleset: name the rule whose addition first makes it fail (a few builds
    of growing prefixes of the partition, bisected) and the partition's usage of each limit."""
    def builds(count: int) -> bool:
        try:
            create_ruleset("probe", _prefix_definition(partition, count))
            return True
        except Exception:
            return False

    low, high = 0, len(partition.rules)  # the first `low` rules build; all `high` do not
    while high - low > 1:
        middle = (low + high) // 2
        if builds(middle):
            low = middle
        else:
            high = middle
    rule = partition.rules[high - 1].rule
    closest = max(partition.usage.rows(), key=lambda row: row[2])
    return RuleFileError(rule.file, f"durable-rules could not build ruleset {partition.name} once this rule was "
                         f"added ({error}); its largest count is {closest[1]} of {closest[0].limit} "
                         f"({closest[0].key})", rule_id=rule.id, line=rule.line)


def _prefix_definition(partition: Partition, count: int) -> dict:
    from cdss.engine.compiler import _definition
    return _definition(partition.rules[:count])
