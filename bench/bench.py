#!/usr/bin/env python3
"""Benchmark cdss in one run, against a floor measured in the same run (this machine is shared and noisy).

    python bench/bench.py                      # N = 1,000, 10,000, 100,000
    python bench/bench.py --sizes 1000 10000   # quicker

For each N, on the same synthetic cases (`cdss synth`):
  (a) floor: read + json.loads + validation with a jsonschema Draft 2020-12 validator built once
      (a fixed reference, whatever validator the product itself uses);
  (b) evaluate() in one process after warm-up (median per case, and cases/s);
  (c) `cdss batch --jobs 1`;  (d) `cdss batch --jobs 2`;
and the peak RSS of the batch run (largest process), and once the cold wall time of `cdss evaluate`.
Figures are printed as cases/s and as ratios to the floor. Never run as a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDSS = [sys.executable, "-m", "cdss.cli.main"]
TARGETS = {"evaluate_median_ms": 1.0, "jobs1_cases_per_s": 1000, "jobs1_within_floor": 3.0,
           "jobs2_over_jobs1": 1.7, "rss_growth": 0.10, "cold_evaluate_s": 0.5}


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


def in_process(path: Path, limit: int) -> tuple[float, float]:
    from cdss.io import cases
    from cdss import load_knowledge
    from cdss.engine import evaluate
    kb = load_knowledge()
    loaded = []
    with open(path, "rb") as handle:
        for number, line in enumerate(handle):
            if number >= limit:
                break
            loaded.append(cases.case_from_dict(json.loads(line), str(path)))
    for case in loaded[:200]:
        evaluate(case, kb)  # warm-up
    times = []
    start = time.perf_counter()
    for case in loaded:
        t = time.perf_counter()
        evaluate(case, kb)
        times.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    return statistics.median(times) * 1000, len(loaded) / total


def batch(path: Path, jobs: int, n: int) -> tuple[float, int]:
    """cases/s of a whole `cdss batch` run, and the peak RSS (KiB) of its largest process."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)")
    out = subprocess.run([sys.executable, "-c", probe] + CDSS + ["batch", str(path), "--jobs", str(jobs), "-q",
                                                                  "-o", os.devnull],
                         capture_output=True, text=True, check=True).stdout.split()
    seconds, rss, code = float(out[0]), int(out[1]), int(out[2])
    if code not in (0, 1):
        raise SystemExit(f"cdss batch failed with exit code {code}")
    return n / seconds, rss


def cold_evaluate(runs: int = 7) -> float:
    case = sorted((ROOT / "cases" / "osteoarthritis").glob("*.json"))[0]
    command = [str(Path(sys.executable).parent / "cdss"), "evaluate", str(case)]
    if not Path(command[0]).exists():
        command = CDSS + ["evaluate", str(case)]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", choices=["synth", "shipped"], default="synth")
    parser.add_argument("--in-process-limit", type=int, default=20000,
                        help="cases held in memory for (b); larger N reuse this many")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures: dict = {"sizes": {}}
    print(f"cdss benchmark: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            path = make_cases(n, args.seed, Path(folder), args.source)
            base = floor(path)
            median_ms, eval_rate = in_process(path, min(n, args.in_process_limit))
            jobs1, rss1 = batch(path, 1, n)
            jobs2, rss2 = batch(path, 2, n)
            row = {"floor_cases_per_s": round(base), "evaluate_median_ms": round(median_ms, 3),
                   "evaluate_cases_per_s": round(eval_rate), "jobs1_cases_per_s": round(jobs1),
                   "jobs2_cases_per_s": round(jobs2), "peak_rss_kib_jobs1": rss1, "peak_rss_kib_jobs2": rss2,
                   "ratio_evaluate_to_floor": round(eval_rate / base, 3), "ratio_jobs1_to_floor": round(jobs1 / base, 3),
                   "ratio_jobs2_to_floor": round(jobs2 / base, 3), "ratio_jobs2_to_jobs1": round(jobs2 / jobs1, 3)}
            figures["sizes"][n] = row
            print(f"N={n:>7}: floor {base:,.0f}/s | evaluate {eval_rate:,.0f}/s (median {median_ms:.3f} ms, "
                  f"{eval_rate / base:.2f}x floor) | batch -j1 {jobs1:,.0f}/s ({jobs1 / base:.2f}x floor) | "
                  f"batch -j2 {jobs2:,.0f}/s ({jobs2 / base:.2f}x floor, {jobs2 / jobs1:.2f}x -j1) | "
                  f"peak RSS -j1 {rss1 / 1024:.0f} MiB, -j2 {rss2 / 1024:.0f} MiB", flush=True)
    figures["cold_evaluate_s"] = round(cold_evaluate(), 3)
    print(f"cold `cdss evaluate` (median of 7): {figures['cold_evaluate_s']:.3f} s")
    sizes = sorted(figures["sizes"])
    if 10000 in figures["sizes"] and 100000 in figures["sizes"]:
        growth = figures["sizes"][100000]["peak_rss_kib_jobs1"] / figures["sizes"][10000]["peak_rss_kib_jobs1"] - 1
        figures["rss_growth_10k_to_100k"] = round(growth, 3)
        print(f"peak RSS growth from N=10,000 to N=100,000: {growth:+.1%} (target within 10 %)")
    big = figures["sizes"][sizes[-1]]
    print("targets: evaluate median <= 1 ms: {}; -j1 >= 1,000/s: {}; -j1 within 3x of floor: {}; "
          "-j2 >= 1.7x -j1: {}; cold evaluate <= 0.5 s: {}".format(
              big["evaluate_median_ms"] <= 1.0, big["jobs1_cases_per_s"] >= 1000,
              big["floor_cases_per_s"] / big["jobs1_cases_per_s"] <= 3.0, big["ratio_jobs2_to_jobs1"] >= 1.7,
              figures["cold_evaluate_s"] <= 0.5))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
