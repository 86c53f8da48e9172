"""The `cdss` command: a click group whose commands each live in a module of their own.

Commands load lazily: `cdss evaluate` on one case should not pay for importing the audit, synth or batch
machinery. Exit codes: 0 ok, 1 invalid input or a failed check, 2 usage error. Errors are one line on
stderr, never a traceback (set CDSS_DEBUG=1 to see one).
"""

from __future__ import annotations

import importlib
import os

import click

from cdss import __version__
from cdss.cli.options import fail
from cdss.errors import CdssError

# command name -> (module, attribute): the one list of what `cdss` can do.
COMMANDS = {
    "evaluate": ("cdss.cli.evaluate", "evaluate_command"),
    "validate": ("cdss.cli.validate", "validate_command"),
    "rules": ("cdss.cli.rules", "rules_group"),
    "batch": ("cdss.cli.batch", "batch_command"),
    "audit": ("cdss.cli.audit", "audit_group"),
    "synth": ("cdss.cli.synth", "synth_command"),
    "fhir": ("cdss.cli.fhir", "fhir_group"),
    "serve": ("cdss.cli.serve", "serve_command"),
    "feedback": ("cdss.cli.feedback", "feedback_group"),
}


class _Group(click.Group):
    """Imports a command's module only when it is asked for, and turns any unexpected exception into one
    line (a traceback only with CDSS_DEBUG=1)."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        if name not in self.commands:
            module, attribute = COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return self.commands[name]

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except CdssError as error:
            fail(str(error))
        except Exception as error:  # pragma: no cover - last line of defence
            if os.environ.get("CDSS_DEBUG"):
                raise
            fail(f"internal error: {type(error).__name__}: {error}")


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="cdss")
def main() -> None:
    """Clinical decision support for adults whose hip and knee hurt at the same time.

    Decision support, not diagnosis: every output is advice for a clinician to weigh.
    """
