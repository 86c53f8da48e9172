"""The label of a code, in English and Dutch, from the contract's vocabulary (cdss/data/vocabulary.yaml).

A result item carries its code's label in the output language; the text output shows labels, urgency
and status words, never the codes themselves. Every code has both labels (schemas/vocabulary.schema.json
requires them; `cdss audit rules` fails a code without them).
"""

from __future__ import annotations

import functools

from cdss import resources
from cdss.model import Text

# Where each kind of code lives in the vocabulary.
SECTIONS = ("conditions", "red_flags", "recommendations", "do_not", "warnings", "urgencies", "profiles")


@functools.cache
def _table() -> dict[tuple[str, str], Text]:
    vocab = resources.vocabulary()
    table = {(section, code): Text(**spec["label"]) for section in SECTIONS
             for code, spec in vocab[section].items()}
    table.update({("statuses", status): Text(**label) for status, label in vocab["status_labels"].items()})
    return table


def label(section: str, code: str) -> Text | None:
    """The label of a code of one section (conditions, red_flags, ..., urgencies, statuses, profiles)."""
    return _table().get((section, code))


def target(code: str) -> Text | None:
    """The label of what a `for` names: a condition or a red flag."""
    return label("conditions", code) or label("red_flags", code)


def words(section: str, code: str, lang: str) -> str | None:
    found = label(section, code)
    return None if found is None else found.pick(lang)
