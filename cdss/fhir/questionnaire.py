"""The cdss Questionnaire, generated from the case schema, and reading a QuestionnaireResponse to it.

SDC-style: one item per case field (linkId = the field's dotted path), grouped by the case's sections;
booleans, integers and decimals as such, enums as choices whose answer options are the contract's values
(Codings of the cdss case-value code system), lists as repeating choices, each imaging study a group, and
treatment trials a repeating group. Texts are English with a Dutch translation (the FHIR translation
extension). A list field that may be empty has the answer `none` ("none of these"), so that `[]` (asked,
none) stays apart from an unanswered item (unknown).
"""

from __future__ import annotations

import hashlib
from typing import Any

from attrs import frozen

from cdss import resources
from cdss.fhir.mapping import QUESTIONNAIRE_ID, Mapping
from cdss.fhir.parse import FhirError, Resource
from cdss.fhir.texts import field_text, section_text, value_text
from cdss.kb.fields import field_catalogue

TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
SDC_PROFILE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"
NONE_OF_THESE = "none"
SKIP_TOP = ("id", "expected")


def schema_version() -> str:
    """The Questionnaire's version: the case schema it was made from (its sha256, first 12 digits)."""
    return hashlib.sha256(resources.schema_bytes("case")).hexdigest()[:12]


def _translated(text: dict) -> dict:
    return {"extension": [{"url": TRANSLATION, "extension": [{"url": "lang", "valueCode": "nl"},
                                                             {"url": "content", "valueString": text["nl"]}]}]}


def _texts(item: dict, text: dict) -> dict:
    item["text"] = text["en"]
    item["_text"] = _translated(text)
    return item


def _kind(spec: dict) -> str:
    if "enum" in spec:
        return "enum"
    return spec.get("type", "any")


def _option(mapping: Mapping, value: str) -> dict:
    text = value_text(value)
    coding = {"system": mapping.system("cdss-value"), "code": value, "display": text["en"],
              "_display": _translated(text)}
    return {"valueCoding": coding}


def _leaf(mapping: Mapping, path: str, spec: dict) -> dict:
    item: dict = {"linkId": path}
    _texts(item, field_text(path))
    kind = _kind(spec)
    if kind == "array":
        values = list(spec.get("items", {}).get("enum", []))
        if not spec.get("minItems"):
            values.append(NONE_OF_THESE)
        item["type"] = "choice"
        item["repeats"] = True
        item["answerOption"] = [_option(mapping, v) for v in values]
        return item
    if kind == "enum":
        item["type"] = "choice"
        item["answerOption"] = [_option(mapping, v) for v in spec["enum"]]
        return item
    item["type"] = {"boolean": "boolean", "integer": "integer", "number": "decimal"}.get(kind, "string")
    extensions = []
    for keyword, url in (("minimum", MIN_VALUE), ("maximum", MAX_VALUE)):
        if keyword in spec and item["type"] in ("integer", "decimal"):
            value_key = "valueInteger" if item["type"] == "integer" else "valueDecimal"
            extensions.append({"url": url, value_key: spec[keyword]})
    if extensions:
        item["extension"] = extensions
    return item


def _group(mapping: Mapping, path: str, spec: dict, text: dict, repeats: bool = False) -> dict:
    item: dict = {"linkId": path}
    _texts(item, text)
    item["type"] = "group"
    if repeats:
        item["repeats"] = True
    children = []
    for name, sub in spec.get("properties", {}).items():
        child = f"{path}.{name}"
        if sub.get("type") == "object":
            children.append(_group(mapping, child, sub, field_text(child)))
        else:
            children.append(_leaf(mapping, child, sub))
    item["item"] = children
    return item


def build(mapping: Mapping) -> dict:
    """The Questionnaire resource (FHIR R4 JSON) for the current case schema."""
    schema = resources.schema("case")
    items = []
    for section, spec in schema["properties"].items():
        if section in SKIP_TOP:
            continue
        if spec.get("type") == "object":
            items.append(_group(mapping, section, spec, section_text(section)))
        elif spec.get("type") == "array" and spec.get("items", {}).get("type") == "object":
            items.append(_group(mapping, section, spec["items"], section_text(section), repeats=True))
    title = {"en": "cdss: hip and knee pain, the findings a case needs",
             "nl": "cdss: heup- en kniepijn, de gegevens die een casus nodig heeft"}
    return {
        "resourceType": "Questionnaire",
        "id": QUESTIONNAIRE_ID,
        "meta": {"profile": [SDC_PROFILE]},
        "language": "en",
        "url": mapping.questionnaire_url,
        "version": schema_version(),
        "name": "CdssCase",
        "title": title["en"],
        "_title": _translated(title),
        "status": "active",
        "subjectType": ["Patient"],
        "description": "One item per field of the cdss case contract; answer what was asked or examined. "
                       "An unanswered item means unknown or not done.",
        "item": items,
    }


# --------------------------------------------------------------------------------- reading answers

