"""An ordered window of work over workers: what `cdss batch` and `cdss audit coverage` share.

Items go out in chunks through a bounded window and come back in input order, so memory stays flat for
a corpus of any size and the output never depends on the parallelism. Each worker process builds its
worker object once (`factory(*args)`: rules compiled, a validator) and turns items into results with it,
one at a time, noting in shared memory which item it is on. So when a worker dies (durable-rules' C
core can crash) or sticks on one item past the time allowed, the pool knows which item it was: that item
gets the caller's error record (a death is first retried alone, in case the worker was killed from
outside), the rest of its chunk runs again on a fresh worker, and the run goes on.

Workers die with their parent however it ends (kill -9 included): on Linux the kernel kills them
(PR_SET_PDEATHSIG), elsewhere a thread watches the parent. They ignore Ctrl-C, which the parent handles,
and never hold its standard output, so `cdss batch ... | wc -c` ends when the parent does.
"""

from __future__ import annotations

import mmap
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections import deque
from typing import Callable, Iterable, Iterator

from attrs import Factory, define, frozen

from cdss.errors import CdssError
from cdss.io.inputs import chunks
from cdss.io.stdio import silence_stdout

SIGNALS = {signal.SIGINT, signal.SIGTERM}
DEFAULT_CASE_TIMEOUT = 60.0  # seconds one case may take in a worker (a case takes about a millisecond)
POLL_SECONDS = 0.25  # how often stuck items are looked for while waiting
STOP_SECONDS = 5.0  # how long an idle worker may take to exit before it is killed
# Jobs sent to one worker before it answers: the next job waits in its pipe, so the worker goes on at once
# instead of idling while this process reads its results and sends more (~4 % of a one-worker batch).
DEPTH = 2


@frozen
class Failure:
    """Why an item has no result of its own: its worker died on it (`died`), it took longer than allowed
    (`timeout`), or the worker object raised (`raised`, a bug: the worker objects catch what they expect)."""

    kind: str
    detail: str = ""
    # For a death where the backend cannot say which item its worker was on (dask): whether the worker was
    # running nothing else of this run (True), also other jobs (False: any of them may have killed it), or
    # unknown (None).
    alone: bool | None = None


class WorkerStartError(CdssError):
    """A worker could not build its worker object (the rules did not compile, say): nothing was run."""


@define(eq=False)
class _Task:
    """One chunk of the window: its items, and their results as they come."""

    items: list
    results: list
    missing: int

    @classmethod
    def of(cls, items: list) -> "_Task":
        return cls(items, [None] * len(items), len(items))


@define(eq=False)
class Job:
    """Consecutive items of a task sent to one worker; `solo` marks an item retried alone after a death."""

    task: _Task
    start: int
    items: list
    solo: bool = False
    # Deaths of this item run alone on a backend that cannot say which item killed its worker: all of them,
    # and those where the worker had no other job of this run.
    unsure_deaths: int = 0
    lone_deaths: int = 0


# -- the window -------------------------------------------------------------------------------------

# When the backend cannot say which item killed its worker, an item run alone is blamed after this many
# deaths on a worker that ran nothing else of this run (or, failing that, after MAX_UNSURE_DEATHS deaths).
UNSURE_DEATHS = 3
MAX_UNSURE_DEATHS = 12


def ordered(items: Iterator, backend, chunk_size: int, window: int,
            fallback: Callable[[object, Failure], object]) -> Iterator[list]:
    """The results of `items`, chunk by chunk in input order, with at most `window` chunks in flight.
    `fallback(item, failure)` makes the result of an item whose worker failed on it."""
    pending = chunks(iter(items), chunk_size)
    tasks: deque[_Task] = deque()
    more = True
    while True:
        while more and len(tasks) < window:
            chunk = next(pending, None)
            if chunk is None:
                more = False
                break
            task = _Task.of(chunk)
            tasks.append(task)
            backend.submit(Job(task, 0, chunk))
        if not tasks:
            return
        if tasks[0].missing == 0:
            yield tasks.popleft().results
            continue
        for job, results, index, failure in backend.wait(tasks[0]):
            if failure is None:
                for offset, result in enumerate(results):
                    if isinstance(result, Failure):
                        result = fallback(job.items[offset], result)
                    _fill(job, offset, result)
                continue
            _recover(job, index, failure, backend, fallback)


