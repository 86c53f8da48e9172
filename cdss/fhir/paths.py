"""FHIRPath for the mapping's element paths.

A path made of member names only (`referenceRange.high`) is navigated directly: FHIRPath's member
navigation, which flattens lists at every step, is all such a path means, and doing it in Python is ~100x
cheaper per resource than a general evaluator. Any other expression (`where()`, `ofType()`, indexes...) is
compiled once by fhirpathpy and evaluated by it. tests/test_fhir_mapping.py checks that both agree.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable

SIMPLE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$")


def _navigate(parts: tuple[str, ...], resource: Any) -> list:
    nodes = [resource]
    for part in parts:
        step: list = []
        for node in nodes:
            if not isinstance(node, dict):
                continue
            value = node.get(part)
            if value is None:
                continue
            if isinstance(value, list):
                step.extend(v for v in value if v is not None)
            else:
                step.append(value)
        nodes = step
        if not nodes:
            break
    return nodes


@functools.cache
def compile_path(expression: str, general: bool = False) -> Callable[[Any], list]:
    """A function from a resource (a dict) to the list of nodes the expression selects. `general` forces
    the FHIRPath library even for a simple path (for the equivalence test)."""
    if SIMPLE.match(expression) and not general:
        parts = tuple(expression.split("."))
        return functools.partial(_navigate, parts)
    import fhirpathpy

    compiled = fhirpathpy.compile(expression)
    return lambda resource: list(compiled(resource))
