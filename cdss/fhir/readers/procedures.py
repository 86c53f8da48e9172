"""Procedures: arthroplasties per joint and side (`joints.prostheses`) and the trials of procedures."""

from __future__ import annotations

from cdss.fhir.building import SKIPPED_STATUS, Builder, source_of, status_of
from cdss.fhir.parse import Resource
from cdss.fhir.readers.medications import read_trial


def read_procedure(builder: Builder, resource: Resource) -> None:
    data = resource.data
    if status_of(data) in SKIPPED_STATUS:
        return
    used = read_trial(builder, resource, data.get("code"))
    joints = builder.mapping.prosthesis_joints.in_concept(data.get("code"))
    if not joints:
        if not used:
            builder.note(resource, "its code is not one the mapping reads")
        return
    sides = builder.mapping.prosthesis_sides.in_concept(data.get("bodySite"))
    if not sides:
        builder.note(resource, "an arthroplasty with no side in bodySite cannot say which joint is a prosthesis")
        return
    for joint in joints:
        for side in sides:
            for one in (("left", "right") if side == "both" else (side,)):
                builder.prostheses.append((f"{joint}_{one}", source_of(resource, "bodySite")))
