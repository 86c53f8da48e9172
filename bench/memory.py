#!/usr/bin/env python3
"""Resident memory of a streamed batch as the cases go through it: does it stay flat up to 1,000,000?

    python bench/memory.py                          # 1,000,000 cases, default engine, -j 2
    python bench/memory.py --n 200000 --engine direct --every 50000

`cdss synth --n N | cdss batch - --jobs J` (nothing on disk; results are counted and thrown away). Every
`--every` results it samples the resident memory (VmRSS) of the batch's parent and of each worker process
and prints one line, so a run stopped early still shows the curve so far. The end line compares the last
sample with the first one at or after 10,000 cases: issue 12 asks for peak RSS flat from 10,000 to
1,000,000 cases. Memory is not time: these figures do not depend on the machine's load (the run's length
does). Never run as a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

CDSS = [sys.executable, "-m", "cdss.cli"]


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--engine", default="durable")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    synth = subprocess.Popen(CDSS + ["synth", "--n", str(args.n), "--seed", str(args.seed)], stdout=subprocess.PIPE)
    batch = subprocess.Popen(CDSS + ["batch", "-", "--jobs", str(args.jobs), "--engine", args.engine, "-q"],
                             stdin=synth.stdout, stdout=subprocess.PIPE)
    synth.stdout.close()  # the batch holds the pipe's read end now
    marks = sorted({10_000, *range(args.every, args.n + 1, args.every)})
    samples: list[tuple[int, int, int]] = []
    started = time.perf_counter()
    print(f"cdss batch - --jobs {args.jobs} --engine {args.engine}, {args.n:,} synthetic cases (seed {args.seed}); "
          f"{os.cpu_count()} cores", flush=True)
    print(f"{'cases':>10} {'parent MiB':>10} {'worker MiB':>10} {'elapsed s':>9}", flush=True)
    count = 0
    peak_parent = peak_worker = 0
    try:
        for _ in batch.stdout:
            count += 1
            if count % 1000 == 0:  # peaks between the printed samples count too
                peak_parent = max(peak_parent, _rss_kib(batch.pid))
                peak_worker = max([peak_worker] + [_rss_kib(p) for p in _children(batch.pid)])
            if marks and count == marks[0]:
                marks.pop(0)
                samples.append((count, peak_parent, peak_worker))
                print(f"{count:>10,} {peak_parent / 1024:>10.1f} {peak_worker / 1024:>10.1f} "
                      f"{time.perf_counter() - started:>9.0f}", flush=True)
    finally:
        batch.stdout.close()
        for process in (batch, synth):
            if process.poll() is None:
                process.terminate()
            process.wait()
    if batch.returncode not in (0, 1):
        raise SystemExit(f"cdss batch failed with exit code {batch.returncode} after {count:,} results")
    first = next((s for s in samples if s[0] >= 10_000), None)
    if first and samples[-1] is not first:
        last = samples[-1]
        growth = [(b / a - 1) if a else 0.0 for a, b in ((first[1], last[1]), (first[2], last[2]))]
        print(f"peak RSS from {first[0]:,} to {last[0]:,} cases: parent {growth[0]:+.1%}, largest worker "
              f"{growth[1]:+.1%} (target: flat, within 10 %)")


if __name__ == "__main__":
    main()
