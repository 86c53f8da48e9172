"""`cdss diff`: evaluate a corpus under two rule-base versions and report whose advice changes, and how.

The two versions are resolved (folders, or git revisions written to a temporary folder), loaded once in
this process (so a version that does not load is one clear error before any case runs), and then the
corpus streams through worker processes that each hold both versions compiled: inputs in, differences
back, in input order, memory flat whatever the corpus size.
"""

from __future__ import annotations

import time
from pathlib import Path

from attrs import frozen

from cdss.diff import sources
from cdss.diff.report import DiffReport, rule_changes
from cdss.diff.worker import DiffWorker
from cdss.errors import CdssError


@frozen
class Settings:
    paths: tuple[str, ...]
    base: str  # a folder or a git revision
    new: str | None  # a folder or a git revision; None: the default rule folder
    rules_folder: Path  # the working-tree rules folder (whose path a git revision is read at)
    profile: str = "nice"
    jobs: int = 1
    show: frozenset | None = frozenset()  # case ids to show side by side; None: every changed case
    fail_on: tuple[str, ...] = ()
    engine: str = "durable"  # durable | direct (cdss.engine.ENGINES): both give the same bytes


def _identity(source: sources.RuleSource, kb) -> dict:
    out = source.to_dict()
    out.update(version=kb.identity.version, sha256=kb.identity.sha256, profile=kb.identity.profile)
    return out


def _load(source: sources.RuleSource, profile: str, option: str):
    from cdss.kb.loader import load
    try:
        return load(source.folder, profile=profile)
    except CdssError as error:
        raise CdssError(f"{option} {source.label}: the rules do not load: {error}") from None


def run(settings: Settings, progress=None) -> DiffReport:
    """The impact report. Temporary folders made for git revisions are removed before it returns."""
    started = time.monotonic()
    made: list[sources.RuleSource] = []
    try:
        base = sources.resolve(settings.base, settings.rules_folder, "--base")
        made.append(base)
        new = (sources.resolve(settings.new, settings.rules_folder, "--rules") if settings.new is not None
               else sources.RuleSource(settings.rules_folder, str(settings.rules_folder)))
        made.append(new)
        base_kb = _load(base, settings.profile, "--base")
        new_kb = _load(new, settings.profile, "--rules")
        added, removed, edited = rule_changes(base_kb, new_kb)
        report = DiffReport(_identity(base, base_kb), _identity(new, new_kb), added, removed, edited,
                            fail_on=settings.fail_on, jobs=settings.jobs)
        for diff in _diffs(settings, str(base.folder), str(new.folder)):
            report.add(diff)
            if progress is not None:
                progress(report.cases)
        report.seconds = time.monotonic() - started
        return report
    finally:
        for source in made:
            source.cleanup()


def _diffs(settings: Settings, base_dir: str, new_dir: str):
    """Every input's CaseDiff, in input order, from `settings.jobs` worker processes."""
    from cdss.io import inputs
    from cdss.batch.pool import ordered_map
    items = inputs.items(list(settings.paths))
    yield from ordered_map(DiffWorker, (base_dir, new_dir, settings.profile, settings.show, settings.engine), items, settings.jobs)
