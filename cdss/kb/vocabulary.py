"""The contract's vocabulary (`cdss/data/vocabulary.yaml`) is the one source of truth for codes.

The JSON Schemas that name codes (case, result, rule, audit) never hold a hand-copied list: each keeps its
code lists under `$defs` entries that this module writes from the vocabulary, and refers to them with
`$ref`. After editing the vocabulary, run

    python -m cdss.kb.vocabulary --write-schemas

(`--check` says whether the schemas are up to date, as CI and tests/test_vocabulary.py do). The vocabulary
itself is checked by `schemas/vocabulary.schema.json` plus the cross-references JSON Schema cannot state
(`problems`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

from cdss import resources

NOTE = "generated from cdss/data/vocabulary.yaml by `python -m cdss.kb.vocabulary --write-schemas`: do not edit"


def _treatments(v: dict) -> list[str]:
    return [code for code, spec in v["recommendations"].items() if spec["kind"] == "treatment"]


def _icd10(v: dict) -> list[str]:
    return sorted({code for spec in v["conditions"].values() for code in spec["icd10"]})


# $defs name -> the code list it holds, read from the vocabulary.
LISTS: dict[str, Callable[[dict], list]] = {
    "profile": lambda v: list(v["profiles"]),
    "condition_code": lambda v: list(v["conditions"]),
    "red_flag_code": lambda v: list(v["red_flags"]),
    "target_code": lambda v: list(v["conditions"]) + list(v["red_flags"]),
    "recommendation_code": lambda v: list(v["recommendations"]),
    "treatment_code": _treatments,
    "do_not_code": lambda v: list(v["do_not"]),
    "warning_code": lambda v: list(v["warnings"]),
    "any_code": lambda v: list(dict.fromkeys([*v["conditions"], *v["red_flags"], *v["recommendations"],
                                              *v["do_not"], *v["warnings"]])),
    "icd10": _icd10,
    "condition_status": lambda v: list(v["statuses"]["condition"]),
    "red_flag_status": lambda v: list(v["statuses"]["red_flag"]),
    "status": lambda v: list(dict.fromkeys(v["statuses"]["condition"] + v["statuses"]["red_flag"])),
    "urgency": lambda v: list(v["urgencies"]),
    "recommendation_kind": lambda v: list(v["recommendation_kinds"]),
    "treatment_category": lambda v: list(v["treatment_categories"]),
}

# Which generated lists each schema holds under `$defs`.
SCHEMAS: dict[str, tuple[str, ...]] = {
    "case": ("profile", "any_code", "recommendation_code", "treatment_code", "warning_code", "status", "urgency",
             "recommendation_kind"),
    "result": ("profile", "condition_code", "red_flag_code", "target_code", "recommendation_code", "do_not_code",
               "warning_code", "icd10", "condition_status", "red_flag_status", "urgency", "recommendation_kind",
               "treatment_category"),
    "rule": ("profile", "condition_status", "red_flag_status", "urgency", "recommendation_kind",
             "treatment_category"),
    "audit": ("profile",),
}


def generated_defs(vocab: dict, schema_name: str) -> dict[str, dict]:
    """The `$defs` entries of one schema, as the vocabulary makes them."""
    return {name: {"$comment": NOTE, "enum": LISTS[name](vocab)} for name in SCHEMAS[schema_name]}


def render_schema(schema: dict, vocab: dict, schema_name: str) -> str:
    """The schema's text with its generated `$defs` rewritten (other entries keep their place and order)."""
    defs = dict(schema.get("$defs", {}))
    defs.update(generated_defs(vocab, schema_name))
    out = dict(schema)
    out["$defs"] = defs
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def schema_path(schema_name: str) -> Path:
    return resources.SCHEMA_DIR / f"{schema_name}.schema.json"


def stale_schemas(vocab: dict | None = None) -> list[str]:
    """The schemas whose generated code lists differ from the vocabulary (empty: all up to date)."""
    vocab = vocab if vocab is not None else resources.vocabulary()
    stale = []
    for name in SCHEMAS:
        path = schema_path(name)
        text = path.read_text(encoding="utf-8")
        if render_schema(json.loads(text), vocab, name) != text:
            stale.append(str(path))
    return stale


def write_schemas(vocab: dict | None = None) -> list[str]:
    """Rewrite the generated code lists of every schema; returns the files that changed."""
    vocab = vocab if vocab is not None else resources.vocabulary()
    changed = []
    for name in SCHEMAS:
        path = schema_path(name)
        text = path.read_text(encoding="utf-8")
        new = render_schema(json.loads(text), vocab, name)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(str(path))
    return changed


def problems(vocab: dict | None = None) -> list[str]:
    """Everything wrong with the vocabulary: what its schema refuses, then the cross-references."""
    import jsonschema
    vocab = vocab if vocab is not None else resources.vocabulary()
    validator = jsonschema.Draft202012Validator(resources.schema("vocabulary"))
    out = [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
           for e in sorted(validator.iter_errors(vocab), key=lambda e: list(map(str, e.absolute_path)))]
    if out:
        return out
    kinds, categories = vocab["recommendation_kinds"], vocab["treatment_categories"]
    for code, spec in vocab["recommendations"].items():
        if spec["kind"] not in kinds:
            out.append(f"/recommendations/{code}/kind: {spec['kind']!r} is not one of the recommendation_kinds")
        if spec["kind"] == "treatment" and spec.get("category") not in categories:
            out.append(f"/recommendations/{code}/category: a treatment needs one of the treatment_categories")
        if spec["kind"] != "treatment" and "category" in spec:
            out.append(f"/recommendations/{code}/category: only a treatment has a category")
    for code, spec in vocab["conditions"].items():
        if spec["default_icd10"] not in spec["icd10"]:
            out.append(f"/conditions/{code}/default_icd10: {spec['default_icd10']!r} is not among its icd10 codes")
    statuses = set(vocab["statuses"]["condition"]) | set(vocab["statuses"]["red_flag"])
    for status in sorted(statuses - set(vocab["status_labels"])):
        out.append(f"/status_labels: the status {status!r} has no label")
    for study in vocab["imaging_studies"]:
        if study not in vocab["recommendations"]:
            out.append(f"/imaging_studies: {study!r} is not a recommendation code")
    seen: dict[str, str] = {}
    for name in ("conditions", "red_flags", "recommendations", "do_not", "warnings"):
        for code in vocab[name]:
            if code in seen:
                out.append(f"/{name}/{code}: also a code of {seen[code]}: a code names one thing")
            seen.setdefault(code, name)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["--write-schemas"], ["--check"]):
        print("usage: python -m cdss.kb.vocabulary --write-schemas | --check", file=sys.stderr)
        return 2
    wrong = problems()
    if wrong:
        for line in wrong:
            print(f"{resources.VOCABULARY_FILE}: {line}", file=sys.stderr)
        return 1
    if args == ["--check"]:
        stale = stale_schemas()
        for path in stale:
            print(f"{path}: its code lists differ from the vocabulary; run "
                  "`python -m cdss.kb.vocabulary --write-schemas`", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas():
        print(f"wrote {path}")
        if path.endswith("case.schema.json"):  # its check generated ahead of time (cdss/io/casecheck.py)
            print("  the shipped case schema? then also run `python -m cdss.io.casecheck`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
