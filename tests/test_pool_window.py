"""The pool's ordered window (cdss/batch/pool.py) over a backend whose worker deaths take every task
assigned to the worker, as a dask worker's death does: the scheduler fails the task it was running and the
tasks queued behind it alike, and cannot say which one killed it. Only the deadly item may become an error;
every other item gets its own result, in input order. The backend says, as DaskBackend does from the dead
worker's address, whether the dying worker had other jobs: an item is blamed after three deaths on a worker
that ran nothing else, and a neighbour that only ever dies beside a deadly item is never blamed."""

from __future__ import annotations

from collections import deque

import pytest

from cdss.batch import pool


class SharedWorkerDeaths:
    """Each round, the queued jobs are dealt in turn to `workers` workers, at most two to each (one running,
    one waiting), starting one worker further on every round; a worker whose jobs include a deadly item dies,
    and every job dealt to it fails with an unknown index (what DaskBackend reports)."""

    def __init__(self, workers: int, deadly: set, says_alone: bool = True):
        self.jobs, self.workers, self.deadly, self.says_alone = workers, workers, deadly, says_alone
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
                alone = (len(jobs) == 1) if self.says_alone else None
                events += [(job, None, None, pool.Failure("died", "KilledWorker", alone=alone)) for job in jobs]
            else:
                events += [(job, [f"ok {item}" for item in job.items], None, None) for job in jobs]
        return events

    def shutdown(self, now: bool = False) -> None:
        pass


def _run(items, backend, chunk: int):
    fallback = lambda item, failure: f"error {item}: {failure.kind}"  # noqa: E731
    return [result for results in pool.ordered(iter(items), backend, chunk, 4, fallback) for result in results]


@pytest.mark.parametrize("says_alone", [True, False])
@pytest.mark.parametrize("chunk", [1, 3, 5])
@pytest.mark.parametrize("workers", [2, 3])
def test_only_the_deadly_item_becomes_an_error_when_a_death_takes_its_neighbours(chunk, workers, says_alone):
    """Whether or not the backend says a dying worker had other jobs (a CommClosedError does not)."""
    items = [f"b{i:02d}" for i in range(12)]
    backend = SharedWorkerDeaths(workers, deadly={"b03"}, says_alone=says_alone)
    results = _run(items, backend, chunk)
    assert results == [f"error {i}: died" if i == "b03" else f"ok {i}" for i in items]
    assert backend.deaths <= 2 * pool.MAX_UNSURE_DEATHS  # blamed after a few deaths, not retried for ever


@pytest.mark.parametrize("workers", [3])
def test_two_deadly_items_are_both_blamed_and_nothing_else(workers):
    """Not with one or two workers here: this backend deals the re-run items in the same order every round,
    so a neighbour can share a deadly item's worker at every death, and after MAX_UNSURE_DEATHS deaths it is
    blamed too (a known limit: the pool does not hold suspects back to run them one at a time)."""
    items = [f"b{i:02d}" for i in range(10)]
    results = _run(items, SharedWorkerDeaths(workers, deadly={"b02", "b07"}), 2)
    assert results == [f"error {i}: died" if i in ("b02", "b07") else f"ok {i}" for i in items]
