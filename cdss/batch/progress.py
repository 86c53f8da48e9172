"""Progress of a long batch on stderr: a live bar on a terminal, plain periodic lines in a log file."""

from __future__ import annotations

import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int | None, stream: TextIO, enabled: bool = True, every: float = 10.0):
        self.total, self.stream, self.enabled = total, stream, enabled
        self.tty = enabled and stream.isatty()
        self.every = 0.1 if self.tty else every
        self.start = self.last = time.monotonic()
        self.done = 0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            left = (self.total - self.done) / rate if rate > 0 else 0
            return f"{self.done}/{self.total} cases, {rate:,.0f} cases/s, {_clock(left)} left"
        return f"{self.done} cases, {rate:,.0f} cases/s"

    def update(self, done: int) -> None:
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        if self.tty:
            width = 30
            filled = int(width * done / self.total) if self.total else 0
            bar = f"[{'#' * filled}{'.' * (width - filled)}] " if self.total else ""
            self.stream.write(f"\r{bar}{self.line()}\033[K")
        else:
            self.stream.write(f"batch: {self.line()}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write(f"\r{self.line()}\033[K\n")
            self.stream.flush()
