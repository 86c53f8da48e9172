"""Faults in batch: repeated kill -9 then --resume, and a full disk (issue 5, item 4)."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time

import pytest

from tests.test_batch import case, jsonl

pytestmark = pytest.mark.slow


def command(source, out, *extra):
    return [sys.executable, "-m", "cdss.cli", "batch", str(source), "-o", str(out), "--jobs", "2", "-q", *extra]


def test_kill_9_at_random_moments_then_resume_gives_every_input_once(tmp_path):
    source = jsonl(tmp_path / "many.jsonl", [case(i) for i in range(2500)])
    full = tmp_path / "full.jsonl"
    subprocess.run(command(source, full), check=False)
    expected = full.read_bytes()
    out = tmp_path / "killed.jsonl"
    rng = random.Random(20261125)
    kills = 0
    for attempt in range(4):
        proc = subprocess.Popen(command(source, out, *(["--resume"] if attempt else [])), start_new_session=True)
        partial = tmp_path / "killed.jsonl.partial"  # where a run writes until it completes
        target = (partial.stat().st_size if partial.exists() else 0) + rng.randint(2_000, 150_000)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if partial.exists() and partial.stat().st_size >= target:
                os.killpg(proc.pid, signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.005)
        proc.wait()
    final = subprocess.run(command(source, out, "--resume"), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert kills >= 2
    assert out.read_bytes() == expected
    ids = [json.loads(line)["case_id"] for line in out.read_text().splitlines()]
    assert ids == [f"b{i:04d}" for i in range(2500)]  # every input exactly once, in order


def test_a_full_disk_gives_a_clear_error_and_a_resumable_output(tmp_path):
    source = jsonl(tmp_path / "many.jsonl", [case(i) for i in range(600)])
    full = tmp_path / "full.jsonl"
    subprocess.run(command(source, full), check=False)
    out = tmp_path / "limited.jsonl"
    limit = 100_000

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    first = subprocess.run(command(source, out), capture_output=True, text=True, preexec_fn=small_disk)
    assert first.returncode == 1
    assert "Traceback" not in first.stderr
    partial = tmp_path / "limited.jsonl.partial"
    assert f"cdss: error: {partial}: cannot write results: File too large; what was written is kept: " \
           "rerun with --resume to continue" in first.stderr
    assert partial.stat().st_size <= limit and not out.exists()
    again = subprocess.run(command(source, out, "--resume"), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == full.read_bytes()
