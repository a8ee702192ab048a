#!/usr/bin/env bash
# Runs the whole test suite (two workers: this machine has two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
