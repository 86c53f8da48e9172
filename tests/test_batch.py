"""`cdss batch`: input order whatever the parallelism, one output line per input, nothing lost, resume."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdss.batch.worker import BatchWorker
from cdss.cli import main
from cdss.batch.progress import Progress
from tests.helpers.paths import CASES, case_paths

SHIPPED = case_paths()


def case(i: int, **extra) -> dict:
    body = {"id": f"b{i:04d}", "patient": {"age_years": 20 + i % 70, "sex": "female"},
            "pain": {"knee": "left", "hip": "none", "activity_related": True, "duration_weeks": i % 30}}
    body.update(extra)
    return body


def jsonl(path: Path, bodies: list) -> Path:
    path.write_text("".join((b if isinstance(b, str) else json.dumps(b)) + "\n" for b in bodies))
    return path


def batch(*args, input=None):
    return CliRunner().invoke(main, ["batch", *args], input=input)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_order_is_input_order_whatever_the_parallelism(tmp_path):
    source = jsonl(tmp_path / "many.jsonl", [case(i) for i in range(150)])
    outputs = []
    for jobs, chunk in (("1", "7"), ("2", "1"), ("2", "5")):
        out = tmp_path / f"out{jobs}-{chunk}.jsonl"
        result = batch(str(source), str(CASES / "derived"), "-o", str(out), "--jobs", jobs, "--chunk-size", chunk, "-q")
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    ids = [line["case_id"] for line in lines(tmp_path / "out2-1.jsonl")]
    assert ids[:150] == [f"b{i:04d}" for i in range(150)]
    assert ids[150:] == [json.loads(p.read_text())["id"] for p in sorted((CASES / "derived").rglob("*.json"))]


def test_every_input_yields_one_result_or_one_error_record(tmp_path):
    bad_type = case(2)
    bad_type["patient"]["age_years"] = "old"
    source = jsonl(tmp_path / "mixed.jsonl", [case(1), "{broken", bad_type, case(3), "", case(4, xray_hp={})])
    out = tmp_path / "out.jsonl"
    result = batch(str(source), "-o", str(out), "--jobs", "2", "--chunk-size", "1")
    assert result.exit_code == 1
    records = lines(out)
    assert [r["status"] for r in records] == ["ok", "error", "error", "ok", "error"]  # the blank line is no case
    assert records[1]["error"]["file"] == str(source) and records[1]["error"]["line"] == 2
    assert records[2]["case_id"] == "b0002" and records[2]["error"]["pointer"] == "/patient/age_years"
    assert records[4]["error"]["line"] == 6 and "unknown field 'xray_hp'" in records[4]["error"]["message"]
    assert "inputs: 5, results: 2, errors: 3" in result.output
    assert f"error: {source}:2: /: broken JSON at line 1" in result.output


def test_stdin_and_duplicate_ids(tmp_path):
    out = tmp_path / "out.jsonl"
    body = "\n".join(json.dumps(case(i % 3)) for i in range(5)) + "\n"
    result = batch("-", "-o", str(out), "--jobs", "1", input=body)
    assert result.exit_code == 0
    assert result.output.count("warning: duplicate case id") == 2
    assert "duplicate ids 2" in result.output
    assert len(lines(out)) == 5


def test_a_jsonl_line_over_the_limit_is_refused_unparsed(tmp_path):
    huge = json.dumps(case(1, pad="x" * (1024 * 1024)))
    source = jsonl(tmp_path / "huge.jsonl", [case(0), huge, case(2)])
    out = tmp_path / "out.jsonl"
    result = batch(str(source), "-o", str(out), "--executor", "inline")
    records = lines(out)
    assert [r["status"] for r in records] == ["ok", "error", "ok"]
    assert "a case may hold at most 1048576 (1 MiB)" in records[1]["error"]["message"]
    assert result.exit_code == 1


def test_check_summary_and_csv(tmp_path):
    summary = tmp_path / "summary.json"
    out = tmp_path / "out.csv"
    result = batch(str(CASES), "--check", "--format", "csv", "-o", str(out), "--summary", str(summary), "--jobs", "2")
    assert result.exit_code == 0, result.output
    nhg = sum(1 for path in SHIPPED if json.loads(open(path, encoding="utf-8").read())["expected"].get("profile") == "nhg")
    assert f"check: {len(SHIPPED) - nhg} passed, 0 failed" in result.output  # nhg expectations: a --profile nhg run
    data = json.loads(summary.read_text())
    assert data["cases"] == data["ok"] == len(SHIPPED) and data["errors"] == 0
    assert data["red_flags"]["septic_arthritis"] >= 1
    assert data["conditions"]["knee_osteoarthritis"]["probable"] >= 1
    assert data["cases_per_second"] > 0
    rows = out.read_text().splitlines()
    assert rows[0].startswith("case_id,status,red_flags,conditions,recommendations")
    assert len(rows) == len(SHIPPED) + 1


def test_check_reports_each_difference_and_fails(tmp_path):
    wrong = case(1, expected={"conditions": [{"code": "hip_osteonecrosis", "status": "confirmed"}]})
    source = jsonl(tmp_path / "wrong.jsonl", [wrong])
    result = batch(str(source), "--check", "-o", str(tmp_path / "o.jsonl"), "--jobs", "1")
    assert result.exit_code == 1
    assert "FAIL b0001: conditions: expected hip_osteonecrosis, but it is not in the result" in result.output
    assert "check: 0 passed, 1 failed" in result.output


def test_resume_drops_a_torn_line_and_ends_byte_identical(tmp_path):
    source = jsonl(tmp_path / "many.jsonl", [case(i) for i in range(120)])
    full = tmp_path / "full.jsonl"
    assert batch(str(source), "-o", str(full), "--jobs", "2", "-q").exit_code == 0
    whole = full.read_bytes()
    cut = tmp_path / "cut.jsonl"
    for keep in (0, 1, 57, 119):
        prefix = b"".join(whole.splitlines(keepends=True)[:keep])
        cut.write_bytes(prefix + b'{"case_id":"b9999","knowl')  # a torn last line
        result = batch(str(source), "-o", str(cut), "--jobs", "2", "--resume")
        assert result.exit_code == 0, result.output
        assert cut.read_bytes() == whole
        suffix = f" (resumed after {keep})" if keep else ""
        assert f"inputs: 120, results: 120, errors: 0{suffix}\n" in result.output


@pytest.mark.slow
def test_resume_after_kill_9(tmp_path):
    source = jsonl(tmp_path / "many.jsonl", [case(i) for i in range(3000)])
    full = tmp_path / "full.jsonl"
    assert batch(str(source), "-o", str(full), "--jobs", "2", "-q").exit_code == 0
    out = tmp_path / "killed.jsonl"
    command = [sys.executable, "-m", "cdss.cli", "batch", str(source), "-o", str(out), "--jobs", "2", "-q"]
    proc = subprocess.Popen(command, start_new_session=True)
    partial = tmp_path / "killed.jsonl.partial"  # where a run writes until it completes
    deadline = time.monotonic() + 30
    while (not partial.exists() or partial.stat().st_size < 20000) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < partial.stat().st_size < full.stat().st_size, "the run was killed part-way"
    assert not out.exists()
    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes() == full.read_bytes()
    assert not partial.exists()


@pytest.mark.slow
def test_a_worker_that_dies_mid_case_becomes_that_cases_error_record(tmp_path, monkeypatch):
    """durable-rules can segfault; the worker process dies, a fresh one takes its place and the run goes on."""
    real = BatchWorker.__call__

    def deadly(self, item):
        if item.raw and b'"b0003"' in item.raw:
            import faulthandler
            faulthandler.disable()  # the crash is the point; keep its dump out of the test log
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(self, item)

    monkeypatch.setattr(BatchWorker, "__call__", deadly)  # inherited by the forked workers
    source = jsonl(tmp_path / "many.jsonl", [case(i) for i in range(8)])
    out = tmp_path / "out.jsonl"
    result = batch(str(source), "-o", str(out), "--jobs", "2", "--chunk-size", "3")
    records = lines(out)
    assert [r.get("case_id") for r in records] == [f"b{i:04d}" for i in range(8)]
    assert [r["status"] for r in records].count("error") == 1
    assert records[3]["status"] == "error"
    assert "worker process died while evaluating this case (SIGSEGV)" in records[3]["error"]["message"]
    assert "inputs: 8, results: 7, errors: 1" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("failure", ["dies", "sticks"])
def test_a_worker_with_a_job_waiting_in_its_pipe_loses_nothing_when_it_fails(tmp_path, monkeypatch, failure, jobs):
    """A worker is sent its next job before it answers the last (cdss/batch/pool.py, DEPTH): when it dies or
    sticks on a case, the job waiting behind runs on its replacement, and only that case is an error."""
    real = BatchWorker.__call__

    def failing(self, item):
        if item.raw and b'"b0001"' in item.raw:
            if failure == "sticks":
                time.sleep(3600)  # as a hang in durable-rules' C core would
            import faulthandler
            faulthandler.disable()
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(self, item)

    monkeypatch.setattr(BatchWorker, "__call__", failing)  # inherited by the forked workers
    source = jsonl(tmp_path / "many.jsonl", [case(i) for i in range(12)])
    out = tmp_path / "out.jsonl"
    result = batch(str(source), "-o", str(out), "--jobs", jobs, "--chunk-size", "2", "--case-timeout", "2")
    records = lines(out)
    assert [r.get("case_id") for r in records] == [f"b{i:04d}" for i in range(12)]
    assert [i for i, r in enumerate(records) if r["status"] == "error"] == [1]
    expected = "took longer than 2 s" if failure == "sticks" else "worker process died while evaluating this case"
    assert expected in records[1]["error"]["message"]
    assert "inputs: 12, results: 11, errors: 1" in result.output


def test_resume_needs_an_output_file():
    assert batch(str(CASES / "derived"), "--resume").exit_code == 2


def test_progress_is_a_live_bar_on_a_terminal_and_plain_lines_in_a_log():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        progress = Progress(100, stream, every=0)
        progress.every = 0
        progress.update(40)
        progress.finish()
    assert "\r[############" in tty.getvalue() and "40/100 cases" in tty.getvalue()
    assert log.getvalue().startswith("batch: 40/100 cases, ") and "\r" not in log.getvalue()
    quiet = io.StringIO()
    Progress(100, quiet, enabled=False).update(50)
    assert quiet.getvalue() == ""
