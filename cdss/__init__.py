"""cdss: clinical decision support for adults whose hip and knee hurt at the same time.

Decision support, not diagnosis: every output is advice for a clinician to weigh.

The public facade::

    import cdss
    knowledge = cdss.load_knowledge()              # the shipped rules, or load_knowledge("my/rules")
    case = cdss.read_case("case.json")             # or cdss.case_from_dict({...})
    result = cdss.evaluate(case, knowledge)        # a frozen Result; result.to_dict("nl") for Dutch
    result = cdss.evaluate(case, knowledge, engine="direct")  # the same bytes without durable-rules

Names load lazily, so that `import cdss` (and every `cdss` command) pays only for what it uses.
"""

from __future__ import annotations

import os as _os
import signal as _signal
import sys as _sys


def _interrupted_while_starting(signum, frame) -> None:
    raise SystemExit(130)


if (_sys.argv and (_sys.argv[0] == "-m" or _os.path.basename(_sys.argv[0]) == "cdss")
        and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler):
    # Started as the `cdss` program: a Ctrl-C while it is still importing ends it quietly with 130, as one
    # later does (cdss.cli takes over once it runs a command). Here, first of all, so that no import of
    # cdss's own can print a KeyboardInterrupt traceback; an in-process caller (a test, an application
    # that imports cdss) keeps its own handler.
    _signal.signal(_signal.SIGINT, _interrupted_while_starting)

import importlib  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

__version__ = "0.1.0"

_EXPORTS = {
    "evaluate": "cdss.engine",
    "load_knowledge": "cdss.kb.loader",
    "read_case": "cdss.io.cases",
    "case_from_dict": "cdss.io.cases",
    "Case": "cdss.model",
    "Result": "cdss.model",
    "ErrorResult": "cdss.model",
    "KnowledgeBase": "cdss.kb.rules",
    "CdssError": "cdss.errors",
    "CaseError": "cdss.errors",
    "RuleFileError": "cdss.errors",
}
__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from cdss.engine import evaluate
    from cdss.errors import CaseError, CdssError, RuleFileError
    from cdss.io.cases import case_from_dict, read_case
    from cdss.kb.loader import load_knowledge
    from cdss.kb.rules import KnowledgeBase
    from cdss.model import Case, ErrorResult, Result


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cdss' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
