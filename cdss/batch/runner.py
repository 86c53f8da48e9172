"""`cdss batch`: thousands of cases, in parallel, in input order, nothing lost.

Inputs stream in, chunks go to workers through a bounded window, and results are written in input
order as each head-of-line chunk completes, so memory stays flat however many cases there are. Every
input yields exactly one output line: a result or an error record. Output is written a chunk at a time
with unbuffered writes, so a kill -9 leaves a valid prefix with at most a torn last line, which
`--resume` drops before it continues; the resumed file is byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import Counter, deque
from pathlib import Path
from typing import Iterator

import click
import attrs
from attrs import define, field

from cdss.io import inputs
from cdss.batch.worker import Options, Outcome, csv_header, process
from cdss.errors import CdssError
from cdss.batch.idset import IdSet
from cdss.io.inputs import Item
from cdss.batch.progress import Progress


@define
class Summary:
    cases: int = 0
    ok: int = 0
    errors: int = 0
    checked: int = 0
    failed: int = 0
    duplicate_ids: int = 0
    other_profile: Counter = field(factory=Counter)  # --check: cases whose expectations hold for another profile
    red_flags: Counter = field(factory=Counter)
    conditions: Counter = field(factory=Counter)
    recommendations: Counter = field(factory=Counter)
    ignored_resources: Counter = field(factory=Counter)
    seconds: float = 0.0
    engine: str = "durable"  # the engine that made every result (results are the same bytes on either)

    def add(self, outcome: Outcome) -> None:
        self.cases += 1
        if not outcome.ok:
            self.errors += 1
            return
        self.ok += 1
        self.ignored_resources.update(dict(outcome.ignored))
        self.red_flags.update(outcome.red_flags)
        self.conditions.update(outcome.conditions)
        self.recommendations.update(outcome.recommendations)
        if outcome.checked:
            self.checked += 1
            self.failed += bool(outcome.diffs)
        elif outcome.other_profile:
            self.other_profile[outcome.other_profile] += 1

    def to_dict(self) -> dict:
        conditions: dict = {}
        for (code, status), n in sorted(self.conditions.items()):
            conditions.setdefault(code, {})[status] = n
        return {
            "engine": self.engine, "cases": self.cases, "ok": self.ok, "errors": self.errors, "duplicate_ids": self.duplicate_ids,
            "checked": self.checked, "check_failed": self.failed,
            "check_other_profile": dict(sorted(self.other_profile.items())),
            "red_flags": dict(sorted(self.red_flags.items())), "conditions": conditions,
            "recommendations": dict(sorted(self.recommendations.items())),
            **({"ignored_fhir_resources": dict(sorted(self.ignored_resources.items()))} if self.ignored_resources else {}),
            "seconds": round(self.seconds, 3),
            "cases_per_second": round(self.cases / self.seconds, 1) if self.seconds > 0 else None,
        }

    def text(self) -> str:
        d = self.to_dict()
        lines = [f"cases {d['cases']}: ok {d['ok']}, errors {d['errors']}, duplicate ids {d['duplicate_ids']}"
                 f" (engine {d['engine']})",
                 f"time {d['seconds']} s, {d['cases_per_second']} cases/s"]
        if d["red_flags"]:
            lines.append("red flags: " + ", ".join(f"{k} {v}" for k, v in d["red_flags"].items()))
        if d["conditions"]:
            lines.append("conditions: " + ", ".join(
                f"{k} " + "/".join(f"{s} {n}" for s, n in v.items()) for k, v in d["conditions"].items()))
        if d["recommendations"]:
            top = sorted(d["recommendations"].items(), key=lambda kv: (-kv[1], kv[0]))
            lines.append("recommendations: " + ", ".join(f"{k} {v}" for k, v in top))
        if self.ignored_resources:
            lines.append("FHIR resources the mapping does not read (ignored): "
                         + ", ".join(f"{k} {v}" for k, v in sorted(self.ignored_resources.items())))
        return "\n".join(lines)


@define
class Settings:
    paths: list
    rules_dir: str | None
    output: Path | None
    options: Options
    jobs: int = 1
    executor: str = "local"
    scheduler: str | None = None
    quiet: bool = False
    verbose: bool = False  # a PASS line for every case that meets its `expected`
    resume: bool = False
    summary_path: Path | None = None
    chunk_size: int | None = None


class _Sink:
    """Unbuffered output: each chunk reaches the OS in one write, so a killed run leaves whole lines."""

    def __init__(self, output: Path | None, append: bool):
        self.output = output
        if output is None:
            self.fd = sys.stdout.fileno()
            sys.stdout.flush()
        else:
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
            self.fd = os.open(output, flags, 0o644)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def close(self) -> None:
        if self.output is not None:
            os.close(self.fd)


def _repair_tail(path: Path) -> None:
    """Drop a torn last line (one with no newline) left by a killed run."""
    with open(path, "r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            step = min(65536, position)
            handle.seek(position - step)
            block = handle.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                handle.truncate(position - step + cut + 1)
                return
            position -= step
        handle.truncate(0)


def _replay(path: Path, fmt: str, items: Iterator[Item], options: Options, summary: Summary, ids: IdSet,
            report) -> int:
    """Account for the lines a previous run already wrote (resume): summary, duplicate ids and checks are
    rebuilt from them, and as many inputs are skipped."""
    from cdss.io import cases as case_io, expectations
    count = 0
    with open(path, "rb") as handle:
        if fmt == "csv" and not handle.readline():
            return 0
        for raw in handle:
            item = next(items, None)
            if item is None:
                raise CdssError(f"{path}: holds more results than there are inputs; it is not this batch's output")
            count += 1
            body = json.loads(raw) if fmt == "jsonl" else _csv_body(raw)
            outcome = Outcome(raw, body["status"] == "ok", body.get("case_id"),
                              tuple(f["code"] for f in body.get("red_flags", ())),
                              tuple((c["code"], c["status"]) for c in body.get("conditions", ())),
                              tuple(r["code"] for r in body.get("recommendations", ())))
            if options.check and outcome.ok and item.raw is not None:
                data = case_io.decode(item.raw, item.source)
                if "expected" in data and expectations.applies(data["expected"], options.profile):
                    outcome = Outcome(raw, True, outcome.case_id, outcome.red_flags, outcome.conditions,
                                      outcome.recommendations,
                                      tuple(expectations.differences(data["expected"], body)), True,
                                      inputs_where(item))
                elif "expected" in data:
                    outcome = attrs.evolve(outcome, other_profile=expectations.profile_of(data["expected"]))
            report(outcome, summary, ids)
    return count


def _source(options: Options):
    """The module that finds and streams the inputs: case JSON, or FHIR (loaded only when asked for)."""
    if options.input_format == "fhir":
        from cdss.fhir import sources
        return sources
    return inputs


def inputs_where(item: Item) -> str:
    return item.source if item.line is None else f"{item.source}:{item.line}"


def _csv_body(raw: bytes) -> dict:
    import csv
    from cdss.io.csvcells import restore
    row = [restore(cell) for cell in next(csv.reader([raw.decode()]))]
    split = lambda text: [part.split(":") for part in text.split("; ") if part]  # noqa: E731
    return {"case_id": row[0] or None, "status": row[1],
            "red_flags": [{"code": p[0], "status": p[1], "urgency": p[2]} for p in split(row[2])],
            "conditions": [{"code": p[0], "status": p[1]} for p in split(row[3])],
            "recommendations": [{"code": p[0], "urgency": p[1], "for": []} for p in split(row[4])],
            "do_not": [{"code": p[0], "for": []} for p in split(row[5])], "trace": []}


def run(settings: Settings, kb) -> int:
    """Run a batch; returns the exit code (0 ok, 1 any error record or failed check)."""
    started = time.monotonic()
    err = sys.stderr
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file size limit becomes an OSError we can report
    if settings.resume and settings.output is None:
        raise click.UsageError("--resume needs -o FILE: it continues into that file")
    options = settings.options
    summary, ids = Summary(engine=options.engine), IdSet()
    source = _source(options)
    items = source.items(settings.paths)

    def report(outcome: Outcome, summary: Summary, ids: IdSet) -> None:
        summary.add(outcome)
        if not outcome.ok and outcome.error:
            pointer, message = outcome.error
            click.echo(f"error: {outcome.where}: {pointer or '/'}: {message}", err=True)
        if outcome.case_id is not None and not ids.add(outcome.case_id):
            summary.duplicate_ids += 1
            click.echo(f"warning: duplicate case id {outcome.case_id!r} at {outcome.where}", err=True)
        for diff in outcome.diffs:
            click.echo(f"FAIL {outcome.case_id}: {diff}", err=True)
        if settings.verbose and outcome.checked and not outcome.diffs:
            click.echo(f"PASS {outcome.case_id}", err=True)

    resumed = 0
    append = False
    if settings.resume and settings.output.exists() and settings.output.stat().st_size > 0:
        _repair_tail(settings.output)
        resumed = _replay(settings.output, options.fmt, items, options, summary, ids, report)
        append = True
    sink = _Sink(settings.output, append)
    if options.fmt == "csv" and not append:
        sink.write(csv_header())
    total = source.count(settings.paths)
    progress = Progress(total, err, enabled=not settings.quiet)
    progress.update(resumed)
    try:
        if settings.executor == "inline":
            from cdss.io import cases
            cases.use_fast_validation()
            _run_inline(items, kb, options, sink, summary, ids, report, progress)
        else:
            _run_pool(items, settings, sink, summary, ids, report, progress, total)
    except OSError as error:
        raise CdssError(f"{settings.output or '<stdout>'}: cannot write results: {error.strerror or error}; "
                        "what was written is valid: rerun with --resume to continue") from None
    finally:
        sink.close()
    progress.finish()
    summary.seconds = time.monotonic() - started
    if settings.summary_path:
        settings.summary_path.write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    elif not settings.quiet:
        click.echo(summary.text(), err=True)
    results = summary.ok + summary.errors
    click.echo(f"inputs: {summary.cases}, results: {summary.ok}, errors: {summary.errors}"
               + (f" (resumed after {resumed})" if resumed else ""), err=True)
    if options.check:
        others = "".join(f"; {n} case(s) expect profile {p}: not compared (check them with --profile {p})"
                         for p, n in sorted(summary.other_profile.items()))
        click.echo(f"check: {summary.checked - summary.failed} passed, {summary.failed} failed{others}", err=True)
    if results != summary.cases:  # pragma: no cover - a broken invariant is reported, never hidden
        click.echo(f"error: {summary.cases} inputs but {results} outputs", err=True)
        return 1
    if summary.cases == 0:
        click.echo("error: no cases found in the given paths", err=True)
        return 1
    return 1 if (summary.errors or summary.failed) else 0


def _run_inline(items, kb, options, sink, summary, ids, report, progress) -> None:
    """Evaluate in this process (for tests and tiny runs; a worker crash would end the run)."""
    for chunk in inputs.chunks(items, 64):
        outcomes = [process(item, kb, options) for item in chunk]
        sink.write(b"".join(o.line for o in outcomes))
        for outcome in outcomes:
            report(outcome, summary, ids)
        progress.update(summary.cases)


def _run_pool(items, settings: Settings, sink, summary, ids, report, progress, total) -> None:
    from cdss.batch.executors import DaskExecutor, LocalExecutor
    jobs = max(1, settings.jobs)
    size = settings.chunk_size or max(1, min(64, (total or 64 * jobs * 4) // (jobs * 4)))
    if settings.executor == "dask":
        executor = DaskExecutor(settings.scheduler, settings.rules_dir, settings.options)
    else:
        executor = LocalExecutor(jobs, settings.rules_dir, settings.options)
    window: deque = deque()
    chunks = inputs.chunks(items, size)
    limit = jobs * 4

    def fill() -> None:
        while len(window) < limit:
            chunk = next(chunks, None)
            if chunk is None:
                return
            window.append([chunk, executor.submit(chunk)])

    try:
        fill()
        while window:
            chunk, future = window.popleft()
            try:
                outcomes = future.result()
            except BaseException as error:
                if not executor.is_worker_death(error):
                    raise
                outcomes = _isolate(chunk, executor, settings, error)
                for entry in window:  # the rest of the window died with the pool: send again
                    entry[1] = executor.submit(entry[0])
            sink.write(b"".join(o.line for o in outcomes))
            for outcome in outcomes:
                report(outcome, summary, ids)
            progress.update(summary.cases)
            fill()
    finally:
        executor.shutdown()


def _isolate(chunk, executor, settings: Settings, error: BaseException) -> list[Outcome]:
    """A worker died inside this chunk: rebuild the pool and run its cases one by one, so that only the
    case that kills a worker becomes an error record."""
    from cdss.io import cases
    from cdss.batch.worker import _error, knowledge_base
    executor.restart()
    outcomes = []
    for item in chunk:
        try:
            outcomes.extend(executor.submit([item]).result())
        except BaseException as again:
            if not executor.is_worker_death(again):
                raise
            executor.restart()
            kb = knowledge_base(settings.rules_dir, settings.options.profile)
            try:
                data = cases.decode(item.raw, item.source) if item.raw is not None else None
            except Exception:
                data = None
            outcomes.append(_error(item, kb, settings.options, data, "",
                                   f"the worker process died while evaluating this case ({type(again).__name__}); "
                                   "the pool was rebuilt and the run went on"))
    return outcomes
