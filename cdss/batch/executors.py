"""Where batch chunks run: a local process pool (the default) or a dask.distributed cluster.

Both offer submit(items) -> future and restart(); a worker that dies mid-chunk shows up as an exception
that `is_worker_death` recognises, so the runner can rebuild the pool and find the case that killed it.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from cdss.batch.worker import Options, init_worker, run_items


class LocalExecutor:
    """A process pool whose workers each load and compile the rules once."""

    def __init__(self, jobs: int, rules_dir: str | None, options: Options):
        self.jobs, self.rules_dir, self.options = jobs, rules_dir, options
        self.restarts = 0
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else None)
        return ProcessPoolExecutor(self.jobs, mp_context=context, initializer=init_worker,
                                   initargs=(self.rules_dir, self.options.profile, self.options.engine))

    def submit(self, items):
        return self._pool.submit(run_items, items, self.options)

    def restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start()
        self.restarts += 1

    @staticmethod
    def is_worker_death(error: BaseException) -> bool:
        return isinstance(error, BrokenProcessPool)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _run_with_bundle(items, options, bundle):
    """On a dask worker: materialise the rule files once per bundle hash, then run the items."""
    import hashlib
    import tempfile

    from cdss.batch import worker as batchwork
    key = hashlib.sha256(repr((sorted(bundle.items()), options.profile)).encode()).hexdigest()
    if batchwork._STATE.get("bundle") != key:
        folder = Path(tempfile.mkdtemp(prefix="cdss-rules-"))
        for name, content in bundle.items():
            (folder / name).write_bytes(content)
        batchwork._STATE.clear()
        batchwork.init_worker(str(folder), options.profile, options.engine)
        batchwork._STATE["bundle"] = key
    return [batchwork.process(item, batchwork._STATE["kb"], options) for item in items]


class DaskExecutor:
    """Chunks as dask tasks; the rule files travel once to each worker as a scattered bundle."""

    def __init__(self, scheduler: str, rules_dir: str | None, options: Options):
        try:
            from distributed import Client
        except ImportError as error:  # pragma: no cover - depends on the extra
            from cdss.errors import CdssError
            raise CdssError("--executor dask needs the dask extra: pip install 'cdss[dask]'") from error
        from cdss import resources
        folder = Path(rules_dir) if rules_dir else resources.DEFAULT_RULES_DIR
        self._rules = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".yaml", ".yml")}
        self.client = Client(scheduler, set_as_default=False)
        self.options = options
        self._bundle = self._scatter()
        self.restarts = 0

    def _scatter(self):
        # A fresh key each time (hash=False): scattered data cannot be recomputed, so once every worker
        # that held it has died, tasks that depend on the old key are cancelled.
        return self.client.scatter(self._rules, broadcast=True, hash=False)

    def submit(self, items):
        return self.client.submit(_run_with_bundle, items, self.options, self._bundle, pure=False, retries=0)

    def restart(self) -> None:
        """The scheduler replaces dead workers itself; the rule bundle they held is sent again."""
        self.restarts += 1
        self._bundle = self._scatter()

    @staticmethod
    def is_worker_death(error: BaseException) -> bool:
        name = type(error).__name__
        return name in ("KilledWorker", "CommClosedError", "FutureCancelledError") or "worker" in str(error).lower()

    def shutdown(self) -> None:
        self.client.close()
