"""A real PostgreSQL server for the feedback store's tests.

CI (.ci/postgres.sh) starts a throwaway cluster and exports CDSS_TEST_POSTGRES_URL. Without it, a test
session starts its own cluster in a temporary folder with Debian's initdb and pg_ctl (as the `postgres`
user when run as root), on a free loopback port, and stops and removes it at the end. Where neither is
possible the tests that need it are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid

from tests.helpers.server import free_port

ENV = "CDSS_TEST_POSTGRES_URL"


def _binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


@contextlib.contextmanager
def cluster():
    """Yields a postgresql:// URL, or a str starting with 'skip:' saying why there is none."""
    if os.environ.get(ENV):
        yield os.environ[ENV]
        return
    bindir = _binaries()
    if bindir is None:
        yield "skip: PostgreSQL is not installed (Debian package `postgresql`; .ci/run installs it)"
        return
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            yield "skip: running as root without runuser, cannot start PostgreSQL as the postgres user"
            return
        as_user = ["runuser", "-u", "postgres", "--"]
    folder = tempfile.mkdtemp(prefix="cdss-pg-")
    if as_user:
        shutil.chown(folder, "postgres", "postgres")
    data = os.path.join(folder, "data")
    port = free_port()
    started = False
    try:
        init = subprocess.run(as_user + [f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "cdss", "-E", "UTF8"],
                              capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            yield f"skip: initdb failed: {init.stderr.strip()[:200]}"
            return
        start = subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(folder, "log"), "-w", "-t", "60",
                                          "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                               capture_output=True, text=True, timeout=120)
        if start.returncode != 0:
            yield f"skip: PostgreSQL did not start: {start.stderr.strip()[:200]}"
            return
        started = True
        yield f"postgresql://cdss@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(url: str) -> str:
    """A new, empty database on the server (each test its own), as a URL."""
    import sqlalchemy as sa

    name = "cdss_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine("postgresql+psycopg://" + url.split("://", 1)[1], isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + 30
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            break
        except sa.exc.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name
