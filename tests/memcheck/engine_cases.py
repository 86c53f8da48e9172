"""Evaluate a set of shipped cases that covers every rule shape, for a run under valgrind memcheck.

Run by .ci/memcheck.sh; not collected by pytest. Picks, greedily, cases until every condition shape
(the node kinds in a rule's top-level test: field, fact, condition, red flag, trial, any, not, count,
score, field-vs-field comparison) of every rule that fires in the shipped cases has been exercised.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cdss.io import cases
from cdss import load_knowledge
from cdss.kb.conditions import FieldRef, FieldTest, top_level_tests
from cdss.engine import evaluate

ROOT = Path(__file__).resolve().parents[2]


def shape(rule) -> tuple:
    kinds = []
    for test in top_level_tests(rule.when):
        kind = type(test).__name__
        if isinstance(test, FieldTest):
            kind += ":" + ("vs-field" if isinstance(test.operand, FieldRef) else test.op)
        kinds.append(kind)
    return tuple(sorted(set(kinds)))


def main() -> None:
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    kb = load_knowledge(ROOT / "rules")
    runs = []
    for path in sorted((ROOT / "cases").rglob("*.json")):
        case = cases.read_case(str(path))
        result = evaluate(case, kb)
        runs.append((path, {shape(kb.by_id[t.rule]) for t in result.trace if t.rule in kb.by_id}))
    chosen, covered = [], set()
    while len(chosen) < limit:
        path, shapes = max(runs, key=lambda r: len(r[1] - covered))
        if not shapes - covered:
            break
        chosen.append(path)
        covered |= shapes
    for path in chosen:  # once more, the chosen ones, so the report names them
        evaluate(cases.read_case(str(path)), kb)
    print(f"memcheck: {len(runs)} cases evaluated; {len(chosen)} chosen cover {len(covered)} rule shapes")


if __name__ == "__main__":
    main()
