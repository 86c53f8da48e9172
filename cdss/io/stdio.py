"""Standard output pointed at /dev/null, for a process that must not (or can no longer) write there."""

from __future__ import annotations

import os


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null. A batch worker never writes there, and a pipe's reader waits for
    every holder of its write end; after a closed pipe (`| head`) the interpreter's last flush cannot fail."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except OSError:
        pass
