"""The FHIR mapping file, loaded once: checked against its schema and against the case schema, with its
codes indexed for lookup.

An entry whose case field the case schema does not have (yet) is kept but inactive: it maps nothing and is
listed by `Mapping.pending`, so that a field the contract adds starts mapping when the schema gains it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from attrs import frozen

from cdss import resources
from cdss.errors import CdssError
from cdss.fhir.codes import Code, CodeIndex, parse_code
from cdss.kb.fields import field_catalogue

MAPPING_FILE = resources.DATA_DIR / "fhir_mapping.yaml"
QUESTIONNAIRE_ID = "cdss-case"


class MappingError(CdssError):
    """The mapping file cannot be used: named with the file and the place in it."""


@frozen
class ObservationEntry:
    field: str
    codes: tuple[Code, ...]
    value: str  # quantity | antibody | presence
    units: dict
    upper_limit_field: str | None
    upper_limit_path: str | None
    exact: bool


@frozen
class ConditionEntry:
    field: str
    codes: tuple[Code, ...]
    exact: bool


@frozen
class MedicationEntry:
    field: str
    codes: tuple[Code, ...]
    value: str  # use | current_use | course
    long_term_days: int | None
    exact: bool


@frozen
class Mapping:
    """Everything the reader, the writer, the questionnaire and the service need from the mapping file."""

    raw: dict
    base: str
    systems: dict
    response_extension: str
    joint_extension: str
    answers: CodeIndex  # coding -> positive | negative | low_positive | high_positive
    answer_codes: dict  # answer -> its codes
    sex_values: dict
    observations: tuple[ObservationEntry, ...]
    observation_index: CodeIndex
    conditions: tuple[ConditionEntry, ...]
    condition_index: CodeIndex
    medications: tuple[MedicationEntry, ...]
    medication_index: CodeIndex
    treatment_index: CodeIndex  # coding -> treatment code
    prosthesis_field: str
    prosthesis_joints: CodeIndex
    prosthesis_sides: CodeIndex
    prosthesis_codes: dict  # joint -> codes; side -> codes
    study_index: CodeIndex
    study_codes: dict
    finding_index: CodeIndex
    finding_codes: dict
    order_codes: dict  # recommendation code -> extra codes
    do_not_orders: CodeIndex
    nsaid_orders: CodeIndex  # coding -> oral | topical
    active_fields: frozenset
    pending: tuple[str, ...]

    def system(self, alias: str) -> str:
        return self.systems[alias][0]

    def cdss_code(self, alias: str, code: str) -> Code:
        return Code(alias, self.systems[alias], code, False)

    @property
    def questionnaire_url(self) -> str:
        return f"{self.base}/Questionnaire/{QUESTIONNAIRE_ID}"

    @property
    def case_id_system(self) -> str:
        return f"{self.base}/case-id"

    def is_active(self, field: str) -> bool:
        return field in self.active_fields

    def observation_codes(self) -> list[Code]:
        """Every observation code the mapping reads (for prefetch templates)."""
        out: list[Code] = []
        for entry in self.observations:
            if entry.field in self.active_fields:
                out.extend(c for c in entry.codes if c not in out)
        return out


def _where(path: list) -> str:
    return "/" + "/".join(str(p) for p in path)


def parse(raw: dict, source: str = str(MAPPING_FILE)) -> Mapping:
    """Check a mapping document and build its indexes; MappingError names what is wrong."""
    validator = jsonschema.Draft202012Validator(resources.schema("fhir_mapping"))
    error = jsonschema.exceptions.best_match(validator.iter_errors(raw))
    if error is not None:
        raise MappingError(f"{source}: {_where(list(error.absolute_path))}: {error.message}")
    systems = {alias: tuple(uris) for alias, uris in raw["systems"].items()}
    fields = field_catalogue()

    def codes(items: list, where: str) -> tuple[Code, ...]:
        out = []
        for text in items:
            try:
                out.append(parse_code(text, systems))
            except KeyError as missing:
                raise MappingError(f"{source}: {where}: code {text!r} uses the system alias {missing}, "
                                   f"which `systems` does not define") from None
        return tuple(out)

    known: set[str] = set()
    pending: list[str] = []

    def target(field: str, where: str) -> str:
        """A case field an entry writes: known to the case schema (active) or not yet (pending)."""
        if field in fields:
            known.add(field)
        elif field not in pending:
            pending.append(field)
        return field

    answer_codes = {name: codes(items, f"/answers/{name}") for name, items in raw["answers"].items()}
    answers = CodeIndex()
    for name, items in answer_codes.items():
        for code in items:
            answers.add(code, name)

    observations, observation_index = [], CodeIndex()
    for n, item in enumerate(raw["observations"]):
        where = f"/observations/{n}"
        limit = item.get("upper_limit") or {}
        entry = ObservationEntry(target(item["field"], where), codes(item["codes"], where), item["value"],
                                 dict(item.get("units") or {}),
                                 target(limit["field"], where) if limit else None, limit.get("path"),
                                 bool(item.get("exact")))
        if entry.upper_limit_path:
            from cdss.fhir.paths import compile_path
            try:
                compile_path(entry.upper_limit_path)
            except Exception as bad:  # fhirpathpy's parser raises its own errors
                raise MappingError(f"{source}: {where}/upper_limit/path: not a FHIRPath expression: {bad}") from None
        observations.append(entry)
        for code in entry.codes:
            observation_index.add(code, entry)

    conditions, condition_index = [], CodeIndex()
    for n, item in enumerate(raw["conditions"]):
        where = f"/conditions/{n}"
        entry = ConditionEntry(target(item["field"], where), codes(item["codes"], where), bool(item.get("exact")))
        conditions.append(entry)
        for code in entry.codes:
            condition_index.add(code, entry)

    medications, medication_index = [], CodeIndex()
    for n, item in enumerate(raw["medications"]):
        where = f"/medications/{n}"
        entry = MedicationEntry(target(item["field"], where), codes(item["codes"], where), item["value"],
                                item.get("long_term_days"), bool(item.get("exact")))
        medications.append(entry)
        for code in entry.codes:
            medication_index.add(code, entry)

    treatment_index = CodeIndex()
    for name, items in raw["treatments"].items():
        for code in codes(items, f"/treatments/{name}"):
            treatment_index.add(code, name)

    pros = raw["prostheses"]
    target(pros["field"], "/prostheses/field")
    joints, sides, pros_codes = CodeIndex(), CodeIndex(), {}
    for joint, items in pros["joints"].items():
        pros_codes[joint] = codes(items, f"/prostheses/joints/{joint}")
        for code in pros_codes[joint]:
            joints.add(code, joint)
    for side, items in pros["sides"].items():
        pros_codes[side] = codes(items, f"/prostheses/sides/{side}")
        for code in pros_codes[side]:
            sides.add(code, side)

    studies, study_codes = CodeIndex(), {}
    for study, items in raw["imaging"]["studies"].items():
        target(f"imaging.{study}", f"/imaging/studies/{study}")
        study_codes[study] = codes(items, f"/imaging/studies/{study}")
        for code in study_codes[study]:
            studies.add(code, study)
    findings, finding_codes = CodeIndex(), {}
    for finding, items in raw["imaging"]["findings"].items():
        finding_codes[finding] = codes(items, f"/imaging/findings/{finding}")
        for code in finding_codes[finding]:
            findings.add(code, finding)

    orders = raw["orders"]
    order_codes = {code: codes(items, f"/orders/codes/{code}") for code, items in orders["codes"].items()}
    do_not = CodeIndex()
    for name, items in orders["do_not"].items():
        for code in codes(items, f"/orders/do_not/{name}"):
            do_not.add(code, name)
    nsaids = CodeIndex()
    for route, items in orders["nsaids"].items():
        for code in codes(items, f"/orders/nsaids/{route}"):
            nsaids.add(code, route)

    return Mapping(
        raw=raw, base=raw["base"], systems=systems,
        response_extension=raw["extensions"]["treatment_response"],
        joint_extension=raw["extensions"]["treatment_joint"],
        answers=answers, answer_codes=answer_codes, sex_values=dict(raw["patient"]["sex"]["values"]),
        observations=tuple(observations), observation_index=observation_index,
        conditions=tuple(conditions), condition_index=condition_index,
        medications=tuple(medications), medication_index=medication_index,
        treatment_index=treatment_index, prosthesis_field=pros["field"], prosthesis_joints=joints,
        prosthesis_sides=sides, prosthesis_codes=pros_codes, study_index=studies, study_codes=study_codes,
        finding_index=findings, finding_codes=finding_codes, order_codes=order_codes, do_not_orders=do_not,
        nsaid_orders=nsaids, active_fields=frozenset(fields), pending=tuple(pending))


def load(path: Path | None = None) -> Mapping:
    """The mapping file (the shipped one by default), checked."""
    if path is None:
        return shipped()
    return _read(Path(path))


@functools.cache
def shipped() -> Mapping:
    return _read(MAPPING_FILE)


def _read(path: Path) -> Mapping:
    try:
        with open(path, encoding="utf-8") as handle:
            raw: Any = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as error:
        raise MappingError(f"{path}: cannot read: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise MappingError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: expected a mapping document (an object), got {json.dumps(raw)[:40]}")
    return parse(raw, str(path))
