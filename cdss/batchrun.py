"""Evaluate many case files in order; every input yields one result or one error record.

The sequential core of `cdss batch`: reading, evaluating and checking one file at a time, so that one
bad case never stops the others.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import cases, expectations, render
from .engine import evaluate
from .errors import CaseError, EngineFault
from .knowledge import KnowledgeBase
from .model import ErrorResult


def evaluate_file(path: Path, kb: KnowledgeBase):
    """(case or None, result or error record) for one file; never raises for a bad case."""
    try:
        case = cases.read_case(str(path))
    except CaseError as error:
        return None, ErrorResult(None, kb.identity, error.file, error.pointer, error.message)
    try:
        return case, evaluate(case, kb)
    except EngineFault as error:
        return case, ErrorResult(case.id, kb.identity, str(path), "", f"engine fault: {error}")


def run_batch(paths: list[str], kb: KnowledgeBase, output: Path | None, check: bool, lang: str) -> int:
    sink = open(output, "w", encoding="utf-8") if output else sys.stdout
    total = errors = failed = 0
    seen: dict[str, str] = {}
    try:
        for path in cases.case_files(paths):
            total += 1
            case, result = evaluate_file(path, kb)
            if isinstance(result, ErrorResult):
                errors += 1
                click.echo(f"error: {result.file}: {result.pointer or '/'}: {result.message}", err=True)
            if case is not None:
                if case.id in seen:
                    click.echo(f"warning: duplicate case id {case.id!r} in {path} (first in {seen[case.id]})", err=True)
                seen.setdefault(case.id, str(path))
            sink.write(render.to_json(result, lang, indent=None) + "\n")
            if check and case is not None and "expected" in case.data and not isinstance(result, ErrorResult):
                diffs = expectations.differences(case.data["expected"], result.to_dict(lang))
                if diffs:
                    failed += 1
                    for diff in diffs:
                        click.echo(f"FAIL {case.id}: {diff}", err=True)
    finally:
        if output:
            sink.close()
    ok = total - errors
    click.echo(f"inputs: {total}, results: {ok}, errors: {errors}", err=True)
    if check:
        click.echo(f"check: {ok - failed} passed, {failed} failed", err=True)
    if total == 0:
        click.echo("error: no case files found", err=True)
        return 1
    return 1 if (errors or failed) else 0
