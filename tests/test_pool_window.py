"""The pool's ordered window (cdss/batch/pool.py) over a backend whose worker deaths take every task
assigned to the worker, as a dask worker's death does: the scheduler fails the task it was running and the
tasks queued behind it alike, and cannot say which one killed it. Only the deadly item may become an error;
every other item gets its own result, in input order. (The pool blames an item there once it has died alone
three times: a neighbour that shares a deadly item's worker at each of those deaths would be blamed too. With
one deadly case, as here and in tests/test_batch_dask.py, that takes three unlucky deals in a row; with two
deadly cases on two workers the simulation below can blame a neighbour.)"""

from __future__ import annotations

from collections import deque

import pytest

from cdss.batch import pool


class SharedWorkerDeaths:
    """Each round, the queued jobs are dealt in turn to `workers` workers, at most two to each (one running,
    one waiting), starting one worker further on every round; a worker whose jobs include a deadly item dies,
    and every job dealt to it fails with an unknown index (what DaskBackend reports)."""

    def __init__(self, workers: int, deadly: set):
        self.jobs, self.workers, self.deadly = workers, workers, deadly
        self.queued: deque = deque()
        self.deaths = self.rounds = 0

    def start(self) -> None:
        pass

    def submit(self, job: pool.Job, urgent: bool = False) -> None:
        if urgent:
            self.queued.appendleft(job)
        else:
            self.queued.append(job)

    def wait(self, head) -> list:
        dealt = [list() for _ in range(self.workers)]
        for number in range(min(len(self.queued), 2 * self.workers)):
            dealt[(number + self.rounds) % self.workers].append(self.queued.popleft())
        self.rounds += 1
        events = []
        for jobs in dealt:
            if any(item in self.deadly for job in jobs for item in job.items):
                self.deaths += 1
                events += [(job, None, None, pool.Failure("died", "KilledWorker")) for job in jobs]
            else:
                events += [(job, [f"ok {item}" for item in job.items], None, None) for job in jobs]
        return events

    def shutdown(self, now: bool = False) -> None:
        pass


def _run(items, backend, chunk: int):
    fallback = lambda item, failure: f"error {item}: {failure.kind}"  # noqa: E731
    return [result for results in pool.ordered(iter(items), backend, chunk, 4, fallback) for result in results]


@pytest.mark.parametrize("chunk", [1, 3, 5])
@pytest.mark.parametrize("workers", [2, 3])
def test_only_the_deadly_item_becomes_an_error_when_a_death_takes_its_neighbours(chunk, workers):
    items = [f"b{i:02d}" for i in range(12)]
    backend = SharedWorkerDeaths(workers, deadly={"b03"})
    results = _run(items, backend, chunk)
    assert results == [f"error {i}: died" if i == "b03" else f"ok {i}" for i in items]
    assert backend.deaths <= 2 * pool.UNSURE_DEATHS  # blamed after a few deaths, not retried for ever
