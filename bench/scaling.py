#!/usr/bin/env python3
"""How per-case cost, memory and cold start grow with the rule base, on both engines, in one run.

    python bench/scaling.py                       # 1x, 2x, 5x, 10x; dormant and firing copies; 1,000 cases
    python bench/scaling.py --times 1 10 --cases 500

For each size (bench/scaled_rules.py: the shipped rules plus renamed copies, either all dormant or all
firing) and each engine, a fresh process loads the rule base, builds the engine and evaluates the same
synthetic cases (`cdss synth --seed 11`) after a warm-up: per-case cost (evaluate() only, no JSON), its
the engine's resident memory, and the cold wall time of `cdss evaluate` on one case. The floor
(json.loads + jsonschema validation of the same cases) is measured in the same run, and the slope per
added dormant or firing rule is fitted from the sizes. Never run as a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scaled_rules import write_scaled  # noqa: E402  (bench/ is this script's folder)

ENGINES = ("durable", "direct")


def _rss_mib() -> float:
    import resource
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2 ** 20


def _one(rules: str, engine: str, cases_path: str, limit: int, base_rules: str) -> dict:
    """In a fresh process: build the scaled rule base (its memory measured then), then the shipped one,
    and time both on the same cases, interleaved case by case, so that this shared machine's load, which
    swings by 2x within minutes, weighs on both alike: the difference is what the added rules cost."""
    from cdss.engine import evaluator_for
    from cdss.io import cases
    from cdss.kb.loader import load

    before = _rss_mib()
    started = time.perf_counter()
    kb = load(rules)
    loaded_at = time.perf_counter()
    evaluator = evaluator_for(kb, engine)
    built_at = time.perf_counter()
    stream = []
    with open(cases_path, "rb") as handle:
        for number, line in enumerate(handle):
            if number >= limit:
                break
            stream.append(cases.case_from_dict(json.loads(line), cases_path))
    for case in stream[:100]:
        evaluator.evaluate(case)
    rss = _rss_mib() - before  # the scaled rule base, its engine and 100 cases evaluated
    base = evaluator_for(load(base_rules), engine) if base_rules != rules else evaluator
    for case in stream[:100]:
        base.evaluate(case)
    errors = 0
    rounds = []
    clock = time.perf_counter
    for _ in range(3):
        scaled_total = base_total = 0.0
        for case in stream:
            t0 = clock()
            try:
                evaluator.evaluate(case)
            except Exception:
                errors += 1
            t1 = clock()
            base.evaluate(case)
            t2 = clock()
            scaled_total += t1 - t0
            base_total += t2 - t1
        rounds.append((scaled_total / len(stream), base_total / len(stream)))
    scaled_us, base_us = sorted(rounds, key=lambda r: r[0] - r[1])[1]
    return {"rules": len(kb.rules), "partitions": len(evaluator.program.partitions),
            "us_per_case": round(scaled_us * 1e6, 1), "base_us_per_case": round(base_us * 1e6, 1),
            "added_us_per_case": round((scaled_us - base_us) * 1e6, 1), "errors": errors,
            "load_s": round(loaded_at - started, 3), "build_s": round(built_at - loaded_at, 3),
            "engine_rss_mib": round(rss, 1)}


def floor_us(cases_path: Path, limit: int) -> float:
    import jsonschema
    validator = jsonschema.Draft202012Validator(json.loads((ROOT / "schemas" / "case.schema.json").read_text()))
    lines = cases_path.read_bytes().splitlines()[:limit]
    best = None
    for _ in range(3):
        start = time.perf_counter()
        for line in lines:
            validator.validate(json.loads(line))
        took = (time.perf_counter() - start) / len(lines)
        best = took if best is None else min(best, took)
    return best * 1e6


def cold_evaluate(rules: Path, engine: str, case: Path) -> float:
    command = [sys.executable, "-m", "cdss.cli", "evaluate", str(case), "--rules", str(rules), "--engine", engine]
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--one", nargs=5, metavar=("RULES", "ENGINE", "CASES", "LIMIT", "BASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        rules, engine, cases_path, limit, base_rules = args.one
        print(json.dumps(_one(rules, engine, cases_path, int(limit), base_rules)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        cases_path = folder / "cases.jsonl"
        subprocess.run([sys.executable, "-m", "cdss.cli", "synth", "--n", str(args.cases), "--seed", "11",
                        "-o", str(cases_path)], check=True, capture_output=True)
        one_case = folder / "case.json"
        one_case.write_text(cases_path.read_text().splitlines()[0])
        floor = floor_us(cases_path, args.cases)
        print(f"floor (json.loads + jsonschema): {floor:.0f} us/case; {os.cpu_count()} cores, "
              f"Python {sys.version.split()[0]}", flush=True)
        print(f"{'size':>5} {'copies':>8} {'rules':>6} {'rulesets':>8} {'engine':>8} {'us/case':>8} {'x floor':>7} "
              f"{'1x us':>7} {'added':>7} {'MiB':>5} {'build s':>7} {'cold s':>7} {'errors':>6}", flush=True)
        for times in args.times:
            for mode in (("dormant", "firing") if times > 1 else ("-",)):
                rules = folder / f"rules-{times}-{mode}"
                write_scaled(rules, times, dormant=(times - 1) if mode == "dormant" else 0)
                for engine in ENGINES:
                    out = subprocess.run([sys.executable, str(Path(__file__)), "--one", str(rules), engine,
                                          str(cases_path), str(args.cases), str(ROOT / "rules")],
                                         capture_output=True, text=True)
                    if out.returncode != 0:
                        raise SystemExit(f"{rules.name} on {engine} failed:\n{out.stderr[-2000:]}")
                    row = json.loads(out.stdout)
                    row.update(times=times, copies=mode, engine=engine, floor_us=round(floor, 1),
                               cold_s=round(cold_evaluate(rules, engine, one_case), 2))
                    rows.append(row)
                    print(f"{times:>4}x {mode:>8} {row['rules']:>6} {row['partitions']:>8} {engine:>8} "
                          f"{row['us_per_case']:>8.0f} {row['us_per_case'] / floor:>7.2f} {row['base_us_per_case']:>7.0f} "
                          f"{row['added_us_per_case']:>+7.0f} {row['engine_rss_mib']:>5.0f} "
                          f"{row['build_s']:>7.2f} {row['cold_s']:>7.2f} {row['errors']:>6}", flush=True)
    slopes = {}
    for engine in ENGINES:
        base_rules = next((r["rules"] for r in rows if r["times"] == 1), None)
        for mode in ("dormant", "firing"):
            series = [r for r in rows if r["engine"] == engine and r["copies"] == mode]
            if not series or base_rules is None:
                continue
            big = max(series, key=lambda r: r["rules"])
            slope = big["added_us_per_case"] / (big["rules"] - base_rules)
            # the same slope at this run's floor-to-nominal ratio is what matters: report it per floor too
            slopes[f"{engine}_{mode}_us_per_rule"] = round(slope, 3)
            print(f"{engine:>8}: {slope:+.3f} us per case per {mode} rule ({base_rules} -> {big['rules']} rules; "
                  f"{slope / floor * 1000:+.3f} per mille of the floor)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "slopes": slopes}, indent=2) + "\n")


if __name__ == "__main__":
    main()
