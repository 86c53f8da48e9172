"""durable-rules' capacity limits: the model in cdss/engine/capacity.py matches what durable-rules really
refuses, the compiler's partitions keep every ruleset under budget, and a rule base that would not build
is reported with the rule that broke it, never as a bare error code."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from durable import engine as durable_engine

from cdss import load_knowledge
from cdss.engine import capacity
from cdss.engine.compiler import compile_knowledge
from cdss.engine.direct import DirectEvaluator
from cdss.engine.durable import Evaluator
from cdss.errors import RuleFileError
from cdss.io import cases
from cdss.cli import main
from tests.helpers.rulekit import folder, rule


class _QuietHost(durable_engine.Host):
    def _run(self) -> None:
        pass


def _action(c) -> None:  # pragma: no cover - never runs: nothing is asserted
    pass


def _builds(rules: dict) -> str:
    try:
        _QuietHost().register_rulesets({"probe": rules})
        return "ok"
    except Exception as error:
        return str(error)


def _tally(rules: dict) -> capacity.Tally:
    tally = capacity.Tally()
    for body in rules.values():
        for pattern in body["all"]:
            tally.add_pattern(next(iter(pattern.values())))
    return tally


# Patterns laid out as the compiler lays them out: the thing's group, then the tests on its property.
def _fact(i: int) -> dict:
    return {"$and": [{"$ex": {"g1": 1}}, {f"f:f{i}": True}]}


def _second_on_shared(n: int) -> dict:
    shared = {"$and": [{"$ex": {"g0": 1}}, {"o:x": 1}]}
    return {f"r{i}": {"all": [{"a": _fact(i)}, {"b": shared}], "run": _action} for i in range(n)}


def _same_or(n: int) -> dict:
    pattern = {"$and": [{"$ex": {"g0": 1}}, {"$or": [{"o:x": 1}, {"o:x": 2}]}]}
    return {f"r{i}": {"all": [{"a": _fact(i)}, {"b": pattern}], "run": _action} for i in range(n)}


@pytest.mark.parametrize("make, key, error", [(_second_on_shared, "beta_per_alpha", "108"), (_same_or, "or_per_alpha", "107")])
def test_the_model_counts_what_durable_rules_refuses(make, key, error):
    limit = capacity.BY_KEY[key].limit
    at_limit, past_limit = make(limit), make(limit + 1)
    assert _tally(at_limit).peak[key][0] == limit
    assert _tally(past_limit).peak[key][0] == limit + 1
    assert _builds(at_limit) == "ok"
    assert error in _builds(past_limit)


def test_each_or_pattern_counts_as_its_own_alpha_test_for_one_fact():
    """Found on a 10x rule base: 102 patterns with one `$or` of statuses on one condition code made the
    condition's fact meet more than 64 alpha tests (error 303 at run time), although the tests are equal."""
    def rules(n: int) -> dict:
        pattern = {"$and": [{"$ex": {"g0": 1}}, {"$or": [{"c:x": "suspected"}, {"c:x": "probable"}]}]}
        return {f"r{i}": {"all": [{"a": _fact(i)}, {"b": pattern}], "run": _action} for i in range(n)}

    assert _tally(rules(63)).peak["tests_per_fact"][0] == 64  # the group's test and 63 `$or` tests
    assert _tally(rules(70)).peak["tests_per_fact"][0] == 71
    for n, fails in ((63, False), (70, True)):
        host = _QuietHost()
        host.register_rulesets({"probe": rules(n)})
        handle = host.get_ruleset("probe")._handle
        fact = '{"sid":"s","id":"1","g0":1,"c:x":"probable"}'
        if fails:
            with pytest.raises(Exception, match="303"):
                durable_engine.durable_rules_engine.assert_fact(handle, fact)
        else:
            durable_engine.durable_rules_engine.assert_fact(handle, fact)


def test_the_shipped_rule_base_fits_every_budget_without_phase_tokens():
    program = compile_knowledge(load_knowledge())
    assert program.partitions
    for partition in program.partitions:
        for limit, count, share, _ in partition.usage.rows():
            assert share <= capacity.BUDGET, f"{partition.name}: {count} of {limit.limit} ({limit.key})"
    # Only rules with no positive pattern are woken by a token; the others wait for their own facts.
    tokened = [item.rule.id for item in program.compiled if item.tokened]
    assert len(tokened) < len(program.compiled) // 10


def _many_adult_rules(tmp_path, n: int):
    # t.adult comes from a rule that tests a derived fact: not settled early (compiler._settled), so every
    # rule that tests it keeps its pattern on it
    rules = [rule("t.person", {"field": "patient.age_years", "gte": 0}, [{"assert": "t.person"}]),
             rule("t.adult", {"all": [{"fact": "t.person"}, {"field": "patient.age_years", "gte": 16}]},
                  [{"assert": "t.adult"}])]
    rules += [rule(f"t.r{i}", {"all": [{"fact": "t.adult"}, {"field": "pain.severity_0_10", "gte": i % 11}]},
                   [{"warn": {"code": f"w_{i}", "en": "x", "nl": "x"}}]) for i in range(n)]
    return folder(tmp_path, rules)


