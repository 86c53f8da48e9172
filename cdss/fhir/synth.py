"""`cdss synth --format fhir`: the same synthetic patients as `cdss synth`, each written as one FHIR Bundle
per NDJSON line (coded resources where the mapping has an exact code, a QuestionnaireResponse for the rest)."""

from __future__ import annotations

import json
from typing import Iterator

from cdss.fhir import writer
from cdss.fhir.mapping import shipped
from cdss.synth.generate import generate

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def lines(n: int, seed: int = 0) -> Iterator[str]:
    mapping = shipped()
    for case in generate(n, seed):
        yield _ENCODE(writer.to_bundle(case, mapping)) + "\n"
