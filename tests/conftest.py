"""Fixtures shared by every area: one small synthetic county and its processed folder.

Built once per test worker with the real generator and the real pipeline (no stand-ins),
then reused read-only. Tests that change data copy what they need into their own tmp_path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

END = date(2026, 9, 30)
KEY = "test-pseudonym-key-not-secret"


@dataclass(frozen=True)
class County:
    raw: Path  # partner extracts, including truth/ and quarantine/
    processed: Path  # output of the feature pipeline
    as_of: date
    key: str  # the pseudonym key used for `processed`


@pytest.fixture(scope="session")
def pseudonym_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    return KEY


@pytest.fixture(scope="session")
def small_county(tmp_path_factory: pytest.TempPathFactory) -> County:
    """3,000 residents, 1% faults, seed 7, processed as of the window's last day."""
    from features.build import build
    from signpost.settings import Settings
    from synthetic.generate import generate_county

    base = tmp_path_factory.mktemp("small_county")
    raw, processed = base / "raw", base / "processed"
    generate_county(raw, citizens=3_000, seed=7, months=24, end=END, error_rate=0.01, fmt="csv")
    settings = Settings(pseudonym_key=KEY, data_dir=base / "data")
    build(raw, processed, as_of=END, quarantine=None, engine="duckdb", settings=settings)
    return County(raw=raw, processed=processed, as_of=END, key=KEY)
