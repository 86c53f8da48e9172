#!/usr/bin/env python3
"""Benchmark cdss in one run, against a floor measured in the same run (this machine is shared and noisy).

    python bench/bench.py                          # N = 1,000, 10,000, 100,000; both engines
    python bench/bench.py --sizes 10000            # quicker
    python bench/bench.py --sizes 10000 --stream 10000 1000000   # + peak RSS of a streamed batch at 10k and 1M

For each N, on the same synthetic cases (`cdss synth`):
  (a) floor: read + json.loads + validation with a jsonschema Draft 2020-12 validator built once
      (a fixed reference, whatever validator the product itself uses);
  (b) evaluate() in one process after warm-up (median per case, and cases/s), per engine;
  (c) `cdss batch --jobs 1` per engine;  (d) `cdss batch --jobs 2` per engine;
and the peak RSS of each batch run (largest process), and once the cold wall time of `cdss evaluate`.
(a), (c) and (d) run side by side in rounds (`--rounds`, 3 by default); each ratio is the median of the
rounds' own ratios, and every round's is printed.
`--stream` pipes `cdss synth --n N` into `cdss batch -` (nothing on disk) and reports the batch's peak RSS
for each N: memory must stay flat however many cases stream through. Figures are cases/s and ratios to
the floor. Never run as a test.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDSS = [sys.executable, "-m", "cdss.cli"]
ENGINES = ("durable", "direct")
# issue 12: -j1 within 3.5x of the floor on durable-rules, 2x on the direct engine; -j2 >= 1.8x -j1;
# evaluate() median <= 0.3 ms on the direct engine; peak RSS flat (within 10 %); cold evaluate <= 0.3 s.
TARGETS = {"durable_jobs1_within_floor": 3.5, "direct_jobs1_within_floor": 2.0, "jobs2_over_jobs1": 1.8,
           "direct_evaluate_median_ms": 0.3, "rss_growth": 0.10, "cold_evaluate_s": 0.3}


def make_cases(n: int, seed: int, folder: Path, source: str) -> Path:
    path = folder / f"cases-{n}.jsonl"
    if source == "synth":
        subprocess.run(CDSS + ["synth", "--n", str(n), "--seed", str(seed), "-o", str(path)], check=True)
        return path
    shipped = [json.loads(p.read_text()) for p in sorted((ROOT / "cases").rglob("*.json"))]
    with open(path, "w") as handle:
        for i in range(n):
            case = dict(shipped[i % len(shipped)])
            case.pop("expected", None)
            case["id"] = f"bench-{i:07d}"
            handle.write(json.dumps(case) + "\n")
    return path


def floor(path: Path) -> float:
    import jsonschema
    validator = jsonschema.Draft202012Validator(json.loads((ROOT / "schemas" / "case.schema.json").read_text()))
    start = time.perf_counter()
    count = 0
    with open(path, "rb") as handle:
        for line in handle:
            validator.validate(json.loads(line))
            count += 1
    return count / (time.perf_counter() - start)


def in_process(path: Path, limit: int, engine: str) -> tuple[float, float]:
    from cdss import load_knowledge
    from cdss.engine import evaluator_for
    from cdss.io import cases
    kb = load_knowledge()
    evaluate = evaluator_for(kb, engine).evaluate
    loaded = []
    with open(path, "rb") as handle:
        for number, line in enumerate(handle):
            if number >= limit:
                break
            loaded.append(cases.case_from_dict(json.loads(line), str(path)))
    for case in loaded[:200]:
        evaluate(case)  # warm-up
    times = []
    start = time.perf_counter()
    for case in loaded:
        t = time.perf_counter()
        evaluate(case)
        times.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    return statistics.median(times) * 1000, len(loaded) / total


PROBE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
         "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
         "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)")


def batch(path: Path, jobs: int, n: int, engine: str) -> tuple[float, int]:
    """cases/s of a whole `cdss batch` run, and the peak RSS (KiB) of its largest process."""
    out = subprocess.run([sys.executable, "-c", PROBE] + CDSS + ["batch", str(path), "--jobs", str(jobs), "-q",
                                                                  "--engine", engine, "-o", os.devnull],
                         capture_output=True, text=True, check=True).stdout.split()
    seconds, rss, code = float(out[0]), int(out[1]), int(out[2])
    if code not in (0, 1):
        raise SystemExit(f"cdss batch failed with exit code {code}")
    return n / seconds, rss


def streamed(n: int, seed: int, jobs: int, engine: str) -> tuple[float, int]:
    """`cdss synth --n N | cdss batch - --jobs J`: cases/s and the batch's peak RSS (KiB), nothing on disk."""
    shell = (f"{' '.join(CDSS)} synth --n {n} --seed {seed} | "
             f"{' '.join(CDSS)} batch - --jobs {jobs} --engine {engine} -q -o {os.devnull}")
    out = subprocess.run([sys.executable, "-c", PROBE, "bash", "-o", "pipefail", "-c", shell],
                         capture_output=True, text=True, check=True).stdout.split()
    seconds, rss, code = float(out[0]), int(out[1]), int(out[2])
    if code not in (0, 1):
        raise SystemExit(f"streamed batch failed with exit code {code}")
    return n / seconds, rss


