"""Where the shipped data lives: the JSON Schemas, the default rule folder and the contract vocabulary.

In a checkout (`pip install -e .`) they are the checkout's own `schemas/` and `rules/`, so that an edit is
seen at once. An installed wheel carries copies as package data under `cdss/data/` (setup.py puts them
there), so cdss works from any folder. `CDSS_HOME` names another home (a folder with `schemas/` and
`rules/`, and a `vocabulary.yaml` where its codes differ from the shipped ones); `CDSS_RULES` another
default rule folder. `--rules DIR` overrides both.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(__file__).parent / "data"  # the package data (importlib.resources would say the same for a
# package on disk, and importing it was ~1 % of a cold `cdss evaluate`)


def _home() -> Path:
    if os.environ.get("CDSS_HOME"):
        return Path(os.environ["CDSS_HOME"])
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "rules").is_dir() and (checkout / "schemas").is_dir():
        return checkout
    return DATA_DIR


HOME = _home()
SCHEMA_DIR = HOME / "schemas"
SHIPPED_RULES_DIR = HOME / "rules"  # the shipped rules (and phrase catalogue), whatever CDSS_RULES says
DEFAULT_RULES_DIR = Path(os.environ["CDSS_RULES"]) if os.environ.get("CDSS_RULES") else SHIPPED_RULES_DIR
VOCABULARY_FILE = HOME / "vocabulary.yaml" if (HOME / "vocabulary.yaml").is_file() else DATA_DIR / "vocabulary.yaml"


def schema_bytes(name: str) -> bytes:
    return (SCHEMA_DIR / f"{name}.schema.json").read_bytes()


@functools.cache
def schema(name: str) -> dict:
    """A JSON Schema by short name: 'case', 'result', 'rule', 'knowledge_base', 'audit', 'vocabulary'."""
    return json.loads(schema_bytes(name))


@functools.cache
def vocabulary() -> dict:
    """The contract's code lists (conditions, red flags, recommendations, do-nots)."""
    from cdss.kb.yamlcache import Cache, default_folder

    folder = default_folder()
    return read_vocabulary(VOCABULARY_FILE, Cache(folder) if folder is not None else None)


def read_vocabulary(path: Path, cache=None) -> dict:
    """A vocabulary file's data, read with libyaml's safe loader when present (the pure-Python one took
    ~60 ms of every cold start); with a `cache` (cdss.kb.yamlcache.Cache), bytes read before are taken from
    it as JSON, so that a warm start imports no PyYAML (~0.1 G instructions of a cold `cdss evaluate`)."""
    raw = Path(path).read_bytes()
    if cache is not None:
        found = cache.get_data(raw, Path(__file__))
        if found is not None:
            return found
    import yaml

    data = yaml.load(raw.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if cache is not None:
        cache.put_data(raw, Path(__file__), data)
    return data


_DOLLAR = re.compile(r"(?<!\\)\$")  # an unescaped `$`


def _full_match_pattern(validator, pattern, instance, schema):
    """`pattern` as JSON Schema defines it (ECMA-262): `$` is the end of the string. Python's `$` also
    matches before a final newline, which let an id such as "a\\n" pass; fastjsonschema already reads
    `$` as `\\Z`, and so does this."""
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        import jsonschema
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(_DOLLAR.sub(r"\\Z", pattern))


@functools.cache
def _validator_class():
    import jsonschema
    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _full_match_pattern})


def validator_for(schema: dict):
    """A Draft 2020-12 validator of this schema with ECMA-262 `pattern` semantics (see above): every
    schema of cdss is checked through this."""
    return _validator_class()(schema)
