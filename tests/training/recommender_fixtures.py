"""A processed folder written from the tiny in-memory county (fast; no generator needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import sparse

from tests.recommender.conftest import make_county


def write_processed(directory: Path, *, n_citizens: int = 600, seed: int = 0) -> Path:
    county = make_county(n_citizens=n_citizens, n_services=30, seed=seed)
    directory.mkdir(parents=True, exist_ok=True)
    citizens = county.citizens.copy()
    rng = np.random.default_rng(seed)
    citizens["ethnicity"] = rng.choice(["White", "Asian", "Black", "Mixed"], len(citizens))
    citizens["disability"] = rng.random(len(citizens)) < 0.15
    citizens.to_parquet(directory / "citizens.parquet")
    county.services.to_parquet(directory / "services.parquet")
    for window in ("train", "test", "all"):
        sparse.save_npz(directory / f"interactions_{window}.npz", getattr(county, window))
    (directory / "manifest.json").write_text(json.dumps({
        "as_of": "2026-09-30", "split_date": "2026-06-30", "consent_snapshot_id": "test-snapshot",
        "pseudonym_key_id": "test-key", "rows": {},
    }))
    return directory
