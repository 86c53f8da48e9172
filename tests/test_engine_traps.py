"""Each durable-rules 2.0.28 trap (shared/notes/durable-rules.md) has a guard, and each guard a test.

A segfault here kills the test process, which fails the run loudly; that is intended.
"""

from __future__ import annotations

import json

import pytest

from cdss.io import cases, render
from cdss import load_knowledge
from cdss.engine import capacity, compiler
from cdss.engine.compiler import MAX_DISTINCT_TESTS_PER_FIELD, compile_knowledge
from cdss.engine.direct import DirectEvaluator
from cdss.engine.durable import CORE, Evaluator, create_ruleset
from cdss.errors import EngineFault, RuleFileError
from tests.helpers.rulekit import folder, rule


def make_case(**data):
    body = {"id": "t1", "patient": {"age_years": 50}}
    body.update(data)
    return cases.case_from_dict(body, "test")


def fired(result):
    return [entry.rule for entry in result.trace]


def warn(code):
    return {"warn": {"code": code, "en": code, "nl": code}}


@pytest.fixture
def chain_kb(tmp_path):
    return load_knowledge(folder(tmp_path, [
        rule("t.hip", {"field": "pain.hip", "eq": "left"}, [{"assert": "t.hip_left"}]),
        rule("t.no-hip", {"all": [{"field": "patient.age_years", "gte": 16}, {"not": {"fact": "t.hip_left"}}]},
             [warn("no_left_hip")]),
        rule("t.chain", {"fact": "t.hip_left"}, [{"assert": "t.second"}]),
        rule("t.chain2", {"fact": "t.second"}, [warn("chained")]),
    ]))


def test_one_state_serves_every_case_and_is_empty_after_each(chain_kb):
    """Trap 1: the 1,025th live sid crashes. One state is reused; after every case its facts are retracted
    and the state is checked empty, so 1,100 cases in a row never exhaust the engine."""
    evaluator = Evaluator(chain_kb)
    for number in range(1100):
        result = evaluator.evaluate(make_case(id=f"c{number}", pain={"hip": "left" if number % 2 else "right"}))
        assert ("t.chain2" in fired(result)) == bool(number % 2)
        for ruleset in evaluator.rulesets:
            assert facts_left(ruleset) == []
    assert evaluator.abandoned_hosts == 0


def facts_left(ruleset) -> list:
    """The facts a ruleset holds for the engine's sid; a ruleset never given a fact has no state (error 309)."""
    try:
        return json.loads(CORE.get_facts(ruleset.handle, Evaluator.SID))
    except Exception as error:
        assert "309" in str(error)
        return []


def test_cases_never_see_each_others_facts(chain_kb):
    """Isolation: a fact derived for one case is gone before the next, so its absence-test holds again."""
    evaluator = Evaluator(chain_kb)
    assert "t.no-hip" not in fired(evaluator.evaluate(make_case(pain={"hip": "left"})))
    assert "t.no-hip" in fired(evaluator.evaluate(make_case(pain={"hip": "right"})))
    assert "t.chain" not in fired(evaluator.evaluate(make_case(pain={"hip": "right"})))


def test_a_case_that_fires_no_rule_is_safe(tmp_path):
    """Deleting a state in which no action ever ran frees uninitialised buffers and aborts the process
    (durable-rules 2.0.28). States are never deleted per case; a case that fires nothing runs normally."""
    kb = load_knowledge(folder(tmp_path, [rule("t.hip", {"field": "pain.hip", "eq": "left"}, [warn("x")])]))
    evaluator = Evaluator(kb)
    for _ in range(3):
        assert fired(evaluator.evaluate(make_case(pain={"hip": "right"}))) == []
        assert fired(evaluator.evaluate(make_case())) == []
    assert fired(evaluator.evaluate(make_case(pain={"hip": "left"}))) == ["t.hip"]


def test_a_fact_left_behind_is_a_fault_and_a_fresh_host_takes_over(chain_kb, monkeypatch):
    evaluator = Evaluator(chain_kb)
    monkeypatch.setattr(evaluator, "_retract", lambda ruleset, facts: None)
    with pytest.raises(EngineFault, match="facts were left in durable-rules"):
        evaluator.evaluate(make_case(pain={"hip": "left"}))
    assert evaluator.abandoned_hosts == 1
    monkeypatch.undo()
    assert "t.chain2" in fired(evaluator.evaluate(make_case(pain={"hip": "left"})))


