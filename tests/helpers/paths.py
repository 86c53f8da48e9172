"""Where the checkout's shipped cases are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "cases"


def case_paths() -> list[Path]:
    """The shipped case files, found as every command finds them (cdss.io.inputs), in input order."""
    from cdss.io import inputs
    return [Path(source.path) for source in inputs.find([str(CASES)]) if source.kind == "json"]