def _fill(job: Job, offset: int, result) -> None:
    task = job.task
    if task.results[job.start + offset] is None:
        task.missing -= 1
    task.results[job.start + offset] = result


def _recover(job: Job, index: int | None, failure: Failure, backend, fallback) -> None:
    """A worker failed on `job.items[index]` (None: somewhere in the job). The item whose death repeats
    alone, or that ran out of time, gets the fallback result; everything else of the job runs again."""
    if index is None:
        if len(job.items) == 1:
            index = 0
            # A backend that cannot say which item a dead worker was on (dask: a worker's death fails every
            # task assigned to it, running or queued) may report an innocent item alone: it is only blamed
            # when its death repeats on a worker that had nothing else to run, as a deadly case's does.
            if job.solo and failure.kind == "died":
                deaths, lone = job.unsure_deaths + 1, job.lone_deaths + (failure.alone is not False)
                if lone < UNSURE_DEATHS and deaths < MAX_UNSURE_DEATHS:
                    backend.submit(Job(job.task, job.start, job.items, solo=True, unsure_deaths=deaths,
                                       lone_deaths=lone), urgent=True)
                    return
        else:  # which item killed it is unknown: each runs alone, and a repeated death alone is its own
            for offset, item in reversed(list(enumerate(job.items))):
                backend.submit(Job(job.task, job.start + offset, [item], solo=True), urgent=True)
            return
    item = job.items[index]
    after = job.items[index + 1:]
    if after:
        backend.submit(Job(job.task, job.start + index + 1, after), urgent=True)
    if failure.kind == "died" and not job.solo:
        backend.submit(Job(job.task, job.start + index, [item], solo=True), urgent=True)
    else:
        _fill(job, index, fallback(item, failure))
    if index:
        backend.submit(Job(job.task, job.start, job.items[:index]), urgent=True)


# -- the same window in this process --------------------------------------------------------------

class InlineBackend:
    """Runs each job at once in this process: for tests, tiny runs and a debugger. A worker object that
    crashes the process ends the run, and no time limit applies."""

    jobs = 1

    def __init__(self, worker: Callable):
        self.worker = worker
        self.done: deque = deque()

    def start(self) -> None:
        pass

    def submit(self, job: Job, urgent: bool = False) -> None:
        self.done.append(job)

    def wait(self, head: _Task) -> list:
        events = []
        while self.done:
            job = self.done.popleft()
            events.append((job, [call_worker(self.worker, item) for item in job.items], None, None))
        return events

    def shutdown(self, now: bool = False) -> None:
        pass


def call_worker(worker: Callable, item):
    try:
        return worker(item)
    except Exception as error:  # a bug in a worker object: that item's failure, never the run's
        return Failure("raised", f"{type(error).__name__}: {error}")


# -- worker processes ------------------------------------------------------------------------------

@define(eq=False)
class _Process:
    """The parent's handle on one worker process."""

    process: multiprocessing.Process
    conn: object  # the parent's end of the worker's pipe
    slot: int
    ready: bool = False
    jobs: deque = Factory(deque)  # sent and not yet answered, in order: the first is the one it runs
    seen: int = 0  # the worker's item counter when last looked at
    since: float = 0.0  # when it last changed