def cold_evaluate(runs: int = 7) -> float:
    """The wall time of `cdss evaluate CASE` as a user runs it (the installed `cdss` script when there is
    one): a new process each time, median of `runs`. One run first, not counted, leaves what a first run
    leaves: the loader's cache of read and validated rule files, and byte-compiled modules (an installed
    package has them; PYTHONDONTWRITEBYTECODE is dropped for this run so that a checkout gets them too)."""
    case = sorted((ROOT / "cases" / "osteoarthritis").glob("*.json"))[0]
    command = [str(Path(sys.executable).parent / "cdss"), "evaluate", str(case)]
    if not Path(command[0]).exists():
        command = CDSS + ["evaluate", str(case)]
    warm = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=warm)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _listed(ratios: list[float]) -> str:
    return ", ".join(f"{r:.2f}" for r in ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", choices=["synth", "shipped"], default="synth")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--rounds", type=int, default=3,
                        help="the floor and the batch runs, side by side, this many times (ratios: medians)")
    parser.add_argument("--in-process-limit", type=int, default=20000,
                        help="cases held in memory for (b); larger N reuse this many")
    parser.add_argument("--stream", type=int, nargs="*", default=[],
                        help="also stream this many synthetic cases through `cdss batch -` (peak RSS)")
    parser.add_argument("--stream-engine", choices=ENGINES, default="durable")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    # Every timed run uses the package byte-compiled, as an installed package has it: a checkout run with
    # PYTHONDONTWRITEBYTECODE (set on the machines here) compiled its modules from source at every start,
    # ~0.1 s of each batch's start, where the 10,000-case batches take 2-10 s.
    import cdss
    compileall.compile_dir(str(Path(cdss.__file__).parent), quiet=1)
    figures: dict = {"sizes": {}, "stream": {}}
    print(f"cdss benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            path = make_cases(n, args.seed, Path(folder), args.source)
            evaluated = {engine: in_process(path, min(n, args.in_process_limit), engine) for engine in args.engines}
            # Rounds side by side: the floor, then each engine's -j1 and -j2, again and again; each ratio is
            # the median of the rounds' own ratios, so that a burst of load on this shared machine moves one
            # round, not the verdict.
            rounds = []
            for _ in range(args.rounds):
                base = floor(path)
                rounds.append((base, {engine: (batch(path, 1, n, engine), batch(path, 2, n, engine))
                                      for engine in args.engines}))
            base = statistics.median(b for b, _ in rounds)
            row: dict = {"floor_cases_per_s": round(base), "rounds": args.rounds}
            parts = [f"N={n:>7}: floor {base:,.0f}/s (median of {args.rounds} rounds)"]
            for engine in args.engines:
                median_ms, eval_rate = evaluated[engine]
                over1 = [b / runs[engine][0][0] for b, runs in rounds]
                over2 = [b / runs[engine][1][0] for b, runs in rounds]
                two_one = [runs[engine][1][0] / runs[engine][0][0] for _, runs in rounds]
                jobs1 = statistics.median(runs[engine][0][0] for _, runs in rounds)
                jobs2 = statistics.median(runs[engine][1][0] for _, runs in rounds)
                rss1 = max(runs[engine][0][1] for _, runs in rounds)
                rss2 = max(runs[engine][1][1] for _, runs in rounds)
                row[engine] = {"evaluate_median_ms": round(median_ms, 3), "evaluate_cases_per_s": round(eval_rate),
                               "jobs1_cases_per_s": round(jobs1), "jobs2_cases_per_s": round(jobs2),
                               "peak_rss_kib_jobs1": rss1, "peak_rss_kib_jobs2": rss2,
                               "floor_over_jobs1": round(statistics.median(over1), 2),
                               "floor_over_jobs2": round(statistics.median(over2), 2),
                               "jobs2_over_jobs1": round(statistics.median(two_one), 2),
                               "rounds_floor_over_jobs1": [round(r, 2) for r in over1],
                               "rounds_jobs2_over_jobs1": [round(r, 2) for r in two_one]}
                parts.append(f"{engine}: evaluate {eval_rate:,.0f}/s (median {median_ms:.3f} ms) | "
                             f"-j1 {jobs1:,.0f}/s ({statistics.median(over1):.2f}x the floor's time; rounds "
                             f"{_listed(over1)}) | -j2 {jobs2:,.0f}/s ({statistics.median(two_one):.2f}x -j1; "
                             f"rounds {_listed(two_one)}) | RSS {rss1 / 1024:.0f} MiB")
            figures["sizes"][n] = row
            print("\n  ".join(parts), flush=True)
    for n in args.stream:
        rate, rss = streamed(n, args.seed, 2, args.stream_engine)
        figures["stream"][n] = {"cases_per_s": round(rate), "peak_rss_kib": rss}
        print(f"streamed N={n:>9,} through `cdss batch - -j 2 --engine {args.stream_engine}`: {rate:,.0f}/s, "
              f"peak RSS {rss / 1024:.0f} MiB", flush=True)
    if len(figures["stream"]) >= 2:
        low, high = min(figures["stream"]), max(figures["stream"])
        growth = figures["stream"][high]["peak_rss_kib"] / figures["stream"][low]["peak_rss_kib"] - 1
        figures["stream_rss_growth"] = round(growth, 3)
        print(f"peak RSS growth from N={low:,} to N={high:,}: {growth:+.1%} (target within 10 %)")
    figures["cold_evaluate_s"] = round(cold_evaluate(), 3)
    print(f"cold `cdss evaluate` (a new process each run; median of 7 after one uncounted run that fills the "
          f"rule cache): {figures['cold_evaluate_s']:.3f} s (target <= 0.3 s; load average "
          f"{os.getloadavg()[0]:.1f})")
    if figures["sizes"]:
        big = figures["sizes"][max(figures["sizes"])]
        verdict = []
        if "durable" in big:
            verdict.append(f"durable -j1 within 3.5x of the floor: {big['durable']['floor_over_jobs1'] <= 3.5}")
            verdict.append(f"durable -j2 >= 1.8x -j1: {big['durable']['jobs2_over_jobs1'] >= 1.8}")
        if "direct" in big:
            verdict.append(f"direct -j1 within 2x of the floor: {big['direct']['floor_over_jobs1'] <= 2.0}")
            verdict.append(f"direct -j2 >= 1.8x -j1: {big['direct']['jobs2_over_jobs1'] >= 1.8}")
            verdict.append(f"direct evaluate() median <= 0.3 ms: {big['direct']['evaluate_median_ms'] <= 0.3}")
        print("targets: " + "; ".join(verdict) + f"; cold evaluate <= 0.3 s: {figures['cold_evaluate_s'] <= 0.3}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
