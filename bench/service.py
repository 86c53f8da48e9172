"""Benchmark of `cdss serve` (never a timed test): requests per second and p50/p99 latency of patient-view
with full prefetch, at 1-32 concurrent clients, with 1 and 2 workers, against the same cases through
`evaluate()` in one process (the bare cost) and FHIR read + evaluate in one process.

    python bench/service.py                      # 200 synthetic patients (seed 7), 1 and 2 workers
    python bench/service.py --cases 100 --workers 1 --levels 1,16

The load generator is one asyncio process with one keep-alive connection per client (plain HTTP/1.1 over
asyncio streams: an HTTP library would cost the client more than the server). Each request has its own
hookInstance, so every card is written to the feedback store (SQLite, in a temporary folder) as in use.

"Cold" is the first request for each patient (every resource validated by its FHIR model); the table is
warm: the same patients again, as an EHR sends the same chart on every hook, so the validation verdicts
are cached. The machine has 2 cores shared with the load generator: read ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PATH = "/cds-services/cdss-patient-view"
KEYS = {"Observation": "observations", "Condition": "conditions", "MedicationStatement": "medicationStatements",
        "MedicationRequest": "medicationRequests", "Procedure": "procedures", "DiagnosticReport": "diagnosticReports",
        "QuestionnaireResponse": "questionnaireResponses"}


def requests_for(n: int, seed: int):
    """(case, hook request template bytes with __INSTANCE__ to replace) for n synthetic patients."""
    from cdss.fhir import mapping, writer
    from cdss.synth.generate import generate
    out = []
    for case in generate(n, seed):
        bundle = writer.to_bundle(case, mapping.shipped())
        resources = [e["resource"] for e in bundle["entry"]]
        patient = resources[0]
        prefetch = {"patient": patient, **{key: None for key in KEYS.values()}}
        for resource in resources[1:]:
            key = KEYS[resource["resourceType"]]
            if prefetch[key] is None:
                prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
            prefetch[key]["entry"].append({"resource": resource})
        body = {"hook": "patient-view", "hookInstance": "__INSTANCE__",
                "context": {"userId": "Practitioner/1", "patientId": patient["id"]}, "prefetch": prefetch}
        out.append((case, json.dumps(body).encode()))
    return out


def bare(cases, rounds: int = 3) -> dict:
    """evaluate() per case in this process, and FHIR read + evaluate (what the service does but HTTP)."""
    from cdss.engine import evaluate
    from cdss.fhir import bundles, mapping, writer
    from cdss.io import cases as case_io
    from cdss.kb.loader import load
    kb = load(None)
    parsed = [case_io.case_from_dict(c, "bench") for c, _ in cases]
    encoded = [json.dumps(writer.to_bundle(c, mapping.shipped())).encode() for c, _ in cases]
    evaluate(parsed[0], kb)
    timings, fhir = [], []
    for _ in range(rounds):
        for case in parsed:
            start = time.perf_counter()
            evaluate(case, kb)
            timings.append(time.perf_counter() - start)
        for raw in encoded:
            start = time.perf_counter()
            bundles.evaluate(bundles.read(raw, "bench"), kb)
            fhir.append(time.perf_counter() - start)
    return {"evaluate_median_ms": statistics.median(timings) * 1000, "evaluate_mean_ms": statistics.fmean(timings) * 1000,
            "fhir_median_ms": statistics.median(fhir) * 1000}


async def _one(reader, writer, body: bytes) -> float:
    head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    start = time.perf_counter()
    writer.write(head + body)
    await writer.drain()
    status = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    elapsed = time.perf_counter() - start
    if b" 200 " not in status:
        raise RuntimeError(f"the service answered {status!r}")
    return elapsed


async def load(port: int, bodies: list[bytes], clients: int, total: int) -> tuple[list[float], float]:
    queue = list(range(total))
    latencies: list[float] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                n = queue.pop()
                body = bodies[n % len(bodies)].replace(b"__INSTANCE__", str(uuid.uuid4()).encode())
                latencies.append(await _one(reader, writer, body))
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def serve(workers: int, folder: str):
    from tests.helpers.server import free_port
    import httpx
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "cdss.cli", "serve", "--port", str(port), "--workers", str(workers),
                                "--db", os.path.join(folder, f"feedback-{workers}.sqlite"), "--log-level", "warning",
                                "--as-of", "2026-01-01"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/cds-services", timeout=2).status_code == 200:
                return process, port
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("cdss serve did not start")


def stop(process) -> None:
    import signal
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--levels", default="1,2,4,8,16,32")
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level (at least)")
    args = parser.parse_args()
    cases = requests_for(args.cases, args.seed)
    bodies = [body for _, body in cases]
    base = bare(cases)
    print(f"bare evaluate(): median {base['evaluate_median_ms']:.2f} ms, mean {base['evaluate_mean_ms']:.2f} ms per case; "
          f"FHIR read + evaluate in one process: median {base['fhir_median_ms']:.2f} ms ({args.cases} patients, seed {args.seed})")
    rows = []
    with tempfile.TemporaryDirectory(prefix="cdss-bench-") as folder:
        for workers in [int(w) for w in args.workers.split(",")]:
            process, port = serve(workers, folder)
            try:
                cold, cold_wall = asyncio.run(load(port, bodies, 1, len(bodies)))
                print(f"workers {workers}: cold (first request per patient, c=1): p50 {1000 * percentile(cold, .5):.1f} ms, "
                      f"p99 {1000 * percentile(cold, .99):.1f} ms")
                for clients in [int(c) for c in args.levels.split(",")]:
                    total = max(args.requests, clients * 20)
                    latencies, wall = asyncio.run(load(port, bodies, clients, total))
                    rows.append((workers, clients, total / wall, 1000 * percentile(latencies, .5), 1000 * percentile(latencies, .99),
                                 1000 * wall / total))
            finally:
                stop(process)
    print()
    print("| workers | clients | requests/s | p50 ms | p99 ms | cost per request (ms, wall / requests) | x bare evaluate() |")
    print("|---|---|---|---|---|---|---|")
    for workers, clients, rps, p50, p99, cost in rows:
        print(f"| {workers} | {clients} | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {cost:.2f} | {cost / base['evaluate_mean_ms']:.1f}x |")


if __name__ == "__main__":
    main()
