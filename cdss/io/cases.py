"""Read case files and check them against the case contract, with one clear error per bad input.

An error names the file, the field as a JSON pointer, and what was expected; an unknown field gets the
closest valid name, because a typo such as `xray_hp` must never pass as "not done".
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdss import resources
from cdss.errors import CaseError
from cdss.model import Case

if TYPE_CHECKING:
    import jsonschema

MAX_CASE_BYTES = 1024 * 1024
JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
              float: "a number", type(None): "null"}


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return resources.validator_for(resources.schema("case"))


@functools.cache
def _fast_check():
    """The generated check (cdss/io/casecheck.py) while it matches the case schema in use, else compiled now.

    fastjsonschema compiles the case schema to Python: ~13x faster than jsonschema on a valid case,
    which is every case of a healthy batch. It implements draft-07, which covers every keyword the case
    schema uses with the same meaning; tests/test_schemas.py checks that both validators agree. jsonschema
    (2020-12) stays the authority: it decides and explains every case the fast check refuses."""
    shipped = _shipped_check()
    if shipped is not None:
        return shipped
    import fastjsonschema

    from cdss.io import casecheck

    return fastjsonschema.compile(casecheck.schema_for_fastjsonschema()), fastjsonschema.JsonSchemaException


@functools.cache
def _shipped_check():
    """The generated check while it matches the case schema in use, else None (never compiled now)."""
    from cdss.io import casecheck

    return casecheck.shipped()


ANNOTATIONS = frozenset({"description", "$comment", "title"})


def _inlined(schema, defs: dict, depth: int = 0):
    """The schema with each local reference (`{"$ref": "#/$defs/NAME"}`, annotations beside it) replaced by
    its definition, for the fast check only. fastjsonschema calls a function per reference and names the
    value for its would-be error message with `.format(**locals())` on every call, which was a sixth of
    the check's time on a case with treatments; the definitions are small and not recursive (depth-capped
    all the same: past it, a reference stays a reference)."""
    if isinstance(schema, list):
        return [_inlined(item, defs, depth) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if (isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs and depth < 8
            and set(schema) - {"$ref"} <= ANNOTATIONS):
        return _inlined(defs[ref[8:]], defs, depth + 1)
    return {key: _inlined(value, defs, depth) for key, value in schema.items()}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constants(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _non_finite(data, parts=()) -> tuple | None:
    """The path to the first infinite number in decoded JSON (see `decode`)."""
    if isinstance(data, float) and not math.isfinite(data):
        return parts
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = _non_finite(value, parts + (key,))
        if found is not None:
            return found
    return None


def decode(raw: bytes, source: str) -> dict:
    """Bytes to one JSON object, refusing what the contract cannot mean."""
    if len(raw) > MAX_CASE_BYTES:
        raise CaseError(source, "", f"the case is {len(raw)} bytes; a case may hold at most {MAX_CASE_BYTES} (1 MiB)")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise CaseError(source, "", "the file starts with a byte-order mark (BOM); save it as UTF-8 without BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CaseError(source, "", f"not UTF-8 text: invalid byte at offset {error.start}") from None
    if not text.strip():
        raise CaseError(source, "", "the file is empty; expected one JSON object (a case)")
    too_large: list[str] = []

    def number(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            too_large.append(literal)
        return value

    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants, parse_float=number)
    except json.JSONDecodeError as error:
        raise CaseError(source, "", f"broken JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except ValueError as error:
        raise CaseError(source, "", f"invalid JSON: {error}") from None
    except RecursionError:
        raise CaseError(source, "", "JSON nested too deeply; a case is at most a few levels deep") from None
    if not isinstance(data, dict):
        raise CaseError(source, "", f"expected one JSON object (a case), got {JSON_TYPES.get(type(data), 'a value')}")
    if too_large:
        # 1e400 parses as infinity, which passes `minimum: 0` and crashes durable-rules' C core.
        raise CaseError(source, _pointer(_non_finite(data) or ()),
                        f"expected a finite number; {too_large[0][:40]} is too large for one")
    refused = lone_surrogate(data, text)
    if refused is not None:
        raise CaseError(source, *refused)
    return data


# A JSON escape of a UTF-16 surrogate (\uD800-\uDFFF): a pair makes one character, a lone one decodes to
# a string that is not Unicode text and that no UTF-8 output can hold.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
LONE_SURROGATE = ("expected Unicode text; a \\u escape from D800 to DFFF that is not half of a surrogate pair "
                  "is not a character")


def lone_surrogate(data: Any, text: str | None = None) -> tuple[str, str] | None:
    """(JSON pointer, message) of the first string (or object key) of decoded JSON that holds a lone
    surrogate, else None: such text, echoed into a result or an error record (a case id, say), could not be
    written, and once stopped a whole batch. Given the JSON text it was decoded from, a text with no
    surrogate escape is not walked."""
    if text is not None and not _SURROGATE_ESCAPE.search(text):
        return None
    found = _lone_surrogate(data, ())
    if found is None:
        return None
    where, what = found
    return _pointer(where), what + LONE_SURROGATE


def _lone_surrogate(data: Any, where: tuple):
    """(pointer parts, what) of the first string or key, depth first, in `data` that is not Unicode text,
    else None. A stack, not recursion: the JSON may be nested as deeply as json.loads allows."""
    stack = [(where, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if not _is_text(value):
                return where, ""
        elif isinstance(value, dict):
            if not all(map(_is_text, value)):
                return where, "a field name here: "
            stack.extend((where + (key,), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((where + (index,), item) for index, item in reversed(list(enumerate(value))))
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _pointer(parts) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _explain(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(pointer, message) for the one error worth showing."""
    parts = list(error.absolute_path)
    where = _pointer(parts)
    value = error.instance
    schema = error.schema
    kind = error.validator
    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = list(schema.get("properties", {}))
        extra = sorted(k for k in value if k not in allowed)
        name = extra[0] if extra else "?"
        from difflib import get_close_matches  # only for an error's hint

        close = get_close_matches(name, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; valid fields here: {', '.join(allowed)}"
        return _pointer(parts + [name]), f"unknown field {name!r}{hint}"
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return _pointer(parts + [missing]), f"required field {missing!r} is missing"
    if kind == "type":
        want = schema.get("type")
        return where, f"expected {want if isinstance(want, str) else ' or '.join(want)}, got {json.dumps(value)[:60]}"
    if kind == "enum":
        return where, f"expected one of {', '.join(map(str, schema['enum']))}; got {json.dumps(value)[:60]}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum")
        if high is not None:
            return where, f"expected a value from {low} to {high}; got {value}"
        above = "above" if "exclusiveMinimum" in schema else "of at least"
        return where, f"expected a value {above} {low}; got {value}"
    if kind == "pattern":
        return where, f"{json.dumps(value)[:60]} does not match the pattern {schema['pattern']}"
    if kind == "not" and isinstance(value, list):
        return where, "'normal' must stand alone: a normal study has no other finding"
    if kind == "not" and isinstance(value, dict) and "prostheses" in value:
        return where, ("'prosthetic_joint' is false but 'prostheses' lists a prosthesis: a contradiction; "
                       "keep 'prostheses' (it decides) and drop 'prosthetic_joint'")
    if kind == "uniqueItems":
        return where, "each item may appear only once"
    return where, error.message[:200]


