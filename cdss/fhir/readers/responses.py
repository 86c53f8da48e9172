"""QuestionnaireResponses to the cdss Questionnaire: what the coded resources leave open."""

from __future__ import annotations

from cdss.fhir.building import Builder, Candidate, Source, time_key
from cdss.fhir.parse import Resource


def read_responses(builder: Builder, responses: list[Resource]) -> None:
    from cdss.fhir.questionnaire import read_response

    responses.sort(key=lambda r: time_key(r.data, "authored"), reverse=True)  # the latest answer first
    for resource in responses:
        answers = read_response(builder.mapping, resource, builder.origin)
        if answers is None:
            builder.note(resource, "it answers another questionnaire")
            continue
        for path, value, element, pointer in answers.fields:
            source = Source(resource.ref, element, resource.pointer + pointer)
            if path.startswith("imaging.") and path.endswith(".findings"):
                study = path.split(".")[1]
                if study not in builder.studies:
                    builder.studies[study] = Candidate(value, (float("-inf"),), source)
                continue
            if path == builder.mapping.prosthesis_field:
                if not builder.prostheses and builder.prostheses_answered is None:
                    builder.prostheses.extend((code, source) for code in value)
                    builder.prostheses_answered = source
                continue
            if path not in builder.values:
                builder.values[path] = Candidate(value, (float("-inf"),), source)
        if answers.trials and not builder.trials:
            builder.trials.extend((trial, Source(resource.ref, element, resource.pointer + pointer))
                                  for trial, element, pointer in answers.trials)