@frozen
class Answers:
    """What one QuestionnaireResponse says: (field, value, element, pointer) and (trial, element, pointer), the
    element a FHIRPath into the response and the pointer a JSON pointer into it."""

    fields: tuple
    trials: tuple


def _answers_for(questionnaire: Any, mapping: Mapping) -> bool:
    return isinstance(questionnaire, str) and questionnaire.split("|", 1)[0] == mapping.questionnaire_url


def read_response(mapping: Mapping, resource: Resource, origin: str) -> Answers | None:
    """The answers of a response to the cdss Questionnaire, or None for another questionnaire's."""
    data = resource.data
    if not _answers_for(data.get("questionnaire"), mapping):
        return None
    if data.get("status") in ("entered-in-error", "stopped"):
        return Answers((), ())
    fields: list = []
    trials: list = []
    catalogue = field_catalogue()
    seen: set[str] = set()

    def fail(where: str, message: str) -> FhirError:
        return FhirError(origin, f"{resource.pointer}{where}", f"{resource.ref}: {message}")

    def walk(items: Any, where: str) -> None:
        for n, item in enumerate(items or ()):
            here = f"{where}/item/{n}"
            if not isinstance(item, dict):
                continue
            link = item.get("linkId")
            if link == "treatments":
                trial = _trial(mapping, item, here, fail)
                if trial:
                    trials.append((trial, f"repeat(item).where(linkId='treatments')[{len(trials)}]", here))
                continue
            spec = catalogue.get(link) if isinstance(link, str) else None
            if spec is None or link.split(".")[0] in SKIP_TOP:
                raise fail(here + "/linkId", f"item {str(link)[:60]!r} is not a field of the case schema "
                                             f"(this response is to another version of the questionnaire?)")
            if spec.get("type") == "object":
                walk(item.get("item"), here)
                continue
            if not item.get("answer"):
                continue
            if link in seen:
                raise fail(here, f"item {link!r} is answered twice")
            seen.add(link)
            fields.append((link, _value(mapping, link, spec, item["answer"], here, fail),
                           f"repeat(item).where(linkId='{link}').answer", here + "/answer"))

    walk(data.get("item"), "")
    return Answers(tuple(fields), tuple(trials))


def _value(mapping: Mapping, link: str, spec: dict, answers: list, where: str, fail) -> Any:
    kind = _kind(spec)
    values = []
    for n, answer in enumerate(answers):
        at = f"{where}/answer/{n}"
        if not isinstance(answer, dict):
            raise fail(at, f"item {link!r}: an answer must be an object")
        values.append(_one(mapping, link, spec if kind != "array" else spec.get("items", {}), answer, at, fail,
                           allow_none=kind == "array"))
    if kind == "array":
        if NONE_OF_THESE in values:
            if len(values) > 1:
                raise fail(where, f"item {link!r}: 'none' stands alone")
            return []
        return values
    if len(values) > 1:
        raise fail(where, f"item {link!r} takes one answer; got {len(values)}")
    return values[0]


def _one(mapping: Mapping, link: str, spec: dict, answer: dict, at: str, fail, allow_none: bool = False) -> Any:
    kind = _kind(spec)
    if kind == "enum":
        coding = answer.get("valueCoding")
        code = coding.get("code") if isinstance(coding, dict) else None
        allowed = list(spec["enum"]) + ([NONE_OF_THESE] if allow_none else [])
        if code not in allowed:
            raise fail(at, f"item {link!r}: expected a valueCoding with one of {', '.join(map(str, allowed))}; "
                           f"got {str(code)[:40]!r}")
        return code
    if kind == "boolean":
        if not isinstance(answer.get("valueBoolean"), bool):
            raise fail(at, f"item {link!r}: expected valueBoolean")
        return answer["valueBoolean"]
    if kind == "integer":
        if not isinstance(answer.get("valueInteger"), int) or isinstance(answer.get("valueInteger"), bool):
            raise fail(at, f"item {link!r}: expected valueInteger")
        return answer["valueInteger"]
    if kind == "number":
        for name in ("valueDecimal", "valueInteger"):
            value = answer.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
        raise fail(at, f"item {link!r}: expected valueDecimal")
    raise fail(at, f"item {link!r}: this field cannot be answered in a questionnaire")


def _trial(mapping: Mapping, group: dict, where: str, fail) -> dict | None:
    spec = field_catalogue()["treatments"]["items"]
    trial: dict = {}
    for n, item in enumerate(group.get("item") or ()):
        if not isinstance(item, dict):
            continue
        link = item.get("linkId")
        name = link.split(".", 1)[1] if isinstance(link, str) and link.startswith("treatments.") else None
        if name not in spec["properties"]:
            raise fail(f"{where}/item/{n}/linkId", f"item {str(link)[:60]!r} is not a part of a treatment trial")
        if item.get("answer"):
            trial[name] = _value(mapping, link, spec["properties"][name], item["answer"], f"{where}/item/{n}", fail)
    if not trial:
        return None
    ordered = {name: trial[name] for name in spec["properties"] if name in trial}
    return ordered
