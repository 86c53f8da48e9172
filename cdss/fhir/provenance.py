"""The resource behind every value, in the result's trace: a first trace entry, `input.fhir`, lists each case
field the FHIR input gave with the resource and element it came from, and every rule's matched fields
name theirs (`from`, `element`)."""

from __future__ import annotations

from attrs import evolve

from cdss.model import Case, Matched, Result, TraceEntry

RULE = "input.fhir"


def _value_at(data: dict, pointer: str):
    node = data
    for part in pointer.strip("/").split("/"):
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def attach(result: Result, case: Case) -> Result:
    """The result with the case's provenance in its trace (unchanged when the case has none)."""
    if not case.provenance:
        return result
    by_pointer = {pointer: (source.ref, source.element) for pointer, source in case.provenance}
    mapped = tuple(Matched("field", pointer, _freeze(_value_at(case.data, pointer)), source=(source.ref, source.element))
                   for pointer, source in case.provenance)
    trace = [TraceEntry(RULE, mapped, ())]
    for entry in result.trace:
        if any(m.kind == "field" and m.ref in by_pointer for m in entry.matched):
            matched = tuple(evolve(m, source=by_pointer[m.ref]) if m.kind == "field" and m.ref in by_pointer else m
                            for m in entry.matched)
            entry = evolve(entry, matched=matched)
        trace.append(entry)
    return evolve(result, trace=tuple(trace))


def _freeze(value):
    """A hashable value for the trace (a trial, which is an object, is named by its pointer alone)."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return None if isinstance(value, dict) else value


def strip(body: dict) -> dict:
    """A result dict without what FHIR provenance added: what the same case gives when read as JSON."""
    out = dict(body)
    if "trace" in out:
        trace = []
        for entry in out["trace"]:
            if entry["rule"] == RULE:
                continue
            matched = [{k: v for k, v in m.items() if k not in ("from", "element")} for m in entry["matched"]]
            trace.append(dict(entry, matched=matched))
        out["trace"] = trace
    return out
