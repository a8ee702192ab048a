"""Small synthetic counties shared by the generator's tests (generated once per session)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from synthetic.generate import generate_county

END = date(2026, 9, 30)


def make_county(folder: Path, *, citizens: int, seed: int, error_rate: float, fmt: str = "csv", months: int = 24) -> Path:
    generate_county(folder, citizens=citizens, seed=seed, months=months, end=END, error_rate=error_rate, fmt=fmt)
    return folder


@pytest.fixture(scope="session")
def clean_county(tmp_path_factory) -> Path:
    """20,000 residents, no faults: large enough for rates, fast enough for every run."""
    return make_county(tmp_path_factory.mktemp("clean"), citizens=20_000, seed=7, error_rate=0.0)


@pytest.fixture(scope="session")
def faulty_county(tmp_path_factory) -> Path:
    """3,000 residents with 5% faults, CSV."""
    return make_county(tmp_path_factory.mktemp("faulty"), citizens=3_000, seed=11, error_rate=0.05)


@pytest.fixture(scope="session")
def faulty_county_parquet(tmp_path_factory) -> Path:
    """The same county as `faulty_county`, written as Parquet."""
    return make_county(tmp_path_factory.mktemp("faulty_pq"), citizens=3_000, seed=11, error_rate=0.05, fmt="parquet")
