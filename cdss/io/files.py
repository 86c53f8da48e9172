"""Writing a report or summary file whole or not at all, and never replacing what is not a file.

A page or summary goes to PATH.partial and is renamed over PATH once complete, so that a full disk or a
kill leaves the previous file (or none), never half of one. What PATH names decides how: a symlink is
followed (the results go where it points; the link stays), and a device or a fifo (/dev/stdout,
/dev/null, a named pipe) is written directly: renaming a file over it would replace the device node
itself (as root, /dev/null).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def special(path: str | Path) -> bool:
    """True when `path` (followed through symlinks) is a device, a fifo or a socket: something to write to,
    never to rename over."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_whole(path: str | Path, data: bytes) -> None:
    """`data` into `path`, whole or not at all. Raises OSError (naming nothing: the caller names the file)."""
    path = Path(path)
    if special(path):
        with open(path, "wb") as handle:
            handle.write(data)
        return
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    partial = target.with_name(target.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
        os.replace(partial, target)
    except BaseException:
        try:
            partial.unlink()
        except OSError:
            pass
        raise
