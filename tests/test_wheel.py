"""An installed wheel works outside the checkout: the rules, schemas and vocabulary travel as package data.

The wheel is built from a copy of the checkout (so the build leaves nothing behind in it), installed into a
fresh virtual environment in a temporary folder, and run from there on a shipped case: the results are the
bytes the checkout gives, and `--rules DIR` still overrides the shipped rules.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv

import pytest

from tests.helpers.paths import CASES, ROOT

pytestmark = pytest.mark.slow

CASE = CASES / "osteoarthritis" / "oa-knee-probable-typical.json"
IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis",
                                ".pytest_cache", "cases", "tests", "bench", "results.jsonl")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the installed `cdss` command, a folder outside the checkout to run it in)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=IGNORE)
    dist = base / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
                   check=True, capture_output=True)
    wheels = list(dist.glob("cdss-*.whl"))
    assert len(wheels) == 1
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    pip = env_dir / "bin" / "pip"
    subprocess.run([str(pip), "install", "-q", str(wheels[0])], check=True, capture_output=True)
    shutil.rmtree(source)  # nothing of the checkout copy remains: only the installed package
    work = base / "elsewhere"
    work.mkdir()
    return env_dir / "bin" / "cdss", work


def _run(command, cwd, *args, **kwargs):
    return subprocess.run([str(command), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "CDSS_CACHE": "off"}, **kwargs)


def test_the_wheel_carries_its_rules_and_schemas(installed):
    command, work = installed
    shipped = subprocess.run([sys.executable, "-m", "cdss.cli", "evaluate", str(CASE), "--format", "json"],
                             capture_output=True, text=True, check=True).stdout
    out = _run(command, work, "evaluate", CASE, "--format", "json")
    assert out.returncode == 0, out.stderr
    assert out.stdout == shipped, "the installed wheel gives other bytes than the checkout"
    text = _run(command, work, "evaluate", CASE)
    assert text.returncode == 0 and "Decision support" in text.stdout


def test_batch_runs_from_the_wheel(installed, tmp_path):
    command, work = installed
    results = tmp_path / "results.jsonl"
    out = _run(command, work, "batch", CASE, "-o", results, "--check", "-q")
    assert out.returncode == 0, out.stderr
    body = json.loads(results.read_text())
    assert body["status"] == "ok" and body["case_id"] == CASE.stem


def test_rules_dir_still_overrides_the_shipped_rules(installed, tmp_path):
    command, work = installed
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    manifest = rules / "knowledge_base.yaml"
    manifest.write_text(manifest.read_text().replace("version: ", "version: 9", 1))
    out = _run(command, work, "evaluate", CASE, "--format", "json", "--rules", rules)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["knowledge_base"]["version"].startswith("9")
