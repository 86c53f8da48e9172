"""The process's evaluators (cdss/engine/registry.py): a forked worker takes over its parent's compiled
evaluator when that one can serve after a fork, and makes its own when it cannot."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from cdss import load_knowledge
from cdss.engine import EVALUATORS, evaluator_for
from cdss.io import cases, render

CASE = {"id": "fork-1", "patient": {"age_years": 70, "sex": "female"},
        "pain": {"hip": "left", "knee": "left", "duration_weeks": 30}}


def _in_child(kb, engine, parent_id, answers):
    """Runs in a forked child: whether it got the parent's evaluator (the same object: the fork copied
    the parent's memory, so its id is the same), and the result's bytes."""
    evaluator = evaluator_for(kb, engine)
    result = evaluator.evaluate(cases.case_from_dict(dict(CASE), "test"))
    answers.send((id(evaluator) == parent_id, render.to_json(result, indent=None)))


def _fork(kb, engine, parent_id):
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=_in_child, args=(kb, engine, parent_id, theirs))
    child.start()
    try:
        assert ours.poll(60), "the child did not answer"
        return ours.recv()
    finally:
        child.join(30)
        assert child.exitcode == 0


@pytest.mark.parametrize("engine", ["durable", "direct"])
def test_a_forked_child_takes_over_its_parents_evaluator(engine):
    kb = load_knowledge()
    parent = evaluator_for(kb, engine)
    expected = render.to_json(parent.evaluate(cases.case_from_dict(dict(CASE), "test")), indent=None)
    same, got = _fork(kb, engine, id(parent))
    assert same, "the child compiled the rules again"
    assert got == expected


def test_a_child_forked_while_a_case_runs_makes_its_own_durable_rules_evaluator():
    """A case half-run in another thread when the process forks leaves the durable-rules evaluator's lock
    held in the child for ever, and its rulesets holding that case's facts: the child must not use it."""
    kb = load_knowledge()
    parent = EVALUATORS.get(kb, "durable")
    expected = render.to_json(parent.evaluate(cases.case_from_dict(dict(CASE), "test")), indent=None)
    held, release = threading.Event(), threading.Event()

    def hold():
        with parent._lock:  # as `run` holds it for the whole of a case
            held.set()
            release.wait(60)
    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(30)
        same, got = _fork(kb, "durable", id(parent))
    finally:
        release.set()
        thread.join(30)
    assert not same
    assert got == expected