class ProcessBackend:
    """`jobs` worker processes, each with its own pipe, fed jobs in window order, up to DEPTH at a time (a
    worker runs them in the order sent).

    `timeout` bounds the seconds one item may take (None: no bound); a worker past it is killed and
    replaced. Workers are forked on Linux (they share the parent's compiled rule objects for free) and
    spawned elsewhere (then `args` must pickle)."""

    def __init__(self, jobs: int, factory: Callable, args: tuple, timeout: float | None = None):
        self.jobs, self.factory, self.args, self.timeout = jobs, factory, args, timeout
        forked = sys.platform.startswith("linux")
        self.context = multiprocessing.get_context("fork" if forked else "spawn")
        self.progress = _counters(jobs) if forked else self.context.RawArray("q", jobs)
        self.queue: deque[Job] = deque()
        self.workers: list[_Process] = []

    def start(self) -> None:
        """Start every worker and wait until each has built its worker object, so that a rule base that
        does not compile stops the run before anything is written."""
        self.workers = [self._spawn(slot) for slot in range(self.jobs)]
        for worker in self.workers:
            self._await_ready(worker)

    def _spawn(self, slot: int) -> _Process:
        ours, theirs = self.context.Pipe(duplex=True)
        process = self.context.Process(target=_serve, name=f"cdss-worker-{slot}", daemon=True,
                                       args=(theirs, self.progress, slot, os.getpid(), self.factory, self.args))
        # Signals stay blocked while forking, so that a Ctrl-C in that instant reaches neither an
        # half-made worker (a KeyboardInterrupt traceback from its bootstrap) nor is lost by the parent.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS) if hasattr(signal, "pthread_sigmask") else None
        try:
            process.start()
        finally:
            if mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        theirs.close()
        return _Process(process, ours, slot)

    def _await_ready(self, worker: _Process) -> None:
        try:
            kind, detail = worker.conn.recv()
        except (EOFError, OSError):
            kind, detail = "failed", f"the worker process ended as it started (exit code {worker.process.exitcode})"
        if kind != "ready":
            self.shutdown(now=True)
            raise WorkerStartError(detail)
        worker.ready = True

    def submit(self, job: Job, urgent: bool = False) -> None:
        if urgent:
            self.queue.appendleft(job)
        else:
            self.queue.append(job)

    def _dispatch(self) -> None:
        for depth in range(DEPTH):  # every worker one job before any gets a second
            for worker in self.workers:
                if not self.queue or (depth and len(self.queue) <= len(self.workers)):
                    # (near the end, a job waiting behind another would keep a worker that is free sooner idle)
                    return
                if len(worker.jobs) == depth:
                    job = self.queue.popleft()
                    if not worker.jobs:
                        self.progress[worker.slot] = 0
                        worker.seen, worker.since = 0, time.monotonic()
                    worker.jobs.append(job)
                    worker.conn.send(job.items)

    def wait(self, head: _Task) -> list:
        """Events of finished or failed jobs: (job, results, None, None) or (job, None, index, Failure)."""
        self._dispatch()
        busy = [w for w in self.workers if w.jobs]
        if not busy:
            return []
        handles = {}
        for worker in busy:
            handles[worker.conn] = worker
            handles[worker.process.sentinel] = worker
        ready = multiprocessing.connection.wait(list(handles), timeout=POLL_SECONDS if self.timeout else None)
        events, failed = [], []
        for handle in ready:
            worker = handles[handle]
            if not worker.jobs or worker in failed:
                continue
            if handle is worker.conn:
                try:
                    results = worker.conn.recv()
                except (EOFError, OSError):
                    failed.append(worker)
                    continue
                events.append((worker.jobs.popleft(), results, None, None))
                if worker.jobs:  # the next one, already in its pipe, is under way
                    worker.seen, worker.since = 0, time.monotonic()
            else:
                failed.append(worker)
        for worker in failed:
            events.append(self._replace(worker, Failure("died", _exit_reason(worker.process))))
        if self.timeout:
            now = time.monotonic()
            for worker in self.workers:
                if not worker.jobs:
                    continue
                started = self.progress[worker.slot]
                if started != worker.seen:
                    worker.seen, worker.since = started, now
                elif started and now - worker.since > self.timeout and not worker.conn.poll():
                    # (results waiting in its pipe: it finished while this process was busy, not stuck)
                    worker.process.kill()
                    events.append(self._replace(worker, Failure("timeout", f"{self.timeout:g} s")))
        # A worker that just gave its results gets more now, not after this process has written and counted
        # them: with one worker that waiting was ~10 % of a batch's time (the two processes never ran at
        # once). Jobs the events make (a failed job's items again) are dispatched next time.
        self._dispatch()
        return events

    def _replace(self, worker: _Process, failure: Failure):
        """The failed worker's event, and a fresh worker in its slot. The jobs queued behind the failed one
        never started: they go back to the front of the queue, in order."""
        job, index = worker.jobs.popleft(), max(0, self.progress[worker.slot] - 1)
        self.queue.extendleft(reversed(worker.jobs))
        worker.jobs.clear()
        blocked = time.monotonic()
        _stop(worker, now=True)
        fresh = self._spawn(worker.slot)
        self.workers[self.workers.index(worker)] = fresh
        self._await_ready(fresh)
        blocked = time.monotonic() - blocked
        for other in self.workers:  # the seconds spent here, blind to the others, are not theirs to lose
            if other.jobs:
                other.since += blocked
        return job, None, index, failure

    def shutdown(self, now: bool = False) -> None:
        """Stop every worker: idle ones are asked to exit; `now` (an interrupted run) kills them."""
        for worker in self.workers:
            if not now and not worker.jobs:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        for worker in self.workers:
            _stop(worker, now=now or bool(worker.jobs))
        self.workers = []