def test_a_failing_action_is_a_fault_not_silence_and_the_next_case_runs(chain_kb, monkeypatch):
    """Traps 2 and 4: an exception inside an action is kept (durable-rules' wrapper would swallow it: our
    own loop dispatches actions); the ruleset with its pending activations is abandoned, never deleted, so
    the next case runs normally."""
    evaluator = Evaluator(chain_kb)
    original = evaluator._fire

    def broken(run, rule_, *rest):
        if rule_.id == "t.chain":
            raise ZeroDivisionError("boom")
        return original(run, rule_, *rest)

    monkeypatch.setattr(evaluator, "_fire", broken)
    with pytest.raises(EngineFault, match="ZeroDivisionError: boom"):
        evaluator.evaluate(make_case(pain={"hip": "left"}))
    assert evaluator.abandoned_hosts == 1
    monkeypatch.setattr(evaluator, "_fire", original)
    assert "t.chain2" in fired(evaluator.evaluate(make_case(pain={"hip": "left"})))


def test_a_repeated_fact_is_a_fault_and_the_engine_survives(chain_kb, monkeypatch):
    """Traps 2 and 9: MessageObserved (a repeated fact, or a 32-bit hash collision) becomes an EngineFault."""
    evaluator = Evaluator(chain_kb)
    original = evaluator._case_facts
    monkeypatch.setattr(evaluator, "_case_facts", lambda run: {k: v * 2 for k, v in original(run).items()})
    with pytest.raises(EngineFault, match="MessageObserved"):
        evaluator.evaluate(make_case(pain={"hip": "left"}))
    # Deleting a state after a refused assert aborts the process: the Host is abandoned and rebuilt.
    assert evaluator.abandoned_hosts == 1
    monkeypatch.setattr(evaluator, "_case_facts", original)
    assert "t.chain2" in fired(evaluator.evaluate(make_case(pain={"hip": "left"})))


def test_a_case_with_no_pushed_fields_never_asserts_an_empty_batch(tmp_path, monkeypatch):
    """Trap 3: assert_facts([]) segfaults; a ruleset with nothing to assert skips the call and the case
    still runs (here the absence rule is woken by its partition's token alone)."""
    kb = load_knowledge(folder(tmp_path, [rule("t.none", {"field": "imaging.xray_hip", "absent": True}, [warn("x")]),
                                          rule("t.some", {"field": "imaging.xray_knee", "present": True}, [warn("y")])]))
    evaluator = Evaluator(kb)
    batches = []
    real = evaluator._assert
    monkeypatch.setattr(evaluator, "_assert", lambda ruleset, facts, batch, step:
                        (batch and batches.append(facts)) or real(ruleset, facts, batch, step))
    result = evaluator.evaluate(make_case())
    assert batches == ['[{"sid":"case","id":"p","t":"phase","k":0}]']
    assert fired(result) == ["t.none"]
    (tmp_path / "present").mkdir()
    kb = load_knowledge(folder(tmp_path / "present", [rule("t.some", {"field": "pain.hip", "eq": "left"},
                                                           [warn("y")])]))
    evaluator = Evaluator(kb)
    second = evaluator._assert
    monkeypatch.setattr(evaluator, "_assert", lambda ruleset, facts, batch, step:
                        (batch and batches.append(facts)) or second(ruleset, facts, batch, step))
    batches.clear()
    assert fired(evaluator.evaluate(make_case())) == []
    assert batches == []


