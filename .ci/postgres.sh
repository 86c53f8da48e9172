#!/usr/bin/env bash
# Install Debian's PostgreSQL and start a throwaway cluster for the feedback store's tests
# (tests/test_feedback_store.py). Prints `export CDSS_TEST_POSTGRES_URL=...` and the data folder on stdout
# for .ci/run to eval; `bash .ci/postgres.sh stop DIR` stops and removes it. Never fails the run: without a
# server those tests say why and are skipped (and a test session can start its own cluster).
set -uo pipefail
if [ "${1:-}" = "stop" ]; then
  dir="${2:-}"
  [ -n "$dir" ] && [ -d "$dir" ] || exit 0
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$dir"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "postgres: not root and no sudo; PostgreSQL not installed (its tests will be skipped)" >&2; exit 0
  fi
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  if ! { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq -o Dpkg::Use-Pty=0 postgresql >/dev/null 2>&1; }; then
    echo "postgres: apt-get could not install postgresql (its tests will be skipped)" >&2; exit 0
  fi
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
dir=$(mktemp -d /tmp/cdss-ci-pg-XXXXXX)
chown postgres:postgres "$dir" 2>/dev/null || $SUDO chown postgres:postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U cdss -E UTF8 >/dev/null 2>&1 \
   && runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1; then
  echo "postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
  echo "export CDSS_TEST_POSTGRES_URL=postgresql://cdss@127.0.0.1:$port/postgres"
  echo "export CDSS_CI_PG_DIR=$dir"
else
  echo "postgres: the cluster did not start (its tests will be skipped): $(tail -n 3 "$dir/log" 2>/dev/null)" >&2
  rm -rf "$dir"
fi
exit 0
