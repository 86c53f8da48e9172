"""The same batch on a dask.distributed cluster: same bytes, same order, nothing lost."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cdss.cli import main
from conftest import CASES

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as local:
        yield local


def test_dask_batch_matches_the_local_pool_byte_for_byte(tmp_path, cluster):
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


def test_dask_needs_a_scheduler():
    result = CliRunner().invoke(main, ["batch", str(CASES), "--executor", "dask"])
    assert result.exit_code == 2 and "--scheduler" in result.output