def test_durable_rules_never_runs_an_action_itself(chain_kb):
    """Trap 5 (a two-parameter action is treated as asynchronous and stops the chain) and trap 4 (the
    wrapper swallows exceptions) cannot arise: our loop takes each activation from the C core and runs
    the rule; the rulesets given to durable-rules hold no action it could run, and its Python wrapper,
    which would run them, is not even imported."""
    import subprocess
    import sys
    evaluator = Evaluator(chain_kb)
    for partition in evaluator.program.partitions:
        definition = partition.definition()
        assert definition and all(set(rule) == {"all"} for rule in definition.values())
    assert "t.chain2" in fired(evaluator.evaluate(make_case(pain={"hip": "left"})))
    probe = ("import sys; from cdss.engine.durable import Evaluator; from cdss.kb.loader import load\n"
             "from cdss.io.cases import case_from_dict\n"
             "Evaluator(load()).evaluate(case_from_dict({'id': 'x', 'patient': {'age_years': 60}, "
             "'pain': {'knee': 'left', 'hip': 'none'}}, 'probe'))\n"
             "print(sorted(m for m in sys.modules if m == 'durable' or m.startswith('durable.')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_absence_is_decided_after_every_rule_that_could_assert_it(chain_kb):
    """Trap 6: durable-rules decides $not at insertion. The negated rule runs in a later stratum, so a
    fact asserted by chaining still counts."""
    program = compile_knowledge(chain_kb)
    stratum = {item.rule.id: item.stratum for item in program.compiled}
    assert stratum["t.no-hip"] > stratum["t.hip"]
    evaluator = Evaluator(chain_kb)
    assert "t.no-hip" not in fired(evaluator.evaluate(make_case(pain={"hip": "left"})))
    assert "t.no-hip" in fired(evaluator.evaluate(make_case(pain={"hip": "right"})))


def test_a_cycle_through_negation_is_refused(tmp_path):
    with pytest.raises(RuleFileError, match="cycle"):
        load_knowledge(folder(tmp_path, [
            rule("t.a", {"not": {"fact": "t.b"}}, [{"assert": "t.a"}]),
            rule("t.b", {"not": {"fact": "t.a"}}, [{"assert": "t.b"}]),
        ])).rules and compile_knowledge(load_knowledge(tmp_path / "rules"))


def test_loosely_typed_values_never_reach_the_engine(tmp_path):
    """Trap 7: "7" compares as a string and 1 == true; the loader and the case schema refuse both."""
    with pytest.raises(RuleFileError, match="needs a number"):
        load_knowledge(folder(tmp_path, [rule("t.s", {"field": "pain.severity_0_10", "gte": "7"}, [warn("x")])]))
    with pytest.raises(RuleFileError, match="true or false"):
        load_knowledge(folder(tmp_path, [rule("t.b", {"field": "pain.night_pain", "eq": 1}, [warn("x")])]))
    with pytest.raises(Exception, match="expected number"):
        make_case(pain={"severity_0_10": "7"})


def test_many_thresholds_on_one_field_stay_below_the_alpha_limit(tmp_path):
    """Trap 8: more than 64 distinct tests matched by one fact raise error 303; the compiler pushes at
    most MAX_DISTINCT_TESTS_PER_FIELD and leaves the rest to the action's check, which stays exact."""
    rules = [rule(f"t.age{n}", {"field": "patient.age_years", "gte": n}, [warn(f"age_{n}")]) for n in range(100)]
    kb = load_knowledge(folder(tmp_path, rules))
    result = Evaluator(kb).evaluate(make_case(patient={"age_years": 70}))
    assert sorted(w.code for w in result.warnings) == sorted(f"age_{n}" for n in range(71))
    assert MAX_DISTINCT_TESTS_PER_FIELD < 64


def test_a_rule_of_only_absences_fires_once(tmp_path):
    """Trap 10: a pattern made only of $nex matches the state fact and fires forever; every compiled rule
    starts with a positive pattern, here its partition's token (the only rule that needs one), so it fires once."""
    kb = load_knowledge(folder(tmp_path, [rule("t.none", {"field": "imaging.xray_hip", "absent": True}, [warn("x")])]))
    result = Evaluator(kb).evaluate(make_case())
    assert fired(result) == ["t.none"]


def test_cross_field_comparisons_stay_out_of_patterns(tmp_path):
    """Trap 11: $gt/$lt on the same cross-fact property showed invalid reads; such comparisons are
    decided in the action, never pushed."""
    kb = load_knowledge(folder(tmp_path, [
        rule("t.crp", {"field": "labs.crp_mg_l", "gt": {"field": "labs.crp_uln_mg_l"}}, [warn("high")]),
        rule("t.crp-low", {"field": "labs.crp_mg_l", "lt": {"field": "labs.crp_uln_mg_l"}}, [warn("low")]),
    ]))
    program = compile_knowledge(kb)
    for item in program.compiled:
        # only that the compared field is present: no value comparison in a pattern
        group = program.groups["o:labs.crp_mg_l"]
        assert [pattern for _, pattern in item.variants[0]] == [{"$and": [{"$ex": {group: 1}},
                                                                          {"$ex": {"o:labs.crp_mg_l": 1}}]}]
    result = Evaluator(kb).evaluate(make_case(labs={"crp_mg_l": 12, "crp_uln_mg_l": 10}))
    assert [w.code for w in result.warnings] == ["high"]


def test_two_evaluators_in_one_process_each_get_fresh_definitions(chain_kb):
    """Trap 12: register_rulesets consumes `run` from the dicts; each Host gets its own definition."""
    first, second = Evaluator(chain_kb), Evaluator(chain_kb)
    assert {r.name for r in first.rulesets}.isdisjoint(r.name for r in second.rulesets)
    for evaluator in (first, second):
        assert "t.chain2" in fired(evaluator.evaluate(make_case(pain={"hip": "left"})))


def test_two_tests_on_one_field_share_one_pattern(tmp_path):
    """durable-rules never lets one fact fill two patterns of one rule: age >= 8 and age <= 15 must be
    merged into one pattern, or the rule would silently never fire (found by the red-flag author)."""
    kb = load_knowledge(folder(tmp_path, [
        rule("t.child", {"all": [{"field": "patient.age_years", "gte": 8}, {"field": "patient.age_years", "lte": 15},
                                 {"field": "pain.hip_sites", "contains": "groin"},
                                 {"field": "pain.hip_sites", "contains": "thigh"}]}, [warn("child")]),
    ]))
    evaluator = Evaluator(kb)
    both = {"hip_sites": ["groin", "thigh"]}
    assert fired(evaluator.evaluate(make_case(patient={"age_years": 12}, pain=both))) == ["t.child"]
    assert fired(evaluator.evaluate(make_case(patient={"age_years": 16}, pain=both))) == []
    assert fired(evaluator.evaluate(make_case(patient={"age_years": 7}, pain=both))) == []
    assert fired(evaluator.evaluate(make_case(patient={"age_years": 12}, pain={"hip_sites": ["groin"]}))) == []


def test_a_threshold_python_writes_with_a_bare_exponent(tmp_path):
    """durable-rules reads 1e-05 (Python's repr of 0.00001) as 1 plus garbage: the ruleset would not
    build. Such a threshold stays out of the pattern and is decided, exactly, in the action."""
    kb = load_knowledge(folder(tmp_path, [rule("t.tiny", {"field": "labs.crp_mg_l", "gt": 0.00001}, [warn("x")])]))
    evaluator = Evaluator(kb)
    assert fired(evaluator.evaluate(make_case(labs={"crp_mg_l": 0.00002}))) == ["t.tiny"]
    assert fired(evaluator.evaluate(make_case(labs={"crp_mg_l": 0.000001}))) == []
    assert fired(evaluator.evaluate(make_case(labs={"crp_mg_l": 1e-05}))) == []


def test_a_score_domain_takes_its_highest_option_that_holds_even_if_negative(tmp_path):
    score = {"score": {"at_least": -1, "at_most": -1, "domains": [{"name": "d", "options": [
        {"points": -1, "when": {"field": "pain.hip", "eq": "left"}},
        {"points": -3, "when": {"field": "pain.knee", "eq": "left"}}]}]}}
    kb = load_knowledge(folder(tmp_path, [rule("t.score", score, [warn("x")])]))
    evaluator = Evaluator(kb)
    assert fired(evaluator.evaluate(make_case(pain={"hip": "left", "knee": "left"}))) == ["t.score"]
    assert fired(evaluator.evaluate(make_case(pain={"knee": "left"}))) == []


def test_durable_rules_tells_properties_apart_by_hash_alone_so_the_compiler_keeps_hashes_apart():
    """durable-rules finds a fact's alpha tests by the FNV-1a hash of each property name and never compares
    the names: a fact on `f:t.fact2022789` meets a test on `f:t.fact2239192` (their hashes are equal). The
    compiler computes the same hash and gives the second thing another property, so that a rule on one
    thing never wakes on the other, a field tested as absent is never taken for present, and the count of
    alpha tests a fact may meet (capacity.py) stays true."""
    first, second = "f:t.fact2022789", "f:t.fact2239192"
    assert compiler.fnv1a_32(first) == compiler.fnv1a_32(second)
    handle = create_ruleset("probe.hash", {"r": {"all": [{"a": {"$and": [{"$ex": {"g0": 1}}, {second: True}]}}]},
                                           "sink": {"all": [{"x": {"$ex": {"g0": 1}}}, {"n": {"$ex": {"never": 1}}}]}})
    state = CORE.assert_fact(handle, '{"sid":"s","id":"1","g0":1,"%s":true}' % first)[1]
    assert CORE.start_action_for_state(handle, state)  # the rule on `second` woke on a fact of `first`
    CORE.complete_and_start_action(handle, state)
    properties = compiler.Properties()
    kept, renamed = properties.of(("fact", "t.fact2022789")), properties.of(("fact", "t.fact2239192"))
    assert kept == first and renamed.startswith(second) and renamed != second
    assert compiler.fnv1a_32(kept) != compiler.fnv1a_32(renamed)
    # the same for every property a rule base names, the fixed ones of every fact included
    for profile in ("nice", "nhg"):
        names = list(compile_knowledge(load_knowledge(profile=profile)).properties.values())
        hashes = {compiler.fnv1a_32(name) for name in names + list(compiler.FIXED_PROPERTIES + compiler.GROUP_PROPERTIES)}
        assert len(hashes) == len(names) + len(compiler.FIXED_PROPERTIES) + compiler.GROUPS


def test_a_treatment_reaches_only_the_rulesets_that_test_its_code(tmp_path):
    """Trap 2 once more: each fact must meet some pattern of the ruleset it is asserted into (a sink of its
    group), else durable-rules refuses the batch (MessageNotHandled). The treatments of a code are asserted
    only where a pattern tests that code: here paracetamol is tested in the ruleset of the rules that case
    facts alone wake, and exercise therapy in a lazy one (its rule needs a derived fact), and a case with
    both runs."""
    kb = load_knowledge(folder(tmp_path, [
        rule("t.adult", {"field": "patient.age_years", "gte": 18}, [{"assert": "t.adult"}]),
        rule("t.para", {"trial": "paracetamol", "outcome": "failed"}, [{"assert": "t.para_failed"}]),
        rule("t.exercise", {"all": [{"fact": "t.adult"}, {"trial": "exercise_therapy", "outcome": "failed"},
                                    {"not": {"fact": "t.para_failed"}}]}, [warn("exercise_alone")]),
    ]))
    evaluator = Evaluator(kb)
    assert [(rs.lazy, sorted(rs.partition.trials)) for rs in evaluator.rulesets] == [
        (False, ["paracetamol"]), (True, ["exercise_therapy"])]
    failed = {"weeks": 12, "response": "none", "joint": "knee"}
    both = make_case(treatments=[{"code": "paracetamol", **failed}, {"code": "exercise_therapy", **failed}])
    assert fired(evaluator.evaluate(both)) == ["t.adult", "t.para"]
    alone = make_case(treatments=[{"code": "exercise_therapy", **failed}])
    assert fired(evaluator.evaluate(alone)) == ["t.adult", "t.exercise"]


def test_a_fact_settled_by_case_field_rules_is_not_given_to_durable_rules_yet_still_gates_its_rules(tmp_path):
    """A derived thing that only rules on case fields assert is settled once the last of them has been taken
    (compiler._settled): a rule ranked after them needs no pattern on it to be woken by (the fact of
    `derived.adult` had been linked to ~300 patterns in every case), yet its lazy ruleset still waits for it.
    A rule ranked before them keeps its pattern, so that the fact wakes it when it comes."""
    kb = load_knowledge(folder(tmp_path, [
        rule("t.early", {"all": [{"fact": "t.adult"}, {"field": "pain.hip", "eq": "left"}]}, [warn("early")]),
        rule("t.adult", {"field": "patient.age_years", "gte": 18}, [{"assert": "t.adult"}]),
        rule("t.late", {"all": [{"fact": "t.adult"}, {"field": "pain.hip", "eq": "left"}]}, [warn("late")]),
    ]))
    program = compile_knowledge(kb)
    tested = {item.rule.id: {capacity.thing_property(pattern["$and"]) for _, pattern in item.variants[0]}
              for item in program.compiled}
    assert "f:t.adult" in tested["t.early"] and "f:t.adult" not in tested["t.late"]
    lazy = [partition for partition in program.partitions if partition.lazy]
    assert [sorted(item.rule.id for item in partition.rules) for partition in lazy] == [["t.early", "t.late"]]
    assert lazy[0].requires == (frozenset({("fact", "t.adult")}),)
    durable, direct = Evaluator(kb), DirectEvaluator(kb)
    for age, expected in ((50, ["t.adult", "t.early", "t.late"]), (10, [])):
        case = make_case(patient={"age_years": age}, pain={"hip": "left"})
        result = durable.evaluate(case)
        assert sorted(fired(result)) == expected
        assert render.to_json(result, indent=None) == render.to_json(direct.evaluate(case), indent=None)
    assert durable.abandoned_hosts == 0
