"""The same batch on a dask.distributed cluster: same bytes, same order, nothing lost."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from cdss.cli import main
from tests.helpers.paths import CASES

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


@pytest.fixture(scope="module")
def worker_tmp(tmp_path_factory):
    """The dask workers' temporary folder (TMPDIR), where they once left a cdss-rules-* folder per run."""
    return tmp_path_factory.mktemp("worker-tmp")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, worker_tmp):
    import dask
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(worker_tmp)  # inherited by the worker processes the cluster starts
    scratch = tmp_path_factory.mktemp("dask")
    try:
        with dask.config.set({"temporary-directory": str(scratch)}), \
                distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                         silence_logs=40, local_directory=scratch) as local:
            yield local
    finally:
        if before is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = before


def test_dask_batch_matches_the_local_pool_byte_for_byte(tmp_path, cluster, worker_tmp):
    bad = tmp_path / "extra.jsonl"
    bad.write_text('{"id": "x1", "patient": {"age_years": 30}}\n{broken\n{"id": "x2", "patient": {"age_years": 70}}\n')
    local = tmp_path / "local.jsonl"
    remote = tmp_path / "dask.jsonl"
    first = CliRunner().invoke(main, ["batch", str(CASES), str(bad), "-o", str(local), "--jobs", "2", "-q"])
    second = CliRunner().invoke(main, ["batch", str(CASES), str(bad), "-o", str(remote), "--executor", "dask",
                                       "--scheduler", cluster.scheduler_address, "--chunk-size", "16"])
    assert first.exit_code == second.exit_code == 1  # the broken line is an error record in both
    assert remote.read_bytes() == local.read_bytes()
    records = [json.loads(line) for line in remote.read_text().splitlines()]
    assert records[-2]["status"] == "error" and records[-2]["error"]["line"] == 2
    assert f"inputs: {len(records)}, results: {len(records) - 1}, errors: 1" in second.output
    assert not list(worker_tmp.glob("cdss-rules-*"))  # the workers remove the rule files they load


def test_dask_needs_a_scheduler():
    result = CliRunner().invoke(main, ["batch", str(CASES), "--executor", "dask"])
    assert result.exit_code == 2 and "--scheduler" in result.output


def _deadly_process(self, item):
    """BatchWorker.__call__, but the case b0003 kills its worker process as a durable-rules segfault would."""
    import os
    import signal
    if item.raw and b'"b0003"' in item.raw:
        import faulthandler
        faulthandler.disable()  # the crash is the point; keep its dump out of the test log
        os.kill(os.getpid(), signal.SIGSEGV)
    return _REAL_PROCESS(self, item)


_REAL_PROCESS = None


def test_a_dask_worker_that_dies_mid_case_becomes_that_cases_error_record(tmp_path, monkeypatch):
    """As with the local pool: the case that kills its worker becomes its error record, the others run.
    The workers are forked from this process so that they inherit the deadly stand-in for `process`, and
    the scheduler gives up on a task at its first killed worker."""
    import dask

    from cdss.batch.worker import BatchWorker
    global _REAL_PROCESS
    _REAL_PROCESS = BatchWorker.__call__
    monkeypatch.setattr(BatchWorker, "__call__", _deadly_process)
    source = tmp_path / "many.jsonl"
    source.write_text("".join(json.dumps({"id": f"b{i:04d}", "patient": {"age_years": 40 + i},
                                          "pain": {"knee": "left", "hip": "none"}}) + "\n" for i in range(8)))
    out = tmp_path / "out.jsonl"
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork",
                          "distributed.scheduler.allowed-failures": 0, "temporary-directory": str(tmp_path / "dask")}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=50, local_directory=tmp_path / "dask") as local:
            result = CliRunner().invoke(main, ["batch", str(source), "-o", str(out), "--executor", "dask",
                                               "--scheduler", local.scheduler_address, "--chunk-size", "3"])
    assert out.exists(), result.output[-2000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r.get("case_id") for r in records] == [f"b{i:04d}" for i in range(8)]
    assert [r["status"] for r in records].count("error") == 1
    assert records[3]["status"] == "error" and "worker process died" in records[3]["error"]["message"]
    assert "inputs: 8, results: 7, errors: 1" in result.output, result.output


def _stuck_or_raising(self, item):
    """BatchWorker.__call__, but b0003 hangs (as a hang in durable-rules' C core would) and b0005 raises
    an exception whose text names a worker (once taken for a worker's death by its words)."""
    import time
    if item.raw and b'"b0003"' in item.raw:
        time.sleep(3600)
    if item.raw and b'"b0005"' in item.raw:
        raise RuntimeError("the worker is tired")
    return _REAL_PROCESS(self, item)


def test_a_stuck_dask_case_times_out_and_an_exception_is_not_a_death(tmp_path, monkeypatch):
    import dask

    from cdss.batch.worker import BatchWorker
    global _REAL_PROCESS
    _REAL_PROCESS = BatchWorker.__call__
    monkeypatch.setattr(BatchWorker, "__call__", _stuck_or_raising)
    source = tmp_path / "many.jsonl"
    source.write_text("".join(json.dumps({"id": f"b{i:04d}", "patient": {"age_years": 40 + i},
                                          "pain": {"knee": "left", "hip": "none"}}) + "\n" for i in range(8)))
    out = tmp_path / "out.jsonl"
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork",
                          "temporary-directory": str(tmp_path / "dask")}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=50, local_directory=tmp_path / "dask") as local:
            result = CliRunner().invoke(main, ["batch", str(source), "-o", str(out), "--executor", "dask",
                                               "--scheduler", local.scheduler_address, "--chunk-size", "3",
                                               "--case-timeout", "3"])
    assert out.exists(), result.output[-2000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r.get("case_id") for r in records] == [f"b{i:04d}" for i in range(8)]
    assert [r["status"] for r in records] == ["ok"] * 3 + ["error", "ok", "error", "ok", "ok"], result.output
    assert records[3]["error"]["message"].startswith("evaluating this case took longer than 3 s")
    assert records[5]["error"]["message"] == "internal error: RuntimeError: the worker is tired"
