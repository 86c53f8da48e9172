"""FHIR JSON in: bytes to resources, each checked by its FHIR R4(B) model (fhir.resources), with one clear
error naming the resource and the element when one is malformed.

Only the resource types the mapping reads are validated; any other type is counted and ignored. Checking a
resource with fhir.resources costs ~0.5-15 ms (a QuestionnaireResponse is the dearest), and an EHR sends
the same Patient, Conditions and answers again on every hook, so verdicts are kept in a bounded cache keyed
by the resource's canonical JSON: a resource seen before is not checked twice.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections import Counter, OrderedDict
from typing import Any, Iterator

from attrs import frozen

from cdss.errors import CaseError
from cdss.io.cases import JSON_TYPES, _no_constants, _no_duplicates, lone_surrogate

MAX_BUNDLE_BYTES = 5 * 1024 * 1024
MODELS = {
    "Patient": "patient", "Observation": "observation", "Condition": "condition",
    "MedicationStatement": "medicationstatement", "MedicationRequest": "medicationrequest",
    "Medication": "medication", "Procedure": "procedure", "DiagnosticReport": "diagnosticreport",
    "ImagingStudy": "imagingstudy", "QuestionnaireResponse": "questionnaireresponse",
}
CACHE_SIZE = 4096


class FhirError(CaseError):
    """A FHIR input that cannot become a case: the file, the JSON pointer into it, and what is wrong."""


@frozen
class Resource:
    """One resource of an input, with where it sits (a JSON pointer into the input)."""

    type: str
    id: str | None
    data: dict
    pointer: str

    @property
    def ref(self) -> str:
        return f"{self.type}/{self.id}" if self.id else f"{self.type} at {self.pointer}"


@frozen
class Parsed:
    """The resources of one input that the mapping reads, the ones it ignores (counted by type), and the
    Bundle's own fields that matter (its identifier and timestamp)."""

    resources: tuple[Resource, ...]
    ignored: dict
    identifier: str | None = None
    timestamp: str | None = None


def decode(raw: bytes, source: str) -> Any:
    """Bytes to JSON, refusing what FHIR JSON cannot be (the case decoder's rules, a bundle's size limit)."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise FhirError(source, "", f"the input is {len(raw)} bytes; a FHIR input may hold at most "
                                    f"{MAX_BUNDLE_BYTES} ({MAX_BUNDLE_BYTES // (1024 * 1024)} MiB)")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # FHIR allows a BOM in JSON files (many servers write one)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FhirError(source, "", f"not UTF-8 text: invalid byte at offset {error.start}") from None
    if not text.strip():
        raise FhirError(source, "", "empty; expected a FHIR Bundle (JSON)")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        raise FhirError(source, "", f"broken JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except ValueError as error:
        raise FhirError(source, "", f"invalid JSON: {error}") from None
    except RecursionError:
        raise FhirError(source, "", "JSON nested too deeply for a FHIR resource") from None
    refused = lone_surrogate(data, text)
    if refused is not None:
        raise FhirError(source, *refused)
    return data


def bundle_resources(data: Any, source: str, pointer: str = "") -> Iterator[tuple[dict, str]]:
    """(resource, pointer) for every resource of a Bundle, nested Bundles (a search set inside a
    collection) flattened; a lone resource stands for itself."""
    if not isinstance(data, dict):
        raise FhirError(source, pointer, f"expected a FHIR resource (a JSON object), got "
                                         f"{JSON_TYPES.get(type(data), 'a value')}")
    kind = data.get("resourceType")
    if not isinstance(kind, str):
        raise FhirError(source, pointer + "/resourceType", "missing resourceType; expected a FHIR Bundle")
    if kind != "Bundle":
        yield data, pointer
        return
    entries = data.get("entry", [])
    if not isinstance(entries, list):
        raise FhirError(source, pointer + "/entry", f"expected a list of entries, got {JSON_TYPES.get(type(entries), 'a value')}")
    for n, entry in enumerate(entries):
        where = f"{pointer}/entry/{n}"
        if not isinstance(entry, dict):
            raise FhirError(source, where, "expected a Bundle entry (an object)")
        resource = entry.get("resource")
        if resource is None:
            continue  # an entry with only a request or response carries no data
        yield from bundle_resources(resource, source, where + "/resource")


def parse(data: Any, source: str, validate: bool = True) -> Parsed:
    """The resources the mapping reads, each validated; others counted as ignored."""
    kept: list[Resource] = []
    ignored: Counter = Counter()
    for resource, pointer in bundle_resources(data, source):
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or kind not in MODELS:
            ignored[str(kind)] += 1
            continue
        if validate:
            check(resource, source, pointer)
        rid = resource.get("id")
        kept.append(Resource(kind, rid if isinstance(rid, str) else None, resource, pointer))
    identifier = timestamp = None
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        found = data.get("identifier")
        if isinstance(found, dict) and isinstance(found.get("value"), str):
            identifier = found["value"]
        if isinstance(data.get("timestamp"), str):
            timestamp = data["timestamp"]
    return Parsed(tuple(kept), dict(sorted(ignored.items())), identifier, timestamp)


_VERDICTS: OrderedDict = OrderedDict()


def check(resource: dict, source: str, pointer: str) -> None:
    """Validate one resource by its FHIR model; FhirError names the resource and the element."""
    key = hashlib.blake2b(json.dumps(resource, sort_keys=True, separators=(",", ":")).encode(),
                          digest_size=16).digest()
    verdict = _VERDICTS.get(key)
    if verdict is None:
        verdict = _problem(resource)
        _VERDICTS[key] = verdict
        if len(_VERDICTS) > CACHE_SIZE:
            _VERDICTS.popitem(last=False)
    else:
        _VERDICTS.move_to_end(key)
    if verdict:
        element, message = verdict
        kind = resource.get("resourceType")
        rid = resource.get("id")
        name = f"{kind}/{rid}" if isinstance(rid, str) else kind
        where = f"{pointer}/{element.replace('.', '/')}" if element else pointer
        raise FhirError(source, where, f"{name}: {element or 'resource'}: {message}")


def model(kind: str):
    module = importlib.import_module(f"fhir.resources.R4B.{MODELS[kind]}")
    return getattr(module, kind)


def _problem(resource: dict) -> tuple[str, str] | tuple[()]:
    """() when the resource is valid FHIR R4(B), else (element path, message)."""
    import pydantic

    try:
        model(resource["resourceType"]).model_validate(resource)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        element = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__")
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        value = first.get("input")
        if first.get("type") not in ("missing",) and not isinstance(value, (dict, list)) and value is not None:
            message += f" (got {json.dumps(value, default=str)[:60]})"
        return element, message
    except (ValueError, TypeError) as error:  # the model library's own checks outside pydantic
        return "", str(error)[:200]
    return ()
