"""The checks of `cdss audit rules`: small validator classes, one per module, each returning findings with a
severity (`context` holds what they share and the `Check` base class).

Every check works on the rule base as the one loader reads it in collecting mode, and the ones that need
to know what one case can make happen ask `cdss.audit.logic`, which follows chains of rules down to the
case fields. Where a question is answered "yes, one case can", the answer comes with a witness case;
when the rule base runs, the engine evaluates the witness, so that a conflict is only called an error
when the result a clinician would see really holds it.

A new check is a module here with one `Check` subclass; it joins the audit by its line below and its
place in `CHECKS`, which is the order the checks run and report their timings in.
"""

from __future__ import annotations

from cdss.audit.checks.capacity import CapacityCheck
from cdss.audit.checks.case_tests import TestCaseCheck
from cdss.audit.checks.conflicts import ConflictCheck
from cdss.audit.checks.context import AuditContext, Check
from cdss.audit.checks.facts import FactCheck
from cdss.audit.checks.load import LoadCheck
from cdss.audit.checks.reachability import ReachabilityCheck
from cdss.audit.checks.redundancy import RedundancyCheck
from cdss.audit.checks.texts import TextCheck
from cdss.audit.checks.thresholds import ThresholdCheck
from cdss.audit.checks.words import WordsCheck

CHECKS: tuple[type[Check], ...] = (
    LoadCheck,
    TextCheck,
    WordsCheck,
    FactCheck,
    ReachabilityCheck,
    ConflictCheck,
    RedundancyCheck,
    ThresholdCheck,
    TestCaseCheck,
    CapacityCheck,
)

__all__ = ["CHECKS", "AuditContext", "Check"]
