"""The case fields a rule may test, read from the case schema itself: one catalogue, never a copy."""

from __future__ import annotations

import functools

from cdss import resources


@functools.cache
def field_catalogue() -> dict[str, dict]:
    """Every case field path (dotted) with its JSON Schema, from the case schema."""
    catalogue: dict[str, dict] = {}
    schema = resources.schema("case")

    def resolved(spec):
        """The spec with a local `$ref` (a code list generated from the vocabulary) read in, so that every
        reader sees a field's `enum` where it is, as if it were written in place."""
        if isinstance(spec, dict) and "$ref" in spec and spec["$ref"].startswith("#/$defs/"):
            target = schema["$defs"][spec["$ref"].rsplit("/", 1)[1]]
            merged = {k: v for k, v in target.items() if k != "$comment"}
            merged.update({k: v for k, v in spec.items() if k != "$ref"})
            return resolved(merged)
        if isinstance(spec, dict) and isinstance(spec.get("items"), dict):
            return dict(spec, items=resolved(spec["items"]))
        if isinstance(spec, dict) and isinstance(spec.get("properties"), dict):
            return dict(spec, properties={k: resolved(v) for k, v in spec["properties"].items()})
        return spec

    def visit(prefix: str, node: dict) -> None:
        for name, sub in node.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            catalogue[path] = resolved(sub)
            if sub.get("type") == "object":
                visit(path, sub)

    visit("", schema)
    return catalogue


def kind_of(spec: dict) -> str:
    """enum | boolean | number | integer | string | array | object | any."""
    if "enum" in spec:
        return "enum"
    return spec.get("type", "any")


def is_number_field(path: str) -> bool:
    return kind_of(field_catalogue().get(path, {})) in ("number", "integer")


def accepts(spec: dict, value) -> bool:
    """Whether a scalar value is of the field's type (and among its values, for an enum)."""
    kind = kind_of(spec)
    if kind == "enum":
        return value in spec["enum"]
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("number", "integer"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    return False


def expects(spec: dict) -> str:
    """What a field takes, in words, for an error message."""
    if "enum" in spec:
        return "one of " + ", ".join(map(str, spec["enum"]))
    return {"boolean": "true or false", "number": "a number", "integer": "an integer",
            "array": "a list", "object": "an object"}.get(spec.get("type"), "a value")
