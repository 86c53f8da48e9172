"""Result JSON made by orjson (cdss/io/jsonbytes.py) is byte for byte what the standard library makes:
on every shipped case's result and error record, on synthetic cases, and on the values where the two
libraries spell a number differently."""

from __future__ import annotations

import json
import random

import attrs
import orjson
import pytest

from cdss import load_knowledge
from cdss.engine import evaluate, policies
from cdss.io import cases, jsonbytes
from cdss.io.result_json import ResultLines
from cdss.model import ErrorResult, Matched, TraceEntry
from cdss.synth import generate as synth
from tests.helpers.paths import case_paths


def _standard(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.fixture(scope="module")
def kb():
    return load_knowledge()


def test_every_shipped_result_and_an_error_record_are_the_same_bytes(kb):
    bodies = [evaluate(cases.read_case(str(path)), kb).to_dict(lang)
              for path in case_paths() for lang in ("en", "nl")]
    bodies.append(ErrorResult("c-1", kb.identity, "x.jsonl", "/patient/age_years", "expected a number", 3).to_dict())
    assert len(bodies) > 300
    for body in bodies:
        assert jsonbytes.compact(body) == _standard(body)


def test_synthetic_results_are_the_same_bytes(kb):
    for data in synth.generate(300, seed=11):
        data.pop("expected", None)
        body = evaluate(cases.case_from_dict(data, "<synth>"), kb, engine="direct").to_dict()
        assert jsonbytes.line(body) == _standard(body) + b"\n"


AWKWARD = [1e-05, 7e-05, -9.392936288276344e-05, 0.0001, 1e16, 1e15, 1e22, 1.2345678901234568e17, 5e-324, -0.0,
           38.5, 2 ** 53, 2 ** 70, -(2 ** 63) - 1, "é ü \u2028 \x7f \x1f \" \\ \U0001f600", "1e-5 in a string",
           "0.00001", "", [], {}, None, True, False]


@pytest.mark.parametrize("value", AWKWARD, ids=repr)
def test_awkward_values_are_the_same_bytes(value):
    body = {"case_id": "x", "trace": [{"matched": [{"field": "/labs/crp", "value": value}]}]}
    assert jsonbytes.compact(body) == _standard(body)


def test_random_floats_are_the_same_bytes():
    draw = random.Random(12)
    values = [draw.uniform(-1, 1) * 10 ** draw.uniform(-30, 30) for _ in range(20000)]
    values += [round(v, draw.randint(0, 8)) for v in values[:5000]]
    for value in values:
        assert jsonbytes.compact([value]) == _standard([value]), value


def test_ordinary_results_are_made_by_orjson_not_the_fallback(kb):
    """The fallback is for number tokens only: a hash or an id whose characters happen to read `2e` or
    `0.0000` (every result names the knowledge base's sha256) must not send the result down the slow path."""
    bodies = [evaluate(cases.read_case(str(path)), kb).to_dict() for path in case_paths()]
    for check in (lambda out: jsonbytes._MAY_DIFFER.search(out) is not None, jsonbytes.may_differ):
        assert not any(check(orjson.dumps(body)) for body in bodies)
        assert not check(orjson.dumps({"id": "c2e5", "sha256": "0e0.00001", "v": 3}))
        for body in ({"v": 1e16}, {"v": [1, 7e-05]}, {"v": -0.00001}, [2.5e-300], 1e16):
            assert check(orjson.dumps(body))
        assert check(b'[3,"x",-1.5E+20]')


def test_the_fast_check_finds_everything_the_expression_finds():
    """`may_differ` stands in for `_MAY_DIFFER.search` (which defines the outputs made again): it may
    answer yes more often, never less. Random strings over the characters that matter, and real outputs."""
    draw = random.Random(5)
    alphabet = b'0123456789.-eE:,[]{}"a x'
    checked = found = 0
    for _ in range(200000):
        text = bytes(draw.choice(alphabet) for _ in range(draw.randint(1, 14)))
        if jsonbytes._MAY_DIFFER.search(text) is not None:
            found += 1
            assert jsonbytes.may_differ(text), text
        checked += 1
    assert found > 1000  # the strings did exercise the expression
    for value in AWKWARD:
        out = orjson.dumps({"v": [value]}) if not isinstance(value, int) or abs(value) < 2 ** 63 else b"[]"
        assert jsonbytes.may_differ(out) == (jsonbytes._MAY_DIFFER.search(out) is not None), value


def test_a_batch_writes_each_result_as_its_dict_would_be_written(kb):
    """`cdss batch` writes a result from the result itself, with the items many results share rendered
    once (cdss/io/result_json.py): the same bytes as encoding its dict, in both languages, for every
    shipped and synthetic case on both engines, for an item changed from a shared one, and for a trace
    holding the numbers the two libraries spell differently."""
    shared = policies.prepared(kb).shared
    writer = ResultLines(shared)
    results = [evaluate(cases.read_case(str(path)), kb, engine=engine) for path in case_paths()
               for engine in ("durable", "direct")]
    for data in synth.generate(300, seed=13):
        data.pop("expected", None)
        results.append(evaluate(cases.case_from_dict(data, "<synth>"), kb, engine="direct"))
    for _ in range(2):  # the second time from what the first rendered
        for result in results:
            for lang in ("en", "nl"):
                assert writer.line(result, lang) == jsonbytes.line(result.to_dict(lang))
    items = [item for result in results for item in result.recommendations + result.do_not + result.red_flags]
    assert sum(id(item) in shared for item in items) > len(items) // 2  # most items are shared ones

    result = next(r for r in results if r.recommendations and id(r.recommendations[0]) in shared)
    first = result.recommendations[0]
    changed = attrs.evolve(result, recommendations=(attrs.evolve(first, rules=first.rules + ("other.rule",)),)
                           + result.recommendations[1:])
    assert writer.line(changed, "en") == jsonbytes.line(changed.to_dict("en"))
    assert b'"other.rule"' in writer.line(changed, "en") and b'"other.rule"' not in writer.line(result, "en")

    for value in [v for v in AWKWARD if isinstance(v, (int, float, str))]:
        entry = TraceEntry("x.rule", (Matched("field", "/labs/crp_mg_l", value),), ("fact:x",))
        odd = attrs.evolve(result, trace=result.trace + (entry,))
        assert writer.line(odd, "en") == jsonbytes.line(odd.to_dict("en")) == _standard(odd.to_dict("en")) + b"\n"


def test_an_outcome_counts_the_same_codes_from_a_result_as_from_its_dict(kb):
    """A batch's counts and summaries come from an Outcome's codes, made from the Result on the fast path
    and from its dict when checking or resuming: the two must agree, or a summary would depend on the
    options of the run."""
    from cdss.batch.worker import BatchWorker, Options, outcome_of
    from cdss.io.inputs import Item

    options = Options(engine="direct")
    worker = BatchWorker(kb, options)
    seen = set()
    for path in case_paths():
        raw = path.read_bytes()
        case = cases.read_case(str(path))
        result = evaluate(case, kb, engine="direct")
        item = Item(str(path), None, raw, len(raw))
        fast = worker._outcome(result, item, None)
        slow = outcome_of(result.to_dict("en"), item, options, None)
        assert fast == slow
        seen.update(fast.red_flags + fast.recommendations)
        seen.update(code for code, _ in fast.conditions)
    assert len(seen) > 30  # the shipped cases reach red flags, conditions and recommendations


def test_orjson_writes_every_character_as_the_standard_library_does():
    """Both `jsonbytes.compact` and the durable-rules engine's facts (`durable._text_json`) take orjson's
    string for the standard library's `ensure_ascii=False` one: every character (a surrogate is not one), alone
    and all together."""
    characters = [chr(point) for point in range(0x110000) if not 0xD800 <= point <= 0xDFFF]
    for character in characters[:0x3000]:  # the escapes and the first scripts, one by one
        assert orjson.dumps(character) == _standard(character)
    everything = "".join(characters)
    assert orjson.dumps(everything) == _standard(everything)
