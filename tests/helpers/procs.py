"""Real processes for tests: run cdss as a user would, and find what a process left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def cdss(*args) -> list[str]:
    """The command line of `cdss ARGS...` with this interpreter."""
    return [sys.executable, "-m", "cdss.cli", *map(str, args)]


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 300)
    return subprocess.run(cdss(*args), **kwargs)


def children(pid: int) -> set[int]:
    """Every live descendant of a process (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def started_since(before: set[int]) -> list[str]:
    """The command lines of this process's live descendants that were not running at `before` (a set from
    `children(os.getpid())`): what a test started and left behind. Helpers that earlier tests started in this
    process and that end with it (multiprocessing's resource tracker, after a dask test) are not the test's."""
    left = []
    for pid in sorted(children(os.getpid()) - before):
        if alive(pid):
            try:
                left.append(Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip())
            except OSError:
                continue
    return left


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(predicate, timeout: float = 60.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def kill_all(pids) -> None:
    """Clean up after a failed test: nothing it started may outlive it."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def without_file_permission_override():
    """A preexec_fn that makes even root subject to file permissions (drops CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH from the bounding set before exec), so that tests of unreadable folders and
    read-only outputs mean the same as root and as a user."""
    def drop():
        if os.geteuid() != 0:
            return
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2
        for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
            libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)
    return drop
