#!/usr/bin/env bash
# Instructions per case of a batch worker's work (decode, validate, evaluate, encode), counted by valgrind
# callgrind: unlike seconds, the count does not depend on what else this shared machine is doing, so two
# versions of the engine compare exactly. Counts N=250 and N=50 synthetic cases and divides the
# difference by 200, so start-up and rule compilation drop out.
#   bash bench/instructions.sh            # needs valgrind and the project installed (cdss on PATH)
#   ENGINE=direct bash bench/instructions.sh   # the direct engine (default: durable)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cdss synth --n 250 --seed 7 -o "$work/cases.jsonl" >/dev/null 2>&1
cat > "$work/run.py" <<'PY'
import os, sys
from cdss.batch.worker import BatchWorker, Options
from cdss.io.inputs import Item
from cdss.kb.loader import load
lines = open(sys.argv[1], "rb").read().splitlines()[: int(sys.argv[2])]
worker = BatchWorker(load(None), Options(engine=os.environ.get("ENGINE", "durable")))
for number, raw in enumerate(lines, 1):
    worker(Item(source="bench", line=number, raw=raw))
PY
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" "$work/run.py" "$work/cases.jsonl" "$1" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
small=$(count 50); large=$(count 250)
echo "instructions per case: $(( (large - small) / 200 )) (engine ${ENGINE:-durable}; callgrind, N=250 minus N=50, synth seed 7; $here)"
