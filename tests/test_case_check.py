"""The case schema's check generated ahead of time (cdss/io/casecheck.py): it is what fastjsonschema
generates from the shipped schema today, and it is not used for a schema with other bytes (CDSS_HOME), whose
cases are then checked as that schema says. That it agrees with jsonschema on every verdict is
tests/test_schemas.py::test_the_fast_validator_agrees_with_jsonschema (cases._fast_check gives it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from cdss import resources
from cdss.io import case_check_generated, casecheck, cases

CASE = "cases/osteoarthritis/oa-child-knee-pain.json"


def test_the_generated_module_is_what_fastjsonschema_generates_from_the_shipped_schema():
    """If this fails, the case schema (or fastjsonschema) changed: run `python -m cdss.io.casecheck`."""
    assert casecheck.GENERATED.read_text(encoding="utf-8") == casecheck.source()
    assert case_check_generated.SCHEMA_SHA256 == casecheck.schema_digest()


def test_the_generated_check_is_the_one_in_use_and_refuses_what_the_schema_refuses():
    check, refused = cases._fast_check()
    assert check is case_check_generated.check
    case = json.loads(resources.HOME.joinpath(CASE).read_text())
    check(case)
    case["patient"]["age_years"] = 121
    try:
        check(case)
    except refused:
        pass
    else:
        raise AssertionError("the generated check accepted an age of 121")


def test_a_schema_with_other_bytes_is_checked_as_it_says_not_by_the_generated_check(tmp_path):
    """A home whose case schema allows ages up to 100 only: a 101-year-old must be refused (the generated
    check, made from the shipped schema, would accept the case), with jsonschema's message."""
    home = tmp_path / "home"
    shutil.copytree(resources.SHIPPED_RULES_DIR, home / "rules")
    shutil.copytree(resources.SCHEMA_DIR, home / "schemas")
    schema_path = home / "schemas" / "case.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["patient"]["properties"]["age_years"]["maximum"] = 100
    schema_path.write_text(json.dumps(schema, indent=2))
    case = json.loads(resources.HOME.joinpath(CASE).read_text())
    case["patient"]["age_years"] = 101
    case_path = tmp_path / "old.json"
    case_path.write_text(json.dumps(case))
    env = {k: v for k, v in os.environ.items() if k not in ("CDSS_RULES", "CDSS_LANG", "CDSS_PROFILE")}
    env["CDSS_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-m", "cdss.cli", "evaluate", str(case_path)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"cdss: error: {case_path}: /patient/age_years: expected a value from 0 to 100; got 101\n"
    case["patient"]["age_years"] = 100
    case_path.write_text(json.dumps(case))
    done = subprocess.run([sys.executable, "-m", "cdss.cli", "evaluate", str(case_path)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
