"""One error family, one subclass per kind, so that every failure reaches the user as one clear line.

Each error names the file, the place in it (a JSON pointer, or a rule id and line) and what was
expected; the CLI prints `str(error)` and never a traceback.
"""

from __future__ import annotations


class CdssError(Exception):
    """Base of every error cdss reports to a user."""


class CaseError(CdssError):
    """A case file that cannot be read or does not follow the case contract."""

    def __init__(self, file: str, pointer: str, message: str):
        super().__init__(f"{file}: {pointer or '/'}: {message}")
        self.file = file
        self.pointer = pointer
        self.message = message


class RuleFileError(CdssError):
    """A rule file (or the knowledge base as a whole) that cannot be loaded."""

    def __init__(self, file: str, message: str, rule_id: str | None = None, line: int | None = None,
                 kind: str = "rule"):
        where = file if line is None else f"{file}:{line}"
        who = f" rule {rule_id if rule_id.isprintable() else repr(rule_id)}:" if rule_id else ""  # one line
        super().__init__(f"{where}:{who} {message}")
        self.file = file
        self.rule_id = rule_id
        self.line = line
        self.message = message
        self.kind = kind  # file (not readable as a rule file) | rule (one rule is wrong) | duplicate | reference | text


class EngineFault(CdssError):
    """durable-rules misbehaved on one case; the case gets an error result, never silence."""


class Terminated(BaseException):
    """The process was sent SIGTERM: raised from the signal handler so that a run stops as cleanly as on
    Ctrl-C (workers stopped, what was written kept), then exits 143 (128 + SIGTERM) as shells expect."""
