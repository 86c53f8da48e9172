"""The pool's window on a dask.distributed cluster (`cdss batch --executor dask`).

The rule files travel once to each worker inside a worker plugin, which builds that worker's
BatchWorker when the worker joins (so a worker the scheduler starts in place of a dead one is set up
too) and deletes the rule files it wrote as soon as they are loaded. Chunks run as tasks. A worker death
is recognised by the exception's type (KilledWorker, CommClosedError, FutureCancelledError), never by its
text; which case killed it is unknown, so each case of that chunk runs again alone. A worker's death fails
every task assigned to it, queued ones too, so a case run alone that dies may be an innocent neighbour: the
dead worker's address (in KilledWorker) tells whether it took other tasks of the run with it, and a case
becomes its error record once it has killed a worker that ran nothing else three times (pool.UNSURE_DEATHS).

Time limit: a cluster does not say when a task started, so the bound is on a stalled run: when no task
anywhere has finished for `timeout` seconds per case of the chunk at the head of the window (the one the
output waits for), that chunk is cancelled and the worker running it restarted; its cases run again
alone with the same bound, and a case past it becomes its error record.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from cdss.batch.pool import Failure, Job, WorkerStartError, call_worker
from cdss.errors import CdssError

POLL_SECONDS = 0.25


def _deaths() -> tuple[type, ...]:
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker
    return (KilledWorker, CommClosedError, FutureCancelledError)


def _plugin_class():
    from distributed.diagnostics.plugin import WorkerPlugin

    class RulesPlugin(WorkerPlugin):
        """Carries the rule files to a worker and builds its BatchWorker there."""

        def __init__(self, rules: dict[str, bytes], options):
            self.rules, self.options, self.worker, self.problem = rules, options, None, None

        def setup(self, worker=None):
            from cdss.batch.worker import BatchWorker
            from cdss.kb.loader import load
            folder = Path(tempfile.mkdtemp(prefix="cdss-rules-"))
            try:
                for name, content in self.rules.items():
                    (folder / name).write_bytes(content)
                self.worker = BatchWorker(load(folder, profile=self.options.profile), self.options)
            except CdssError as error:  # sent back as text: cdss errors do not unpickle
                raise RuntimeError(str(error)) from None
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        def teardown(self, worker=None):
            self.worker = None

    return RulesPlugin


def _dead_worker(error) -> str | None:
    """The address of the worker whose death failed a task (KilledWorker carries it); None if unknown."""
    address = getattr(getattr(error, "last_worker", None), "address", None)
    return address if isinstance(address, str) else None


def _run_job(items: list, plugin: str) -> list:
    """A dask task: one chunk through this worker's BatchWorker."""
    from distributed import get_worker
    worker = get_worker().plugins[plugin].worker
    return [call_worker(worker, item) for item in items]


def _processing_on(dask_scheduler=None, key=None):
    task = dask_scheduler.tasks.get(key)
    return task.processing_on.address if task is not None and task.processing_on is not None else None


class DaskBackend:
    """Jobs as dask tasks on the cluster at `scheduler`."""

    def __init__(self, scheduler: str, rules_dir: str | Path, options, timeout: float | None = None):
        try:
            from distributed import Client
        except ImportError as error:  # pragma: no cover - depends on the extra
            raise CdssError("--executor dask needs the dask extra: pip install 'cdss[dask]'") from error
        folder = Path(rules_dir)
        rules = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".yaml", ".yml")}
        self.timeout = timeout
        self.deaths = _deaths()
        try:
            self.client = Client(scheduler, set_as_default=False, timeout=10)
        except (OSError, TimeoutError) as error:
            raise CdssError(f"--scheduler {scheduler}: cannot reach the dask scheduler: {error}") from None
        self.plugin = f"cdss-rules-{hashlib.sha256(repr(sorted(rules.items())).encode()).hexdigest()[:12]}-" \
                      f"{uuid.uuid4().hex[:8]}"
        self._rules, self._options = rules, options
        self.futures: dict = {}  # future -> job
        self.died_on: dict[str, int] = {}  # a dead worker's address -> how many of this run's tasks failed with it
        self.head = None  # the head-of-line task
        self.progress_at = time.monotonic()  # when a task last finished
        self.jobs = 1  # tasks the cluster runs at once (its threads), known once connected

    def start(self) -> None:
        try:
            self.client.register_plugin(_plugin_class()(self._rules, self._options), name=self.plugin)
        except Exception as error:  # the rules do not load or compile on a worker
            self.client.close()
            raise WorkerStartError(f"a dask worker could not load the rules: {error}") from None
        workers = self.client.scheduler_info().get("workers", {})
        self.jobs = max(1, sum(w.get("nthreads", 1) for w in workers.values()))

    def submit(self, job: Job, urgent: bool = False) -> None:
        future = self.client.submit(_run_job, job.items, self.plugin, pure=False, retries=0,
                                    priority=1 if urgent else 0)
        self.futures[future] = job

    def wait(self, head) -> list:
        from distributed import wait
        if not self.futures:
            return []
        self.head = head
        try:
            with self.client.as_current():
                done, _ = wait(list(self.futures), timeout=POLL_SECONDS if self.timeout else None,
                               return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        events = []
        if done:
            self.progress_at = time.monotonic()
        errors = {future: future.exception() for future in done if future.status == "error"}
        dead = {future: _dead_worker(error) for future, error in errors.items()}
        for address in dead.values():  # how many of this run's tasks each dead worker took with it
            if address is not None:
                self.died_on[address] = self.died_on.get(address, 0) + 1
        for future in done:
            job = self.futures.pop(future)
            if future.status == "finished":
                events.append((job, future.result(), None, None))
                continue
            error = errors.get(future)
            if error is None and future.status != "cancelled":
                # Done, but neither a result nor an error: it finished, then its result was lost with the
                # worker that held it (dask recomputes such keys elsewhere; a CI run met it as two workers
                # died). The job runs again, and no item of it is to blame for that.
                events.append((job, None, None, Failure("died", f"its result was lost ({future.status})", alone=False)))
                continue
            if future.status == "cancelled" or isinstance(error, self.deaths):
                address = dead.get(future)
                alone = None if address is None else self.died_on[address] == 1
                events.append((job, None, None,
                               Failure("died", type(error).__name__ if error else "cancelled", alone=alone)))
            else:
                raise CdssError(f"the dask cluster failed a task: {type(error).__name__}: {error}")
        if self.timeout:
            events += self._overdue()
        return events

    def _overdue(self) -> list:
        """Jobs of the head task past their time while nothing finishes: cancelled, their workers restarted."""
        stalled = time.monotonic() - self.progress_at
        events = []
        for future, job in list(self.futures.items()):
            if job.task is not self.head or stalled <= self.timeout * len(job.items):
                continue
            del self.futures[future]
            address = self.client.run_on_scheduler(_processing_on, key=future.key)
            future.cancel()
            if address:
                try:
                    self.client.restart_workers([address], raise_for_error=False)
                except Exception:  # noqa: BLE001 - a worker without a nanny cannot be restarted
                    pass
            events.append((job, None, None, Failure("timeout", f"{self.timeout:g} s")))
        if events:
            self.progress_at = time.monotonic()  # the cases that run again alone get their own time
        return events

    def shutdown(self, now: bool = False) -> None:
        try:
            for future in self.futures:
                future.cancel()
            self.client.unregister_worker_plugin(self.plugin)
        except Exception:  # noqa: BLE001 - closing a cluster connection that is already gone
            pass
        finally:
            self.client.close()
