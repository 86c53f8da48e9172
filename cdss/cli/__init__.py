"""The `cdss` command: a click group whose commands each live in a module of their own.

Commands load lazily: `cdss evaluate` on one case should not pay for importing the audit, synth or batch
machinery. Exit codes are the same for every command (options.py): 0 ok, 1 findings or failed checks or
invalid input, 2 usage error, 3 internal error, 130 Ctrl-C, 143 SIGTERM, and 141, quietly, when the reader
of standard output went away (as Unix tools end). Errors are one line on stderr, never a traceback (set
CDSS_DEBUG=1 to see one).
"""

from __future__ import annotations

import importlib
import io
import os
import signal
import sys

import click

from cdss import _interrupted_while_starting  # a Ctrl-C while `cdss` starts: exit 130 quietly (see there)
from cdss.cli.options import (ENVIRONMENT, EXIT_CODES, INTERRUPTED, PIPE_CLOSED, TERMINATED, USAGE,
                              fail, internal_error)
from cdss.errors import CdssError, Terminated

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
    "diff": ("cdss.cli.diff", "diff_command"),
    "test": ("cdss.cli.test", "test_command"),
}

EPILOG = "\b\n" + EXIT_CODES + "\n\n\b\nEnvironment:\n" + "\n".join(
    f"  {name:<13} {what}" for name, what in ENVIRONMENT.items()) + """

\b
Defaults for --rules, --profile, --lang and --jobs may also come from [tool.cdss] in a pyproject.toml
or from a cdss.toml in the working folder (the command line wins, then the environment, then the file).

\b
Shell completion (rule ids for `rules show`, codes for `--why-not`):
  bash: eval "$(_CDSS_COMPLETE=bash_source cdss)"     (in ~/.bashrc)
  zsh:  eval "$(_CDSS_COMPLETE=zsh_source cdss)"      (in ~/.zshrc)
  fish: _CDSS_COMPLETE=fish_source cdss | source      (in ~/.config/fish/completions/cdss.fish)"""


class _Group(click.Group):
    """Imports a command's module only when it is asked for, and turns any unexpected exception into one
    line and exit 3 (a traceback only with CDSS_DEBUG=1)."""

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
        if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        previous = signal.signal(signal.SIGTERM, _terminate)
        if sys.stdout is None:  # started with standard output closed (`>&-`)
            sys.stdout = _ClosedOutput()
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("cdss: interrupted", err=True)
            sys.exit(INTERRUPTED)
        except Terminated:
            click.echo("cdss: terminated", err=True)
            sys.exit(TERMINATED)
        except BrokenPipeError:
            from cdss.io.stdio import silence_stdout
            silence_stdout()  # the reader stopped reading (`| head`): end quietly, as Unix tools do
            sys.exit(PIPE_CLOSED)
        except CdssError as error:
            from cdss.cli.config import ConfigError
            fail(str(error), USAGE if isinstance(error, ConfigError) else 1)
        except Exception as error:  # the last line of defence: a bug, reported as one
            if os.environ.get("CDSS_DEBUG"):
                raise
            internal_error(error)
        finally:
            signal.signal(signal.SIGTERM, previous)


def _terminate(signum, frame) -> None:
    """SIGTERM stops a command as cleanly as Ctrl-C: its cleanup runs, then it exits 143."""
    raise Terminated()


class _ClosedOutput(io.TextIOBase):
    """Standard output when the process started without one: writing to it is an error the user sees,
    not a result silently lost (`cdss evaluate case >&-` exited 0)."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise CdssError("cannot write the output: standard output is closed (give -o FILE where there is one)")


def _print_version(ctx: click.Context, param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from cdss.cli.version import describe
    text, ok = describe()
    click.echo(text)
    ctx.exit(0 if ok else 1)


@click.group(cls=_Group, epilog=EPILOG)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the versions of cdss, the knowledge base (and its sha256), the profile and "
                   "durable-rules, and exit.")
def main() -> None:
    """Clinical decision support for adults whose hip and knee hurt at the same time.

    Decision support, not diagnosis: every output is advice for a clinician to weigh.
    """
