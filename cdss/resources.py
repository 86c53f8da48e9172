"""Where the shipped data lives: schemas, the default rule folder and the contract vocabulary.

The package runs from a checkout (`pip install -e .`); `CDSS_HOME` points elsewhere if needed.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
HOME = Path(os.environ.get("CDSS_HOME", PACKAGE_DIR.parent))
SCHEMA_DIR = HOME / "schemas"
DEFAULT_RULES_DIR = Path(os.environ["CDSS_RULES"]) if os.environ.get("CDSS_RULES") else HOME / "rules"
VOCABULARY_FILE = PACKAGE_DIR / "data" / "vocabulary.yaml"


@functools.cache
def schema(name: str) -> dict:
    """A JSON Schema from `schemas/` by short name: 'case', 'result', 'rule', 'knowledge_base'."""
    with open(SCHEMA_DIR / f"{name}.schema.json", encoding="utf-8") as handle:
        return json.load(handle)


@functools.cache
def vocabulary() -> dict:
    """The contract's code lists (conditions, red flags, recommendations, do-nots). Read with libyaml's safe
    loader when present: the pure-Python one took ~60 ms of every cold start."""
    with open(VOCABULARY_FILE, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
