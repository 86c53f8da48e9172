"""Compact JSON bytes for results, the same bytes as `json.dumps(..., ensure_ascii=False,
separators=(",", ":")).encode()` but made by orjson, ~7x faster (encoding was ~67 us of a case's ~780).

orjson and the standard library agree on everything a result holds (strings, ints, lists, objects in
insertion order, true/false/null) except how some floats are written: orjson writes 7e-05 as 0.00007,
and both write an exponent for very large or small numbers, where their spellings may differ. Any
output with a number token (in compact JSON one starts the output or follows `:`, `,` or `[`) that has an
exponent or starts `0.0000` (rare: a case value written with an exponent, or such text after a colon in a
string) is made again by the standard library, which stays the definition of the bytes. Only tokens
count: every result names its knowledge base's sha256, whose hex digits meet an `e` in most hashes, and
a test of the bare text sent nearly every result down the slow path. tests/test_jsonbytes.py holds the two
to the same bytes on every shipped and synthetic result and on the awkward values.

The regular expression `_MAY_DIFFER` defines which outputs are made again, but running it over a whole
result (~9 KB) cost ~0.3 ms per case, more than orjson itself: every `:` and `,` starts an attempt.
`may_differ` finds the same outputs (and perhaps a few more, which only cost the slow path) with C-speed
byte searches: it maps the bytes to classes once, looks for a digit before an `e` or a `0.0000`, and
only when that digit's token starts the output or follows `:`, `,` or `[` is the result made again.
"""

from __future__ import annotations

import json
import re

import orjson

_STANDARD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# where orjson's spelling of a float may differ from Python's repr: a number token with an exponent, or a
# small number written out in full (Python switches to an exponent below 1e-4)
_MAY_DIFFER = re.compile(rb"(?:^|(?<=[:,\[]))-?(?:[0-9]+(?:\.[0-9]+)?[eE]|0\.0000)")
# Byte classes: a digit becomes 0, e and E become e, what may start a token's context stays, the rest a space.
_CLASSES = bytes(ord("0") if chr(b).isdigit() and b < 128 else ord("e") if b in b"eE"
                 else b if b in b".-:,[" else ord(" ") for b in range(256))
_TOKEN_CHARS = frozenset(b"0123456789.-")


def may_differ(out: bytes) -> bool:
    """True when `_MAY_DIFFER.search(out)` finds something (and in a few more cases): a number token
    with an exponent or a `0.0000`. Each match holds a digit followed by `e` or by `.0000`; from each such
    place the token's start is found by walking back over digits, `.` and `-`, and it counts when it starts
    the output or follows `:`, `,` or `[` (tests/test_jsonbytes.py holds it to the expression)."""
    for text, needle in ((out.translate(_CLASSES), b"0e"), (out, b"0.0000")):
        at = text.find(needle)
        while at >= 0:
            start = at
            while start > 0 and out[start - 1] in _TOKEN_CHARS:
                start -= 1
            if start == 0 or out[start - 1] in b":,[":
                return True
            at = text.find(needle, at + 1)
    return False


def standard(value) -> bytes:
    """The reference encoding (the standard library's), as UTF-8 bytes."""
    return _STANDARD(value).encode()


def compact(value) -> bytes:
    """`value` as compact JSON bytes, byte-identical to `standard(value)`."""
    try:
        out = orjson.dumps(value)
    except TypeError:  # what orjson does not take (an int past 64 bits, say): the standard library decides
        return standard(value)
    if may_differ(out):
        return standard(value)
    return out


def line(value) -> bytes:
    """One JSON Lines record: `compact(value)` and a newline."""
    return compact(value) + b"\n"
