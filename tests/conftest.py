"""Shared fixtures: the knowledge base (the shipped one, or CDSS_RULES), loaded once per test session."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis import settings

from cdss import load_knowledge
from cdss import resources
from cdss.errors import RuleFileError

# In CI, hypothesis draws the same examples on every run, so a red build always reproduces; at a desk it
# explores afresh each time, and what it finds becomes a regression case under cases/.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_configure(config):
    """The rule loader keeps markers of validated rule files in ~/.cache/cdss by default: the tests keep
    theirs in a temporary folder of their own (inherited by the cdss processes they start), removed when
    the session ends. Parallel workers (pytest-xdist) share the folder their controller made."""
    inherited = os.environ.get("CDSS_TEST_CACHE") if os.environ.get("PYTEST_XDIST_WORKER") else None
    config.cdss_cache_owned = inherited is None
    config.cdss_cache = inherited or tempfile.mkdtemp(prefix="cdss-test-cache-")
    config.cdss_cache_before = os.environ.get("CDSS_CACHE")
    os.environ["CDSS_CACHE"] = os.environ["CDSS_TEST_CACHE"] = config.cdss_cache


def pytest_unconfigure(config):
    if config.cdss_cache_owned:
        shutil.rmtree(config.cdss_cache, ignore_errors=True)
    os.environ.pop("CDSS_TEST_CACHE", None)
    if config.cdss_cache_before is None:
        os.environ.pop("CDSS_CACHE", None)
    else:
        os.environ["CDSS_CACHE"] = config.cdss_cache_before


PRIVATE_FOLDER_HINT = (
    "To test one pathway while others are being written, use a private rule folder (copies: a rule folder "
    "refuses symlinks that lead out of it):\n"
    "  mkdir -p /tmp/r && cp /work/main/rules/knowledge_base.yaml /work/main/rules/derived.yaml "
    "/work/main/rules/<yours>.yaml /tmp/r/ && CDSS_RULES=/tmp/r python -m pytest tests/test_cases.py -k <pathway>")


@pytest.fixture(scope="session")
def kb():
    try:
        return load_knowledge(resources.DEFAULT_RULES_DIR)
    except RuleFileError as error:
        pytest.fail(f"the rule base does not load: {error}\n{PRIVATE_FOLDER_HINT}")


@pytest.fixture(scope="session")
def shipped_rules_audit():
    """`cdss audit rules` of the shipped rule base, run once per test session: its reasoning over every rule
    takes tens of seconds, and several test files read the same report (each parallel worker computes it
    at most once)."""
    from cdss import audit
    return audit.audit_rules()


@pytest.fixture(scope="session")
def shipped_coverage_audit():
    """`cdss audit coverage cases/ --fail-under 100` of the shipped rules and cases, once per test session
    (each parallel worker computes it at most once; the audit page, SARIF and coverage tests share it)."""
    from cdss import audit
    from tests.helpers.paths import CASES
    return audit.audit_coverage([str(CASES)], fail_under=100)


@pytest.fixture(scope="session")
def kb_of(kb):
    """The knowledge base of a guideline profile (pathways.md, "Guideline profile"), loaded once each."""
    loaded = {"nice": kb}

    def of(profile: str):
        if profile not in loaded:
            loaded[profile] = load_knowledge(resources.DEFAULT_RULES_DIR, profile=profile)
        return loaded[profile]
    return of
