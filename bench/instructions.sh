#!/usr/bin/env bash
# Instructions per case, counted by valgrind callgrind: unlike seconds, the count does not depend on what
# else this shared machine is doing, so two versions compare exactly, and the ratios to the floor stand
# in for issue 12's time targets when the machine is too loaded to time anything. Counts N=250 and N=50
# synthetic cases and divides the difference by 200, so start-up and rule compilation drop out.
#   floor:   json.loads + validation with a jsonschema Draft 2020-12 validator built once (bench/bench.py's)
#   durable, direct: a batch worker's whole work per case (decode, validate, evaluate, encode a line)
#   bash bench/instructions.sh                  # all three and the ratios (needs valgrind, cdss on PATH)
#   MODES=durable bash bench/instructions.sh    # only some of them
#   RULES=/path/to/rules bash bench/instructions.sh   # another rule base (e.g. bench/scaled_rules.py's)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cdss synth --n 250 --seed 7 -o "$work/cases.jsonl" >/dev/null 2>&1
# The loader's cache (validation markers, read rule files) in a folder of this run's own, filled before
# counting: else the first count would fill it and the two counts would differ by more than the cases.
export CDSS_CACHE="$work/cache"
"$python" -c 'import os; from cdss.kb.loader import load; load(os.environ.get("RULES") or None)'
cat > "$work/run.py" <<'PY'
import json, os, sys
lines = open(sys.argv[1], "rb").read().splitlines()[: int(sys.argv[2])]
mode = sys.argv[3]
if mode == "floor":
    import jsonschema
    from cdss import resources
    validator = jsonschema.Draft202012Validator(resources.schema("case"))
    for raw in lines:
        validator.validate(json.loads(raw))
else:
    from cdss.batch.worker import BatchWorker, Options
    from cdss.io.inputs import Item
    from cdss.kb.loader import load
    worker = BatchWorker(load(os.environ.get("RULES") or None), Options(engine=mode))
    for number, raw in enumerate(lines, 1):
        worker(Item(source="bench", line=number, raw=raw))
PY
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" "$work/run.py" "$work/cases.jsonl" "$1" "$2" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
declare -A per_case
for mode in ${MODES:-floor durable direct}; do
  small=$(count 50 "$mode"); large=$(count 250 "$mode")
  per_case[$mode]=$(( (large - small) / 200 ))
  echo "$mode: ${per_case[$mode]} instructions per case"
done
if [[ -n "${per_case[floor]:-}" ]]; then
  for mode in durable direct; do
    [[ -n "${per_case[$mode]:-}" ]] && echo "$mode / floor: $(python3 -c "print(f'{${per_case[$mode]} / ${per_case[floor]}:.2f}')")x"
  done
fi
echo "(callgrind, N=250 minus N=50, synth seed 7, rules ${RULES:-shipped}; $here)"