def _counters(size: int):
    """Per worker slot, the number of items it has started in its current job: anonymous shared memory that
    forked workers write and the parent reads, with no file behind it (RawArray's arena is a file)."""
    return memoryview(mmap.mmap(-1, 8 * size)).cast("q")


def _stop(worker: _Process, now: bool) -> None:
    if now:
        worker.process.kill()
    worker.process.join(STOP_SECONDS)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join()
    worker.conn.close()
    worker.process.close()


def _exit_reason(process: multiprocessing.Process) -> str:
    process.join(1)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


# -- inside a worker process -----------------------------------------------------------------------

def _serve(conn, progress, slot: int, parent: int, factory: Callable, args: tuple) -> None:
    """A worker process: build the worker object, then run jobs until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    die_with_parent(parent)
    silence_stdout()  # it never writes there, and a pipe reader waits for every holder of its write end
    try:
        worker = factory(*args)
    except BaseException as error:
        conn.send(("failed", str(error) if isinstance(error, CdssError) else f"{type(error).__name__}: {error}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            items = conn.recv()
        except (EOFError, OSError):
            return
        if items is None:
            return
        results = []
        for number, item in enumerate(items, 1):
            progress[slot] = number
            results.append(call_worker(worker, item))
        progress[slot] = 0  # between jobs: the next job's items are counted from its first
        conn.send(results)


def die_with_parent(parent: int) -> None:
    """Make this process end when `parent` does, even by kill -9: PR_SET_PDEATHSIG on Linux, else a
    thread that watches the parent. An orphan would hold the output, its pipe and ~64 MB for ever."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            PR_SET_PDEATHSIG = 1
            if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before the request took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_parent, args=(parent,), name="cdss-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)



def ordered_map(factory: Callable, args: tuple, items: Iterable, jobs: int, chunk: int = 32,
                fallback: Callable[[object, Failure], object] | None = None) -> Iterator:
    """`factory(*args)(item)` for every item, in input order, over `jobs` worker processes (this process
    when jobs <= 1): the pool for commands whose worker objects make their own results (`cdss test`,
    `cdss diff`). Without a `fallback`, an item its worker died on or ran out of time with ends the run
    with one clear error naming it."""
    if jobs <= 1:
        backend = InlineBackend(factory(*args))
    else:
        backend = ProcessBackend(capped_jobs(jobs, None)[0], factory, args, DEFAULT_CASE_TIMEOUT)
    backend.start()
    try:
        for results in ordered(items, backend, chunk, 4 * backend.jobs, fallback or _no_fallback):
            yield from results
    except BaseException:
        backend.shutdown(now=True)
        raise
    backend.shutdown()


def _no_fallback(item, failure: Failure):
    where = getattr(item, "where", repr(item))
    what = {"died": f"the worker process died ({failure.detail})",
            "timeout": f"it took longer than {failure.detail}"}.get(failure.kind, f"internal error: {failure.detail}")
    raise CdssError(f"{where}: {what} while evaluating this case")


def capped_jobs(requested: int, chunks_needed: int | None) -> tuple[int, str | None]:
    """Worker processes worth starting: at most twice the cores (each worker is busy on the CPU; more only
    costs memory, ~64 MB each) and at most one per chunk of work. Returns (jobs, why it is fewer)."""
    cores = os.cpu_count() or 1
    jobs, why = requested, None
    if jobs > 2 * cores:
        jobs, why = 2 * cores, f"--jobs {requested} is capped at {2 * cores} (twice the {cores} cores)"
    if chunks_needed is not None and jobs > max(1, chunks_needed):
        jobs = max(1, chunks_needed)
        why = why or f"--jobs {requested}: {jobs} worker(s) are enough for this input"
    return jobs, why