class Validator:
    """Checks decoded cases against the case contract, with the fastjsonschema check first when it costs
    nothing to get (generated ahead of time: cdss/io/casecheck.py), or with `fast=True` even when it must
    be compiled now: worth its ~70 ms compile over many cases (a batch worker, the audit's corpus), not for
    one `cdss evaluate`. Either way jsonschema (2020-12) decides and explains every case the fast check
    refuses, so both give the same verdict and the same message; it is imported only then (its import was
    ~0.3 G instructions of a cold `cdss evaluate`)."""

    def __init__(self, fast: bool = False):
        self._fast = _fast_check() if fast else None  # else the generated check, looked up on first use

    def validate(self, data: dict, source: str) -> None:
        fast = self._fast if self._fast is not None else _shipped_check()
        if fast is not None:
            check, refused = fast
            try:
                check(data)
                return
            except refused:
                pass
        from jsonschema.exceptions import best_match  # only for a case the fast check refused (see above)

        error = best_match(_validator().iter_errors(data), key=_relevance)
        if error is not None:
            pointer, message = _explain(error)
            raise CaseError(source, pointer, message)

    def case(self, data: dict, source: str, line: int | None = None) -> Case:
        """A validated Case from decoded data; `line` is the JSONL line it came from."""
        self.validate(data, source if line is None else f"{source}:{line}")
        return Case(id=data["id"], data=data, source=source, line=line)


EXACT = Validator()


def validate(data: dict, source: str) -> None:
    EXACT.validate(data, source)


def _relevance(error):
    # Unknown fields first (best_match takes the highest key): a misspelt field also makes a required one
    # "missing", and the misspelling is the error to show. Then best_match's own order.
    from jsonschema.exceptions import relevance

    return (error.validator == "additionalProperties",) + relevance(error)


def case_from_dict(data: dict, source: str, line: int | None = None) -> Case:
    return EXACT.case(data, source, line)


def read_case(path: str) -> Case:
    """One case from a file path, or '-' for standard input."""
    import sys

    if path == "-":
        source = "<stdin>"
        if sys.stdin is None:
            raise CaseError(source, "", "cannot read: standard input is closed")
        raw = sys.stdin.buffer.read(MAX_CASE_BYTES + 1)
    else:
        source = path
        file = Path(path)
        try:
            size = file.stat().st_size
            if size > MAX_CASE_BYTES:
                raise CaseError(source, "", f"the case is {size} bytes; a case may hold at most {MAX_CASE_BYTES} (1 MiB)")
            with open(file, "rb") as handle:
                raw = handle.read(MAX_CASE_BYTES + 1)
        except IsADirectoryError:
            raise CaseError(source, "", "is a folder; expected a case file (.json)") from None
        except OSError as error:
            raise CaseError(source, "", f"cannot read: {error.strerror or error}") from None
    return case_from_dict(decode(raw, source), source)
