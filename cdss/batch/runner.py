"""`cdss batch`: thousands of cases, in parallel, in input order, nothing lost.

A run goes in this order, so that a run that cannot start changes nothing: find the inputs (the output
is never one of them), claim the output (one writer at a time), start the workers (the rules compile in
each), check and count what a resumed file already holds, and only then truncate or append. Inputs stream
through the ordered window of `cdss.batch.pool`; every input yields exactly one record, a result or an
error record, written a chunk at a time; the file is renamed into place when the run completes.
Returns the exit code; problems are cdss errors; interruptions (Ctrl-C, SIGTERM) pass through after the
workers are stopped, with what was written kept for `--resume`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable

from attrs import define

from cdss.batch import formats, pool
from cdss.batch.idset import IdSet
from cdss.batch.output import Output, OutputError
from cdss.batch.progress import Progress
from cdss.batch.resume import replay
from cdss.batch.summary import Summary
from cdss.batch.worker import BatchWorker, Options, Outcome, decoded, error_outcome
from cdss.errors import CdssError, Terminated
from cdss.io import inputs
from cdss.io.files import write_whole

WINDOW_PER_JOB = 4  # chunks in flight per worker: enough to keep every worker busy, few enough to stay flat


class UsageError(CdssError):
    """Options that do not go together (the CLI shows it as a usage error, exit 2)."""


@define
class Settings:
    paths: list
    rules_dir: str | None
    output: Path | None
    options: Options
    jobs: int | None = None  # None: all cores
    executor: str = "local"  # local | dask | inline
    scheduler: str | None = None
    quiet: bool = False
    verbose: bool = False  # a PASS line for every case that meets its `expected`
    resume: bool = False
    summary_path: Path | None = None
    chunk_size: int | None = None
    case_timeout: float | None = None  # seconds one case may take; None: no bound


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(settings: Settings, kb, echo: Callable[[str], None] = say) -> int:
    """Run a batch; returns the exit code (0 ok, 1 any error record or failed check)."""
    started = time.monotonic()
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file size limit becomes an OSError we can report
    if settings.resume and settings.output is None:
        raise UsageError("--resume needs -o FILE: it continues into that file")
    if settings.output is not None and settings.summary_path is not None \
            and _same_file(settings.output, settings.summary_path):
        raise UsageError(f"-o and --summary name the same file ({settings.summary_path}): the summary would "
                         "replace the results")
    if settings.summary_path is not None and not Path(settings.summary_path).parent.is_dir():
        raise CdssError(f"{settings.summary_path}: the folder {Path(settings.summary_path).parent} does not exist "
                        "(nothing was run)")
    options = settings.options
    try:
        source, found = _find(settings)
    except inputs.InputError as error:
        raise CdssError(str(error)) from None
    total = source.count(found)
    output = Output(settings.output)
    output.claim(settings.resume)
    backend = None
    try:
        backend, size = _backend(settings, kb, total, echo)
        backend.start()
        summary, ids = Summary(engine=settings.options.engine), IdSet()
        report = _reporter(summary, ids, echo, settings.verbose)
        items = source.stream(found)
        resumed = keep = 0
        if settings.resume and output.resumable() is not None:
            done = replay(output.resumable(), options, items, kb.identity,
                          lambda item: _one(item, backend, kb, options), report)
            resumed, keep = done.count, done.keep
        output.begin(keep)
        if options.fmt == "csv" and not keep:
            _write(output, formats.csv_header())
        progress = Progress(total, sys.stderr, enabled=not settings.quiet)
        progress.update(resumed)
        fallback = _fallback(kb, options)
        for outcomes in pool.ordered(items, backend, size, WINDOW_PER_JOB * backend.jobs, fallback):
            _write(output, b"".join(o.line for o in outcomes))
            for outcome in outcomes:
                report(outcome)
            progress.update(summary.cases)
        backend.shutdown()
        output.finish()
    except BaseException as error:
        _stop(backend, output)
        if isinstance(error, (KeyboardInterrupt, Terminated)) and output.resumable() is not None:
            echo(f"cdss: stopped; what was written is kept in {output.name}: rerun with --resume to continue")
        raise
    progress.finish()
    summary.seconds = time.monotonic() - started
    if settings.summary_path:
        _write_summary(settings.summary_path, summary)
    elif not settings.quiet:
        echo(summary.text())
    results = summary.ok + summary.errors
    echo(f"inputs: {summary.cases}, results: {summary.ok}, errors: {summary.errors}"
         + (f" (resumed after {resumed})" if resumed else ""))
    if options.check:
        others = "".join(f"; {n} case(s) expect profile {p}: not compared (check them with --profile {p})"
                         for p, n in sorted(summary.other_profile.items()))
        echo(f"check: {summary.checked - summary.failed} passed, {summary.failed} failed{others}")
    if results != summary.cases:  # pragma: no cover - a broken invariant is reported, never hidden
        echo(f"error: {summary.cases} inputs but {results} outputs")
        return 1
    if summary.cases == 0:
        echo("error: no cases found in the given paths")
        return 1
    return 1 if (summary.errors or summary.failed) else 0


def _write(output: Output, data: bytes) -> None:
    try:
        output.write(data)
    except BrokenPipeError:
        raise  # a reader that stopped reading (`| head`): the CLI ends quietly
    except OSError as error:
        if output.path is None:
            raise OutputError(f"<stdout>: cannot write results: {error.strerror or error}") from None
        raise OutputError(f"{output.name}: cannot write results: {error.strerror or error}; what was written "
                          "is kept: rerun with --resume to continue") from None


class _FhirInputs:
    """FHIR Bundles as the inputs (cdss.fhir.sources), behind the same three steps as case files."""

    def __init__(self, exclude: list):
        from cdss.fhir import sources
        self.sources, self.exclude = sources, exclude

    def find(self, paths: list) -> list:
        return list(self.sources.expand(paths, self.exclude))

    def count(self, found: list) -> int | None:
        return self.sources.count(found)

    def stream(self, found: list):
        return self.sources.items(found)


class _CaseInputs:
    """Case files, JSONL and streams (cdss.io.inputs)."""

    def __init__(self, exclude: list):
        self.exclude = exclude

    def find(self, paths: list) -> list:
        return inputs.find(paths, self.exclude)

    count = staticmethod(inputs.count)
    stream = staticmethod(inputs.stream)


def _find(settings: Settings):
    """The inputs' reader and what it found, before anything is written: the output, the summary and
    their partial files are never inputs. Such a file found in an input folder is skipped when an earlier
    run wrote it; one that holds anything else (a case file named as -o) is refused, never overwritten."""
    exclude = [p for p in (settings.output, settings.summary_path) if p]
    for path, what in ((settings.output, "output"), (settings.summary_path, "summary")):
        if path is not None:
            _not_a_case_file(Path(path), settings.paths, what)
    source = _FhirInputs(exclude) if settings.options.input_format == "fhir" else _CaseInputs(exclude)
    return source, source.find(settings.paths)


def _same_file(one: Path, other: Path) -> bool:
    if os.path.realpath(one) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(one, other)  # two names of one file (a hard link)
    except OSError:
        return False


def _not_a_case_file(path: Path, paths: list, what: str) -> None:
    try:
        if not path.is_file():
            return
        real = path.resolve()
    except OSError:
        return
    for given in paths:
        if given == inputs.STDIN:
            continue
        try:
            folder = Path(given).resolve()
            inside = folder.is_dir() and real.is_relative_to(folder)
        except OSError:
            continue
        if inside and not formats.written_by_batch(real):
            raise inputs.InputError(f"{path}: is a file of the input folder {given} (not results of cdss batch) "
                                    f"and would be this run's {what}; name another file for the {what}")


def _stop(backend, output: Output) -> None:
    """After a failure or an interruption: workers killed, output closed (kept when written to)."""
    try:
        if backend is not None:
            backend.shutdown(now=True)
    finally:
        if output.fd is None:
            output.abandon()
        else:
            output.close()


def _backend(settings: Settings, kb, total: int | None, echo):
    """What runs the chunks, and the chunk size: as many chunks as fill the window, at most 64 cases each."""
    requested = settings.jobs or os.cpu_count() or 1
    jobs, why = pool.capped_jobs(requested, None)
    size = settings.chunk_size or max(1, min(64, (total or 64 * jobs * WINDOW_PER_JOB) // (jobs * WINDOW_PER_JOB)))
    if settings.executor == "inline":
        return pool.InlineBackend(BatchWorker(kb, settings.options)), size
    if settings.executor == "dask":
        from cdss import resources
        from cdss.batch.cluster import DaskBackend
        rules = settings.rules_dir or resources.DEFAULT_RULES_DIR
        return DaskBackend(settings.scheduler, rules, settings.options, settings.case_timeout), size
    jobs, fewer = pool.capped_jobs(jobs, -(-total // size) if total is not None else None)
    if settings.jobs and not settings.quiet and (why or fewer):
        echo(f"note: {why or fewer}")
    return pool.ProcessBackend(jobs, BatchWorker, (kb, settings.options), settings.case_timeout), size


def _one(item, backend, kb, options: Options) -> Outcome:
    """One input through the backend on its own (a resume's check that the file is this run's)."""
    return next(pool.ordered(iter([item]), backend, 1, 1, _fallback(kb, options)))[0]


def _fallback(kb, options: Options):
    def fallback(item, failure: pool.Failure) -> Outcome:
        if failure.kind == "timeout":
            message = (f"evaluating this case took longer than {failure.detail} (--case-timeout); its worker "
                       "was replaced and the run went on")
        elif failure.kind == "died":
            message = (f"the worker process died while evaluating this case ({failure.detail}); it was "
                       "replaced and the run went on")
        else:
            message = f"internal error: {failure.detail}"
        return error_outcome(item, kb.identity, options, "", message, decoded(item))
    return fallback


def _reporter(summary: Summary, ids: IdSet, echo, verbose: bool = False):
    def report(outcome: Outcome) -> None:
        summary.add(outcome)
        if not outcome.ok and outcome.error:
            pointer, message = outcome.error
            echo(f"error: {outcome.where}: {pointer or '/'}: {message}")
        if outcome.case_id is not None and not ids.add(outcome.case_id):
            summary.duplicate_ids += 1
            echo(f"warning: duplicate case id {outcome.case_id!r} at {outcome.where}")
        for diff in outcome.diffs:
            echo(f"FAIL {outcome.case_id}: {diff}")
        if verbose and outcome.checked and not outcome.diffs:
            echo(f"PASS {outcome.case_id}")
    return report


def _write_summary(path: Path, summary: Summary) -> None:
    """The summary as JSON, written whole or not at all."""
    try:
        write_whole(path, (json.dumps(summary.to_dict(), indent=2) + "\n").encode())
    except OSError as error:
        raise CdssError(f"{path}: cannot write the summary: {error.strerror or error} (the results are "
                        "complete)") from None
