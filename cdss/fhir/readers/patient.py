"""Patient: the age at the evaluation date (from birthDate) and the sex."""

from __future__ import annotations

from cdss.fhir import dates
from cdss.fhir.building import Builder, source_of
from cdss.fhir.parse import FhirError, Resource


def read_patient(builder: Builder, patient: Resource) -> None:
    data = patient.data
    birth = data.get("birthDate")
    if birth is not None:
        born = dates.parse(birth)
        if born is None:
            raise FhirError(builder.origin, patient.pointer + "/birthDate", f"{patient.ref}: birthDate: not a FHIR date")
        if born.date() > builder.as_of:
            raise FhirError(builder.origin, patient.pointer + "/birthDate",
                            f"{patient.ref}: birthDate {birth} is after the evaluation date {builder.as_of}")
        builder.offer("patient.age_years", dates.age_years(born.date(), builder.as_of), (0,),
                      source_of(patient, "birthDate"))
    gender = data.get("gender")
    if gender is not None:
        sex = builder.mapping.sex_values.get(gender)
        if sex is None:
            raise FhirError(builder.origin, patient.pointer + "/gender",
                            f"{patient.ref}: gender: expected one of {', '.join(builder.mapping.sex_values)}; got {gender!r}")
        builder.offer("patient.sex", sex, (0,), source_of(patient, "gender"))
