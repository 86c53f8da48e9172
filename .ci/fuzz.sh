#!/usr/bin/env bash
# A bounded fuzz run of the case loader (issue 5): FUZZ_SECONDS (default 45) of coverage-guided fuzzing
# with atheris, seeded with the shipped cases. A crash is saved under tests/fuzz/regressions/ and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip install -q atheris >/dev/null 2>&1 || { echo "fuzz: atheris cannot be installed here"; exit 1; }
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
find cases -name '*.json' -exec cp {} "$corpus"/ \;
cp tests/fuzz/regressions/* "$corpus"/ 2>/dev/null || true
"$PY" tests/fuzz/fuzz_case_loader.py "$corpus" -max_total_time="${FUZZ_SECONDS:-45}" -max_len=4096 \
  -artifact_prefix=tests/fuzz/regressions/ -print_final_stats=1 2>&1 | tail -n 12
