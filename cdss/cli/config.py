"""Defaults a project sets once: `[tool.cdss]` in a `pyproject.toml`, or a `cdss.toml`, in the working folder.

A knowledge author's repository keeps its rule folder, profile, language and worker count there, so that
`cdss test`, `cdss diff` and the rest need no options. Precedence, highest first: the command line, the
environment (`CDSS_RULES`, `CDSS_PROFILE`, `CDSS_LANG`, `CDSS_JOBS`), the config file, the built-in default.
A config file is read strictly, like a rule file: an unknown key or a value of the wrong type is an error
naming the file and the key, never silently ignored.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from attrs import frozen

from cdss.errors import CdssError

FILES = ("cdss.toml", "pyproject.toml")  # searched in this order; the first that has cdss settings wins
PROFILES = ("nice", "nhg")
LANGS = ("en", "nl")
ENV = {"rules": "CDSS_RULES", "profile": "CDSS_PROFILE", "lang": "CDSS_LANG", "jobs": "CDSS_JOBS"}


class ConfigError(CdssError):
    """A config file that cdss cannot use (a usage error: exit 2)."""


@frozen
class Config:
    """The project's defaults; None where the file says nothing. `file` is where they came from."""

    rules: Path | None = None
    profile: str | None = None
    lang: str | None = None
    jobs: int | None = None
    file: Path | None = None


def _check(file: Path, table: dict) -> Config:
    where = f"{file}: [tool.cdss]" if file.name == "pyproject.toml" else str(file)
    unknown = sorted(set(table) - set(ENV))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; cdss reads {', '.join(ENV)}")
    rules = table.get("rules")
    if rules is not None and not (isinstance(rules, str) and rules):
        raise ConfigError(f"{where}: 'rules' must be a folder path (got {rules!r})")
    profile = table.get("profile")
    if profile is not None and profile not in PROFILES:
        raise ConfigError(f"{where}: 'profile' must be one of {', '.join(PROFILES)} (got {profile!r})")
    lang = table.get("lang")
    if lang is not None and lang not in LANGS:
        raise ConfigError(f"{where}: 'lang' must be one of {', '.join(LANGS)} (got {lang!r})")
    jobs = table.get("jobs")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ConfigError(f"{where}: 'jobs' must be a whole number of at least 1 (got {jobs!r})")
    # A relative rule folder is relative to the config file, so the file means the same from anywhere.
    return Config(rules=(file.parent / rules) if rules else None, profile=profile, lang=lang, jobs=jobs, file=file)


def read(folder: Path) -> Config:
    """The defaults found in `folder` (no file: all None)."""
    for name in FILES:
        path = folder / name
        if not path.is_file():
            continue
        import tomllib  # only when there is a file to read: most runs have none (~1 % of a cold evaluate)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        if name == "pyproject.toml":
            table = data.get("tool", {}).get("cdss")
            if table is None:
                continue
        else:
            table = data  # cdss.toml holds the keys at its top level
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: the cdss settings must be a table")
        return _check(path, table)
    return Config()


def current() -> Config:
    """The working folder's defaults (read once per folder and process)."""
    return _read_cached(str(Path.cwd()))


@functools.lru_cache(maxsize=8)
def _read_cached(folder: str) -> Config:
    return read(Path(folder))


def default(key: str, fallback=None):
    """One default: the environment variable, then the config file, then `fallback`."""
    raw = os.environ.get(ENV[key])
    if raw:
        if key == "jobs":
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{ENV[key]}={raw!r}: must be a whole number of at least 1") from None
            if value < 1:
                raise ConfigError(f"{ENV[key]}={raw!r}: must be a whole number of at least 1")
            return value
        if key == "profile" and raw not in PROFILES:
            raise ConfigError(f"{ENV[key]}={raw!r}: must be one of {', '.join(PROFILES)}")
        if key == "lang" and raw not in LANGS:
            raise ConfigError(f"{ENV[key]}={raw!r}: must be one of {', '.join(LANGS)}")
        return Path(raw) if key == "rules" else raw
    value = getattr(current(), key)
    return fallback if value is None else value
