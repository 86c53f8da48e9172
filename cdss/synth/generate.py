"""The synthetic stream: case `index` of stream `seed`, in the contract's key order, as dicts or JSONL.

Determinism: case i is drawn from its own `random.Random` seeded from (seed, i) alone, so the same
seed gives the same bytes in any process, and the first K cases of a stream of N are the stream of K.
Nothing here iterates a set or depends on hashing or the clock.
"""

from __future__ import annotations

import functools
import json
import random
from typing import IO, Iterable, Iterator

from cdss import resources
from cdss.synth.draws import Draw
from cdss.synth.scenarios import SCENARIOS
from cdss.synth.scenarios.background import background
from cdss.synth.tables import COMBINATIONS, SCENARIO_WEIGHTS, cumulative

MAX_SEED = 2**63 - 1

_PRIMARY = cumulative(SCENARIO_WEIGHTS)
_SECOND = {name: (p, cumulative(pairs)) for name, (p, pairs) in COMBINATIONS.items()}


@functools.cache
def _key_order() -> tuple:
    """Every object's keys in the order the case schema lists them, so the output order is fixed:
    (rank of a key, {key: the same for a nested object or a list of objects} or None for a flat object)."""
    def order(node: dict) -> tuple:
        props = node.get("properties", {})
        subs = {}
        for name, sub in props.items():
            if sub.get("type") == "object":
                subs[name] = order(sub)
            elif sub.get("type") == "array" and "properties" in sub.get("items", {}):
                subs[name] = order(sub["items"])
        return {name: rank for rank, name in enumerate(props)}.__getitem__, subs or None
    return order(resources.schema("case"))


def _ordered(obj: dict, order: tuple) -> dict:
    rank, subs = order
    if subs is None:
        return obj if len(obj) < 2 else {key: obj[key] for key in sorted(obj, key=rank)}
    out = {}
    for key in sorted(obj, key=rank):
        value = obj[key]
        sub = subs.get(key)
        if sub is not None:
            value = [_ordered(item, sub) for item in value] if type(value) is list else _ordered(value, sub)
        out[key] = value
    return out


def case_seed(seed: int, index: int) -> int:
    """The seed of case `index` of stream `seed`: depends on those two numbers alone."""
    return (seed << 64) | index


def make_case(seed: int, index: int, rng: random.Random | None = None, scenario: str | None = None) -> dict:
    """Case `index` of the stream `seed`, as a dict in the contract's key order. `scenario` names the primary
    picture instead of drawing it (a stream of one pathway's cases, for tests and coverage hunts; the mix's
    second pictures still join it)."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be from 0 to {MAX_SEED} (got {seed})")
    if not 0 <= index < 2**64:
        raise ValueError(f"index must be from 0 to 2**64 - 1 (got {index})")
    rng = rng or random.Random()
    rng.seed(case_seed(seed, index))
    d = Draw(rng, f"syn-{seed}-{index:07d}")
    primary = d.weighted(_PRIMARY)
    if scenario is not None:
        if scenario not in SCENARIOS:
            raise ValueError(f"no scenario {scenario!r} (known: {', '.join(sorted(SCENARIOS))})")
        primary = scenario
    SCENARIOS[primary](d, True)
    second = _SECOND.get(primary)
    if second is not None and d.rand() < second[0]:
        SCENARIOS[d.weighted(second[1])](d, False)
    if d.age >= 16:
        background(d)
    return _ordered(d.case, _key_order())


def generate(n: int, seed: int = 0) -> Iterator[dict]:
    """The first n cases of stream `seed`, one at a time (nothing is held beyond the current case)."""
    if n < 0:
        raise ValueError(f"n must be 0 or more (got {n})")
    rng = random.Random()
    for index in range(n):
        yield make_case(seed, index, rng)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, check_circular=False, allow_nan=False)


def lines(n: int, seed: int = 0) -> Iterator[str]:
    """The same cases as JSONL lines (with their newline)."""
    encode = _ENCODER.encode
    for case in generate(n, seed):
        yield encode(case) + "\n"


def write(stream: IO[str], n: int, seed: int = 0, chunk: int = 512, produced: Iterable[str] | None = None) -> int:
    """Write n cases as JSONL to a text stream, in chunks; returns the number written. `produced` gives other
    lines for the same stream instead (`cdss synth --format fhir` passes cdss.fhir.synth.lines: FHIR sits
    above synth, so synth never imports it)."""
    buffer: list[str] = []
    count = 0
    for line in lines(n, seed) if produced is None else produced:
        buffer.append(line)
        count += 1
        if len(buffer) >= chunk:
            stream.write("".join(buffer))
            buffer.clear()
    if buffer:
        stream.write("".join(buffer))
    return count
