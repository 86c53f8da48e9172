"""`cdss --version`: everything that decides a result, so that a bug report or an audit trail can name it.

The same case gives the same bytes only under the same cdss, knowledge base (version and sha256 of its
files), profile and durable-rules; all four are printed, with where the rules came from.
"""

from __future__ import annotations

import platform
from importlib import metadata

from cdss import __version__
from cdss.cli import config
from cdss.errors import CdssError


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe() -> tuple[str, bool]:
    """The version text, and whether the knowledge base loaded."""
    from cdss import resources
    from cdss.kb.loader import load
    ok = True
    try:
        rules_dir = config.default("rules")
        profile = config.default("profile", "nice")
    except config.ConfigError as error:
        return f"cdss {__version__}\nconfig: {error}", False
    folder = rules_dir or resources.DEFAULT_RULES_DIR
    try:
        kb = load(folder, profile=profile)
        knowledge = f"knowledge base {kb.identity.version} (sha256 {kb.identity.sha256})"
        profile = kb.identity.profile
    except CdssError as error:
        knowledge, ok = f"knowledge base: does not load: {error}", False
    lines = [f"cdss {__version__}",
             knowledge,
             f"rules {folder}",
             f"profile {profile}",
             f"durable-rules {_package_version('durable_rules')}",
             f"python {platform.python_version()}"]
    return "\n".join(lines), ok
