#!/usr/bin/env python3
"""Write a scaled rule base: the shipped pathways plus renamed copies, firing or dormant.

    python bench/scaled_rules.py OUT --times 10                  # 10x: 9 copies, half of them dormant
    python bench/scaled_rules.py OUT --times 5 --dormant 0       # 5x, every copy fires
    python bench/scaled_rules.py OUT --times 5 --dormant 4       # 5x, every copy dormant

A copy renames every rule id, pathway and derived fact (`derived.adult` -> `x3.derived.adult`), so its
rules chain among themselves exactly as the originals do and fire on the same cases (a firing copy). A
dormant copy also needs a fact in every rule's top-level `all` that only an impossible rule asserts
(`x3.dormant`, asserted for a negative age): its rules can never fire, and on a good engine they cost (close to) nothing per case. Conditions, red flags
and recommendations keep their codes (the contract's vocabulary), so firing copies add their rule ids to
the same result items. Used by bench/scaling.py and by the slow engine tests.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "knowledge_base.yaml"
PHRASES = "phrases.yaml"  # the folder's phrase catalogue: data, copied once, never scaled


def _rename_facts(node, prefix: str):
    """The condition or conclusion tree with every derived fact name prefixed."""
    if isinstance(node, list):
        return [_rename_facts(item, prefix) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("fact", "assert") and isinstance(value, str):
            out[key] = f"{prefix}.{value}"
        else:
            out[key] = _rename_facts(value, prefix)
    return out


def _copy_rule(rule: dict, number: int, dormant: bool) -> dict:
    prefix = f"x{number}"
    out = dict(rule)
    head, _, rest = rule["id"].partition(".")
    out["id"] = f"{head}_{prefix}.{rest}"
    out["when"] = _rename_facts(rule["when"], prefix)
    out["then"] = _rename_facts(rule["then"], prefix)
    if dormant:
        out["when"] = {"all": [{"fact": f"{prefix}.dormant"}, out["when"]]}
    return out


def _impossible(number: int) -> dict:
    """The rule that asserts a dormant copy's gate fact, for a case that cannot exist."""
    return {"id": f"derived_x{number}.dormant", "title": {"en": "Never (scaled rule base)", "nl": "Nooit"},
            "status": "draft", "sources": ["clinical consensus"],
            "when": {"field": "patient.age_years", "lt": -1}, "then": [{"assert": f"x{number}.dormant"}],
            "rationale": {"en": "Keeps a benchmark copy dormant.", "nl": "Houdt een benchmarkkopie slapend."}}


def write_scaled(out: Path, times: int, dormant: int | None = None, source: Path = ROOT / "rules") -> dict:
    """Write `times` x the rule base in `source` to `out` (the original once, `times - 1` copies, the last
    `dormant` of them dormant; by default half, rounded down). Returns counts for reporting."""
    copies = times - 1
    dormant = copies // 2 if dormant is None else dormant
    if not 0 <= dormant <= copies:
        raise ValueError(f"dormant copies must be between 0 and {copies}")
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in source.glob("*.yaml") if p.name not in (MANIFEST, PHRASES))
    shutil.copyfile(source / MANIFEST, out / MANIFEST)
    if (source / PHRASES).is_file():
        shutil.copyfile(source / PHRASES, out / PHRASES)
    counts = {"rules": 0, "firing_rules": 0, "dormant_rules": 0, "original_rules": 0}
    for path in files:
        shutil.copyfile(path, out / path.name)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        counts["original_rules"] += len(data["rules"])
        for number in range(1, copies + 1):
            is_dormant = number > copies - dormant
            copy = dict(data)
            copy["pathway"] = f"{data.get('pathway', path.stem)}_x{number}"
            copy["rules"] = [_copy_rule(rule, number, is_dormant) for rule in data["rules"]]
            if is_dormant and path.stem == "derived":
                copy["rules"].append(_impossible(number))
            (out / f"{path.stem}_x{number}.yaml").write_text(
                yaml.safe_dump(copy, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
            counts["dormant_rules" if is_dormant else "firing_rules"] += len(data["rules"])
    counts["rules"] = counts["original_rules"] + counts["firing_rules"] + counts["dormant_rules"]
    return counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a new folder for the scaled rule base")
    parser.add_argument("--times", type=int, default=10, help="the rule base's size as a multiple of the shipped one")
    parser.add_argument("--dormant", type=int, default=None, help="how many of the times-1 copies are dormant (default: half)")
    parser.add_argument("--rules", type=Path, default=ROOT / "rules", help="the rule base to scale")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"scaled_rules: {args.out} is not empty")
    counts = write_scaled(args.out, args.times, args.dormant, args.rules)
    print(f"{counts['rules']} rules in {args.out}: {counts['original_rules']} shipped, "
          f"{counts['firing_rules']} in firing copies, {counts['dormant_rules']} in dormant copies")


if __name__ == "__main__":
    main()
