"""One source of truth for the vocabulary (issue 8, item 3): the schemas' code lists are generated from
cdss/data/vocabulary.yaml and cannot drift from it; the vocabulary is checked by the schema it names."""

from __future__ import annotations

import json
import re

import pytest

from cdss import resources
from cdss.kb import vocabulary
from cdss.model import PROFILES
from tests.helpers.paths import ROOT


def test_the_vocabulary_names_a_schema_that_exists_and_passes_it():
    header = resources.VOCABULARY_FILE.read_text(encoding="utf-8").split("\n\n")[0]
    named = re.search(r"schemas/([a-z_]+)\.schema\.json", header)
    assert named, "the vocabulary's header names its schema"
    assert (ROOT / "schemas" / f"{named.group(1)}.schema.json").is_file()
    assert vocabulary.problems() == []


def test_the_schemas_code_lists_are_generated_from_the_vocabulary():
    """Fails when the vocabulary changed and `python -m cdss.kb.vocabulary --write-schemas` was not run."""
    assert vocabulary.stale_schemas() == []
    assert vocabulary.main(["--check"]) == 0


def _inline_enums(node, where=""):
    if isinstance(node, dict):
        if "enum" in node and not where.startswith("/$defs/") or ("enum" in node and "$comment" not in node):
            yield where, node["enum"]
        for key, value in node.items():
            yield from _inline_enums(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _inline_enums(value, f"{where}/{i}")


@pytest.mark.parametrize("name", sorted(vocabulary.SCHEMAS))
def test_no_schema_holds_a_hand_copied_code_list(name):
    """Every enum that lists a vocabulary code is a generated $defs entry, referred to with $ref."""
    vocab = resources.vocabulary()
    codes = {code for lister in vocabulary.LISTS.values() for code in lister(vocab)}
    schema = json.loads(vocabulary.schema_path(name).read_text(encoding="utf-8"))
    copied = [(where, values) for where, values in _inline_enums(schema)
              if codes & {v for v in values if isinstance(v, str)} - {"none", "normal", "good", "partial"}]
    assert copied == [], f"hand-copied code lists in {name}.schema.json: {copied}"


def test_a_changed_vocabulary_is_seen_as_drift(tmp_path, monkeypatch):
    """The check is not vacuous: a code added to the vocabulary makes every schema that lists it stale."""
    vocab = json.loads(json.dumps(resources.vocabulary()))
    vocab["do_not"]["homeopathy"] = {"label": {"en": "Homeopathy", "nl": "Homeopathie"}}
    assert {p.split("/")[-1] for p in vocabulary.stale_schemas(vocab)} == {"case.schema.json", "result.schema.json"}
    for name in vocabulary.SCHEMAS:
        (tmp_path / f"{name}.schema.json").write_text(vocabulary.schema_path(name).read_text(encoding="utf-8"))
    monkeypatch.setattr(resources, "SCHEMA_DIR", tmp_path)
    assert vocabulary.write_schemas(vocab)
    result = json.loads((tmp_path / "result.schema.json").read_text(encoding="utf-8"))
    assert "homeopathy" in result["$defs"]["do_not_code"]["enum"]
    assert vocabulary.stale_schemas(vocab) == []


@pytest.mark.parametrize("change, message", [
    (lambda v: v["recommendations"]["ice"].update(kind="massage"), "is not one of the recommendation_kinds"),
    (lambda v: v["conditions"]["gout"].update(default_icd10="M10.0"), "is not among its icd10 codes"),
    (lambda v: v["do_not"]["glucosamine"]["label"].pop("nl"), "'nl' is a required property"),
    (lambda v: v["warnings"].update(gout={"label": {"en": "x", "nl": "y"}}), "a code names one thing"),
])
def test_the_vocabulary_check_refuses(change, message):
    vocab = json.loads(json.dumps(resources.vocabulary()))
    change(vocab)
    assert any(message in line for line in vocabulary.problems(vocab)), vocabulary.problems(vocab)


def test_profiles_are_the_vocabularys():
    from cdss.cli import config, options
    assert PROFILES == tuple(resources.vocabulary()["profiles"]) == options.PROFILES == config.PROFILES
