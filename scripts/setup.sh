#!/usr/bin/env bash
# Sets up everything Signpost needs on a fresh Debian machine: a virtualenv with the pinned
# Python packages, Debian's chromium for the browser tests, and the front-end assets.
# Idempotent: re-running skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
echo "==> installing Python packages (pinned by constraints.txt)"
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
