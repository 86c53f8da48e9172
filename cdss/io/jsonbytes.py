"""Compact JSON bytes for results, the same bytes as `json.dumps(..., ensure_ascii=False,
separators=(",", ":")).encode()` but made by orjson, ~7x faster (encoding was ~67 us of a case's ~780).

orjson and the standard library agree on everything a result holds (strings, ints, lists, objects in
insertion order, true/false/null) except how some floats are written: orjson writes 7e-05 as 0.00007,
and both write an exponent for very large or small numbers, where their spellings may differ. Any
output with a number token (in compact JSON one starts the output or follows `:`, `,` or `[`) that has an
exponent or starts `0.0000` (rare: a case value written with an exponent, or such text after a colon in a
string) is made again by the standard library, which stays the definition of the bytes. Only tokens
count: every result names its knowledge base's sha256, whose hex digits meet an `e` in most hashes, and
a test of the bare text sent nearly every result down the slow path. tests/test_jsonbytes.py holds the two to the same bytes on every shipped and synthetic result and
on the awkward values.
"""

from __future__ import annotations

import json
import re

import orjson

_STANDARD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# where orjson's spelling of a float may differ from Python's repr: a number token with an exponent, or a
# small number written out in full (Python switches to an exponent below 1e-4)
_MAY_DIFFER = re.compile(rb"(?:^|(?<=[:,\[]))-?(?:[0-9]+(?:\.[0-9]+)?[eE]|0\.0000)")


def standard(value) -> bytes:
    """The reference encoding (the standard library's), as UTF-8 bytes."""
    return _STANDARD(value).encode()


def compact(value) -> bytes:
    """`value` as compact JSON bytes, byte-identical to `standard(value)`."""
    try:
        out = orjson.dumps(value)
    except TypeError:  # what orjson does not take (an int past 64 bits, say): the standard library decides
        return standard(value)
    if _MAY_DIFFER.search(out) is not None:
        return standard(value)
    return out


def line(value) -> bytes:
    """One JSON Lines record: `compact(value)` and a newline."""
    return compact(value) + b"\n"
