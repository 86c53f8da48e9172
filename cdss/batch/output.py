"""Where batch results go, so that nothing is lost: standard output, or `-o FILE` written safely.

A run into FILE writes FILE.partial and renames it into place when the run ends, so that FILE holds
either the previous run's results or this run's, never a mixture, and a run that cannot start (rules
that do not compile, a scheduler out of reach) leaves FILE as it was. Records are written a chunk at a
time with unbuffered writes, so a killed run leaves whole records in FILE.partial but perhaps a torn
last one; `--resume` drops that, checks that what is there belongs to this run, and continues it
(or, when no FILE.partial is left, continues FILE itself).

One writer at a time: every run into FILE holds an exclusive lock on FILE.partial (flock) until it
ends, so a second run into the same file is refused instead of interleaving with the first.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import sys
from pathlib import Path

from cdss.errors import CdssError

PARTIAL = ".partial"


class OutputError(CdssError):
    """The output cannot be written, or is another run's."""


def partial_of(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL)


def _regular(path: Path) -> bool | None:
    """True for a regular file, False for something else (a device, a fifo), None when absent."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None


class Output:
    """The destination of one run's records. Open it with `claim`, then `begin` once the run can start."""

    def __init__(self, path: Path | None):
        if path is not None and path.is_symlink() and _regular(path) is not False:
            # the results go where the link points, the link stays (/dev/stdout: written directly, below)
            path = Path(os.path.realpath(path))
        self.path = path  # None: standard output
        self.partial = partial_of(path) if path is not None else None
        self.target: Path | None = None  # the file the records go to
        self.lock_fd: int | None = None
        self.fd: int | None = None
        self.created_lock = False
        self.special = False  # a device or fifo named by -o: written directly, never renamed

    @property
    def name(self) -> str:
        return str(self.target or self.path) if self.path is not None else "<stdout>"

    # -- before the run -------------------------------------------------------------------------
    def claim(self, resume: bool) -> None:
        """Check that the output can be written and take the writer's lock; nothing is truncated yet."""
        if self.path is None:
            try:
                os.fstat(1)
            except OSError:
                raise OutputError("standard output is closed: give -o FILE for the results") from None
            return
        kind = _regular(self.path)
        if kind is False:
            if resume:
                raise OutputError(f"{self.path}: --resume needs a regular file, not a device or a fifo")
            self.special = True
            return
        folder = self.path.parent
        if not folder.is_dir():
            raise OutputError(f"{self.path}: {folder} is not a folder" if folder.exists()
                              else f"{self.path}: the folder {folder} does not exist")
        self._lock()
        if resume and not self._has_records(self.partial) and self._has_records(self.path):
            self.target = self.path  # a finished (or pre-partial) run's file: continued where it is
        else:
            self.target = self.partial

    def _lock(self) -> None:
        while True:
            try:
                existed = self.partial.exists()
                fd = os.open(self.partial, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                raise OutputError(f"{self.path}: cannot write {self.partial}: {error.strerror or error}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(fd)
                if error.errno in (errno.EAGAIN, errno.EACCES):
                    raise OutputError(f"{self.path}: another cdss run is writing this file; wait for it to end, "
                                      "or write to another file") from None
                raise OutputError(f"{self.path}: cannot lock {self.partial}: {error.strerror or error}") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.partial).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the other run renamed it into place between our open and our lock: again
                self.lock_fd, self.created_lock = fd, not existed
                return
            os.close(fd)

    @staticmethod
    def _has_records(path: Path) -> bool:
        try:
            return path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def resumable(self) -> Path | None:
        """The file a resumed run continues (None when there is nothing to continue)."""
        if self.target is None or not self._has_records(self.target):
            return None
        return self.target

    def begin(self, keep: int | None) -> None:
        """Open for writing: truncated to `keep` bytes (the records a resume keeps; None: none at all)."""
        if self.path is None:
            sys.stdout.flush() if sys.stdout is not None else None
            self.fd = 1
            return
        if self.special:
            try:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
            except OSError as error:
                raise OutputError(f"{self.path}: cannot write: {error.strerror or error}") from None
            return
        try:
            if self.target == self.partial:
                self.fd = os.dup(self.lock_fd)
            else:
                self.fd = os.open(self.target, os.O_WRONLY | os.O_CLOEXEC)
            os.ftruncate(self.fd, keep or 0)
            os.lseek(self.fd, 0, os.SEEK_END)
        except OSError as error:
            raise OutputError(f"{self.target}: cannot write: {error.strerror or error}") from None

    # -- during the run --------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """All of `data` in as few writes as the OS allows: a killed run leaves whole chunks."""
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    # -- after it ----------------------------------------------------------------------------------
    def finish(self) -> None:
        """The run is complete: FILE.partial becomes FILE (atomically, after its bytes reach the disk)."""
        if self.path is None or self.special:
            self.close()
            return
        try:
            os.fsync(self.fd)
            if self.target == self.partial:
                os.replace(self.partial, self.path)
            elif os.fstat(self.lock_fd).st_size == 0:  # only the lock: FILE itself was continued
                os.unlink(self.partial)
        except OSError as error:
            raise OutputError(f"{self.path}: cannot put the results in place: {error.strerror or error}; "
                              f"they are complete in {self.target}") from None
        finally:
            self.close()

    def abandon(self) -> None:
        """The run never began writing: leave no trace of it (an empty lock file it made is removed)."""
        if self.lock_fd is not None and self.created_lock and self.fd is None:
            try:
                if os.fstat(self.lock_fd).st_size == 0:
                    os.unlink(self.partial)
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        for fd in (self.fd, self.lock_fd):
            if fd is not None and fd > 2:
                os.close(fd)
        self.fd = self.lock_fd = None
