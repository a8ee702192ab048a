"""Pyflakes' checks over every package: no undefined names, unused imports or unused variables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["signpost", "synthetic", "features", "recommender", "training", "serving", "benchmarks", "tests"]


def test_no_pyflakes_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "F", "--output-format", "concise", *PACKAGES],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
