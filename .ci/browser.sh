#!/usr/bin/env bash
# Install Debian's chromium for the audit page's headless-browser test (tests/test_audit_html.py).
# Quiet and non-interactive; does nothing when a chromium is already installed. Never fails the run:
# without a browser that test says so and is skipped.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "browser: $(command -v chromium || command -v chromium-browser) already installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "browser: not root and no sudo; chromium not installed (the browser test will be skipped)" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -qq >/dev/null 2>&1 \
   && $SUDO apt-get install -y -qq -o Dpkg::Use-Pty=0 chromium >/dev/null 2>&1; then
  echo "browser: chromium installed ($(chromium --version 2>/dev/null | head -1))"
else
  echo "browser: apt-get could not install chromium (the browser test will be skipped)" >&2
fi
exit 0
