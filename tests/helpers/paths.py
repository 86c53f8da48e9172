"""Where the checkout's shipped cases are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "cases"


def case_paths() -> list[Path]:
    return sorted(CASES.rglob("*.json"))
