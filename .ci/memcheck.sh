#!/usr/bin/env bash
# Memory safety of the engine core: evaluate the shipped cases (and a chosen set that covers every rule
# shape) in one process under valgrind memcheck, and fail on any invalid read or write inside
# durable-rules' C core. PYTHONMALLOC=malloc lets valgrind see Python's own allocations.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if ! command -v valgrind >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  else
    echo "memcheck: valgrind is not installed and cannot be installed here"; exit 1
  fi
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# One fixed hash seed, so that a run repeats as far as Python's set and dict order decides it. durable-rules'
# closing retract sometimes reads 4 bytes it should not (deleteMessageFromFrame under retract_facts: with
# PYTHONHASHSEED=3 at 1255e9d, and in one CI run of 249cac7 with a random seed; not with seeds 0-14 on
# 249cac7, nor with seed 3 when the same cases ran from another script, so memory layout plays a part too).
# That read is durable-rules' own, known and open (README, Trust): .ci/durable-rules.supp names it by the call
# chain of that CI run's report (it could not be made to happen again on demand, so the suppression has not
# yet been seen to match), so that it is counted apart and any other invalid read or write still fails.
export PYTHONHASHSEED=${MEMCHECK_HASHSEED:-0}
PYTHONMALLOC=malloc timeout 900 valgrind --tool=memcheck --error-exitcode=0 --num-callers=30 \
  --suppressions=.ci/durable-rules.supp --log-file="$log" "$PY" tests/memcheck/engine_cases.py 20
python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"\n==\d+== \n", text)
bad = [b for b in blocks if re.search(r"Invalid (read|write)", b) and re.search(r"durable|rules\.c|rete\.c|state\.c|events\.c|json\.c", b)]
summary = re.findall(r"ERROR SUMMARY: (\d+) errors", text)
kinds = {}
for kind in re.findall(r"^==\d+== (Invalid \w+ of size \d+|Use of uninitialised value|Conditional jump[^\n]*|Mismatched[^\n]*|Invalid free[^\n]*)", text, re.M):
    kinds[kind] = kinds.get(kind, 0) + 1
known = re.findall(r"ERROR SUMMARY: \d+ errors from \d+ contexts \(suppressed: (\d+) from", text)
known = int(known[-1]) if known else 0  # valgrind's own default suppressions count here too (0 in these runs)
print(f"memcheck: {len(bad)} invalid reads/writes inside durable-rules; valgrind error summary: {summary[-1] if summary else '?'}"
      f"; suppressed (.ci/durable-rules.supp and valgrind's defaults): {known}")
print("memcheck: reports by kind (uninitialised-value reports come from CPython itself under PYTHONMALLOC=malloc):",
      ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())) or "none")
for block in bad[:5]:
    print(block[:2000])
sys.exit(1 if bad else 0)
PY
