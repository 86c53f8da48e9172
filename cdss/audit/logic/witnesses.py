"""Witness cases: a case (as data) that realises one model of the solver, so that an answer of "one case
can" comes with a case to evaluate.

The model says which region each field's value lies in, which list items and objects are present, how
field-to-field comparisons and treatment-trial atoms come out; the case takes each region's sample
value, searches the samples near the thresholds until every field-to-field comparison agrees, and
writes treatment trials that make exactly the wanted trial atoms true. When no such values are found
(opaque atoms that cannot be met) there is no witness.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from cdss.audit.logic.formulas import RuleLogic
from cdss.audit.logic.regions import Region
from cdss.kb.conditions import MISSING, Facts, FieldRef, FieldTest, TrialTest, lookup


def _set(data: dict, path: str, value) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _get(data: dict, path: str):
    return lookup(data, path.split("."))


def build_case(logic: RuleLogic, inputs: dict[tuple, bool], case_id: str) -> dict | None:
    space = logic.space
    data: dict[str, Any] = {"id": case_id, "patient": {}}
    chosen: dict[str, Region] = {}
    for key, on in inputs.items():
        if key[0] == "region" and on:
            region = space.regions(key[1])[key[2]]
            chosen[key[1]] = region
            if not region.missing:
                _set(data, key[1], region.value)
    for key, on in sorted(inputs.items(), key=lambda kv: kv[0][1] if kv[0][0] in ("present", "has") else ""):
        if key[0] == "present" and on:
            path = key[1]
            if _get(data, path) is MISSING:
                _set(data, path, [] if space.kind(path) == "array" else {})
    for key, on in inputs.items():
        if key[0] == "has" and on:
            found = _get(data, key[1])
            if found is MISSING:
                found = []
                _set(data, key[1], found)
            found.append(key[2])
    # present objects need their required children (a study needs findings)
    for key, on in inputs.items():
        if key[0] == "present" and on and space.kind(key[1]) == "object":
            for child in space.catalogue[key[1]].get("required", ()):
                path = f"{key[1]}.{child}"
                if _get(data, path) is MISSING:
                    spec = space.catalogue[path]
                    enum = spec.get("items", {}).get("enum", [])
                    _set(data, path, [enum[0]] if enum else [])
    if _get(data, "patient.age_years") is MISSING:
        data["patient"]["age_years"] = 40
    if not _meet_refs(logic, data, inputs, chosen):
        return None
    trials = _trials(logic, inputs)
    if trials is None:
        return None
    if trials:
        data["treatments"] = trials
    return data


def _ref_holds(data: dict, key: tuple) -> bool:
    _, path, op, ref, times, plus = key
    return FieldTest(path, op, FieldRef(ref, times, plus)).test(data)


def _meet_refs(logic: RuleLogic, data: dict, inputs: dict, chosen: dict) -> bool:
    """Pick values inside each field's region so that every field-to-field comparison comes out as the
    model says: try the compared-with fields' samples, and for the compared fields every value near a
    threshold that those samples put in play."""
    wanted = [(key, on) for key, on in inputs.items() if key[0] == "ref"]
    if all(_ref_holds(data, key) == on for key, on in wanted):
        return True
    space = logic.space
    left = sorted({key[1] for key, _ in wanted})
    right = sorted({key[3] for key, _ in wanted} - set(left))

    def candidates(path: str) -> list:
        region = chosen.get(path)
        if region is None:
            if space.always_present(path):
                return [r.value for r in space.regions(path)] + [_get(data, path)]
            return [MISSING]
        return [MISSING] if region.missing else region.samples

    budget = 20000
    for combo in itertools.product(*(candidates(p) for p in right)):
        budget -= 1
        if budget < 0:
            return False
        for path, value in zip(right, combo):
            if value is not MISSING:
                _set(data, path, value)
        for path in left:
            region = chosen.get(path)
            if region is None or region.missing:
                continue
            mine = [(key, on) for key, on in wanted if key[1] == path]
            cuts = set()
            for key, _ in mine:
                other = _get(data, key[3])
                if other is not MISSING:
                    cuts.add(other * key[4] + key[5])
            integer = isinstance(region.samples[0], int) and not isinstance(region.samples[0], bool)
            near = set(region.samples)
            for cut in cuts:
                near.update((cut, cut - 1, cut + 1, cut - 0.01, cut + 0.01, math.floor(cut), math.ceil(cut),
                             math.floor(cut) - 1, math.ceil(cut) + 1))
            for value in sorted(near, key=lambda v: abs(v - region.samples[0])):
                if integer and not float(value).is_integer():
                    continue
                value = int(value) if integer else value
                if not region.contains(value):
                    continue
                _set(data, path, value)
                if all(_ref_holds(data, key) == on for key, on in mine):
                    break
        if all(_ref_holds(data, key) == on for key, on in wanted):
            return True
    return False


def _trials(logic: RuleLogic, inputs: dict) -> list | None:
    """Treatment entries that make exactly the model's trial atoms true."""
    wanted = [(key, on) for key, on in inputs.items() if key[0] == "trial"]
    if not wanted:
        return []
    entries: list[dict] = []

    def ok_so_far(candidate: list[dict]) -> bool:
        case = {"treatments": candidate}
        facts = Facts(case=case, trials=logic.trials)
        return all(on or len(_trial_node(key).matching(facts)) < key[5] for key, on in wanted)

    for key, on in sorted(wanted, key=lambda kv: -kv[0][5]):
        if not on:
            continue
        _, code, joint, outcome, weeks, need = key
        node = _trial_node(key)
        for variant in _trial_variants(code, joint, outcome, weeks):
            trial = dict(variant)
            have = len(node.matching(Facts(case={"treatments": entries}, trials=logic.trials)))
            extra = [dict(trial) for _ in range(max(0, need - have))]
            if ok_so_far(entries + extra):
                entries += extra
                break
        else:
            return None
    facts = Facts(case={"treatments": entries}, trials=logic.trials)
    if all((len(_trial_node(key).matching(facts)) >= key[5]) == on for key, on in wanted):
        return entries
    return None


def _trial_node(key: tuple) -> TrialTest:
    _, code, joint, outcome, weeks, need = key
    return TrialTest(code, joint, outcome, weeks, need)


def _trial_variants(code: str, joint: str | None, outcome: str, weeks: float | None):
    joints = [joint] if joint is not None else ["hip", "knee", "back"]
    shapes = {"failed": [("none", max(weeks or 4, 4) + 8)], "running": [("none", 0), ("good", 0)],
              "good": [("good", 12)], "any": [("good", 12), ("none", 12), ("partial", 0)]}[outcome]
    if outcome == "failed":
        shapes = [("none", (weeks or 0) + 8), ("partial", (weeks or 0) + 8)]
    for j in joints:
        for response, w in shapes:
            yield {"code": code, "weeks": w, "response": response, "joint": j}
    if joint is None:
        for response, w in shapes:
            yield {"code": code, "weeks": w, "response": response}
