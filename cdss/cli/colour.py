"""Colour in terminal text: red flags red, urgencies marked, pass and fail told apart at a glance.

Only when the stream is a terminal and `NO_COLOR` is not set (https://no-color.org: any non-empty value
turns colour off), and never with `TERM=dumb`. Files, pipes and CI logs get plain text, byte for byte the
same as before colour existed.
"""

from __future__ import annotations

import os
import sys
from typing import Callable, TextIO

import click

Paint = Callable[[str, str], str]

STYLES = {
    "heading": {"bold": True},
    "red_flag": {"fg": "red", "bold": True},
    "urgency:emergency": {"fg": "red", "bold": True},
    "urgency:urgent": {"fg": "red"},
    "urgency:soon": {"fg": "yellow"},
    "urgency:routine": {"fg": "green"},
    "fail": {"fg": "red", "bold": True},
    "pass": {"fg": "green"},
    "error": {"fg": "red", "bold": True},
    "warning": {"fg": "yellow"},
    "info": {"fg": "cyan"},
    "added": {"fg": "green"},
    "removed": {"fg": "red"},
    "changed": {"fg": "yellow"},
}


def plain(role: str, text: str) -> str:
    return text


def enabled(stream: TextIO | None = None) -> bool:
    """Whether text written to `stream` (standard output by default) may carry colour."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    stream = stream if stream is not None else sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def painter(on: bool) -> Paint:
    """A function (role, text) -> text: styled when `on`, else the text unchanged."""
    if not on:
        return plain

    def paint(role: str, text: str) -> str:
        style = STYLES.get(role)
        return click.style(text, **style) if style else text
    return paint


def for_stdout() -> Paint:
    return painter(enabled())


def for_stderr() -> Paint:
    return painter(enabled(sys.stderr))
