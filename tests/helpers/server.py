"""`cdss serve` as a real server process on a free loopback port, always stopped (and its port freed) after."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers.paths import ROOT

START_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(tmp: Path, *args: str, db: str | None = None):
    """Start `cdss serve` with its own feedback store (a SQLite file in tmp unless db is given); yields
    (base URL, log path). The process group is terminated (killed after 10 s) however the test ends."""
    port = free_port()
    log = tmp / f"serve-{port}.log"
    command = [sys.executable, "-m", "cdss.cli", "serve", "--port", str(port), "--db", db or str(tmp / "feedback.sqlite"),
               "--as-of", "2026-03-15", *args]
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                                   env=dict(os.environ, PYTHONUNBUFFERED="1"))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"cdss serve exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/cds-services", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"cdss serve did not answer within {START_TIMEOUT} s:\n{log.read_text()}")
            time.sleep(0.2)
        yield base, log
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