def test_rules_past_one_rulesets_limit_are_partitioned_and_evaluate(tmp_path):
    """300 rules on one fact: one ruleset would link 300 beta nodes to it (durable-rules refuses 257)."""
    kb = load_knowledge(_many_adult_rules(tmp_path, 300))
    program = compile_knowledge(kb)
    assert len(program.partitions) >= 2
    case = cases.case_from_dict({"id": "c1", "patient": {"age_years": 40}, "pain": {"severity_0_10": 5}}, "test")
    durable, direct = Evaluator(kb).evaluate(case), DirectEvaluator(kb).evaluate(case)
    fired = {entry.rule for entry in durable.trace}
    assert fired == {"t.person", "t.adult"} | {f"t.r{i}" for i in range(300) if i % 11 <= 5}
    assert durable.to_dict() == direct.to_dict()


def test_a_ruleset_durable_rules_refuses_names_the_rule_that_broke_it(tmp_path, monkeypatch):
    """With the compiler's budget lifted past the limit, durable-rules itself refuses the ruleset: the
    error names the rule whose addition first breaks the build, never a bare 'error code: 108'."""
    monkeypatch.setattr(capacity, "BUDGET", 4.0)
    kb = load_knowledge(_many_adult_rules(tmp_path, 300))
    with pytest.raises(RuleFileError) as raised:
        Evaluator(kb)
    message = str(raised.value)
    assert "could not build ruleset" in message and "108" in message
    # t.r0, t.r1, ... each hang a beta node on the fact's alpha node: the build fails once about 257 do
    assert raised.value.rule_id in ("t.r256", "t.r257")


@pytest.mark.parametrize("command", [["validate", "-"], ["rules", "list"]])
def test_validate_and_rules_list_refuse_a_rule_base_that_cannot_build(tmp_path, monkeypatch, command):
    """The commands build what they load: a rule base durable-rules refuses is refused there, naming the rule."""
    monkeypatch.setattr(capacity, "BUDGET", 4.0)
    rules_dir = _many_adult_rules(tmp_path, 300)
    result = CliRunner().invoke(main, command + ["--rules", str(rules_dir)], input='{"id": "c"}\n')
    assert result.exit_code == 1
    assert "t.r25" in result.output and "could not build ruleset" in result.output
    assert "Traceback" not in result.output


def test_audit_rules_reports_each_rulesets_usage_and_fails_on_a_rule_base_that_cannot_build(
        tmp_path, monkeypatch, shipped_rules_audit):
    from cdss.audit.run import audit_rules
    shipped = shipped_rules_audit
    usage = [f for f in shipped.findings if f.check == "engine-capacity"]
    assert usage and all(f.severity == "info" for f in usage)
    assert any("beta_per_alpha" in f.message and "/256" in f.message for f in usage)
    monkeypatch.setattr(capacity, "BUDGET", 4.0)
    report = audit_rules(_many_adult_rules(tmp_path, 300), cases_dir=None)
    errors = [f for f in report.findings if f.severity == "error"]
    assert any(f.check == "engine-capacity" and "beta_per_alpha" in f.message for f in errors)
    assert any("could not build ruleset" in f.message and f.rule in ("t.r256", "t.r257") for f in errors)
    assert not report.ok


def test_every_mapping_in_a_compiled_pattern_has_one_key_so_its_repr_is_its_signature():
    """The compiler tells equal tests apart from unequal ones by their repr (and capacity.py counts alpha
    tests so): that is canonical only while no mapping in a pattern has two keys, whose order could differ."""
    checked = 0
    for profile in ("nice", "nhg"):
        program = compile_knowledge(load_knowledge(profile=profile))
        for partition in program.partitions:
            for body in partition.definition().values():
                stack = list(body["all"])
                while stack:
                    item = stack.pop()
                    if isinstance(item, dict):
                        assert len(item) == 1, item
                        stack.extend(item.values())
                        checked += 1
                    elif isinstance(item, (list, tuple)):
                        stack.extend(item)
    assert checked > 5000


def test_a_red_flag_facts_two_things_are_counted_apart_as_durable_rules_counts_them():
    """A red flag's fact carries its code's property and the one `red_flag: any` tests. durable-rules counts
    the alpha tests a fact meets per property (error 303 past 64 on one): 60 `$or` patterns on each of the
    two pass, 70 on one fail. The model counts them per thing the same way."""
    def rules(counts: dict) -> dict:
        made = {}
        for name, n in counts.items():
            for i in range(n):
                pattern = {"$and": [{"$ex": {"g0": 1}}, {"$or": [{name: "urgent"}, {name: "emergency"}]}]}
                made[f"{name}.{i}"] = {"all": [{"a": _fact(i)}, {"b": pattern}], "run": _action}
        return made

    fact = '{"sid":"s","id":"1","g0":1,"r:x":"urgent","r:any":"urgent"}'
    for counts, fails in (({"r:x": 60, "r:any": 60}, False), ({"r:x": 70, "r:any": 1}, True)):
        assert (_tally(rules(counts)).peak["tests_per_fact"][0] > 64) == fails
        host = _QuietHost()
        host.register_rulesets({"probe": rules(counts)})
        handle = host.get_ruleset("probe")._handle
        if fails:
            with pytest.raises(Exception, match="303"):
                durable_engine.durable_rules_engine.assert_fact(handle, fact)
        else:
            durable_engine.durable_rules_engine.assert_fact(handle, fact)
