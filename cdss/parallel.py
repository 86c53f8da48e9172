"""Run a worker object over a stream of items in worker processes, results back in input order.

What `cdss diff` and `cdss test` share: each worker process builds its worker object once
(`factory(*args)`: rule bases loaded and compiled), then maps items to results. Items go out in chunks
through a bounded window, so memory stays flat for a corpus of any size, and results come back in input
order, so a report never depends on the parallelism. With jobs=1 everything runs in this process.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator

from cdss.io.inputs import chunks

CHUNK = 32
_WORKER: dict = {}


def _start(factory: Callable, args: tuple) -> None:
    _WORKER["object"] = factory(*args)


def _run_chunk(chunk: list) -> list:
    worker = _WORKER["object"]
    return [worker(item) for item in chunk]


def ordered_map(factory: Callable, args: tuple, items: Iterable, jobs: int, chunk: int = CHUNK) -> Iterator:
    """`factory(*args)(item)` for every item, in input order, over `jobs` processes."""
    if jobs <= 1:
        worker = factory(*args)
        for item in items:
            yield worker(item)
        return
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    window: deque = deque()
    pending = chunks(iter(items), chunk)
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start, initargs=(factory, args)) as pool:
        try:
            while True:
                while len(window) < jobs * 4:
                    part = next(pending, None)
                    if part is None:
                        break
                    window.append(pool.submit(_run_chunk, part))
                if not window:
                    return
                yield from window.popleft().result()
        finally:
            for future in window:
                future.cancel()
