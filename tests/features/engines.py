"""Comparing two processed folders built from the same extract by different engines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: Manifest entries that describe the data (not the run: times, engine, paths, build time).
SAME_IN_MANIFEST = ("rows", "after_as_of", "events_by_source", "consent_snapshot_id", "shape", "matrices",
                    "personalisation_citizens", "early_help", "research", "sensitive_services", "erasure",
                    "quarantine_gate", "linkage", "pseudonym_key_id")


#: Keys inside a manifest entry that time the run rather than describe the data (the linkage's steps).
RUN_KEYS = ("timings", "seconds")


def _data(entry):
    """A manifest entry without the keys that time the run."""
    if isinstance(entry, dict):
        return {k: _data(v) for k, v in entry.items() if k not in RUN_KEYS}
    return entry


def _frame(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame.reset_index(drop=True)


#: Quarantine files with numbers a person reads (compared as numbers, to the caller's tolerance).
NUMERIC_QUARANTINE_COLUMNS = {"linkage_review.csv": ("match_probability", "runner_up", "margin_bits")}


def assert_same_outputs(left: Path, right: Path, left_quarantine: Path, right_quarantine: Path,
                        *, rtol: float = 1e-12) -> list[str]:
    """Every output file and quarantine file of ``left`` equals ``right``'s; returns the names compared.

    Floating-point columns of frames agree to ``rtol``; everything else exactly.
    """
    names = sorted(str(p.relative_to(left)) for p in left.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(right)) for p in right.rglob("*") if p.is_file())
    for name in names:
        a, b = left / name, right / name
        if name.endswith(".npz"):
            x, y = sp.load_npz(a).tocsr(), sp.load_npz(b).tocsr()
            assert x.shape == y.shape and x.nnz == y.nnz, name
            assert np.array_equal(x.indptr, y.indptr) and np.array_equal(x.indices, y.indices), name
            # Sums of decayed weights in another order can round to the neighbouring float32
            # (one unit in the last place, about 6e-8 relative): two units are allowed, no more.
            np.testing.assert_allclose(x.data, y.data, rtol=2 * np.finfo(x.dtype).eps, err_msg=name)
        elif name == "manifest.json":
            ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
            for key in SAME_IN_MANIFEST:
                assert _data(ma[key]) == _data(mb[key]), key
        elif name.endswith((".parquet", ".csv")):
            pd.testing.assert_frame_equal(_frame(a), _frame(b), check_exact=False, rtol=rtol, obj=name)
        else:
            assert a.read_bytes() == b.read_bytes(), name
    quarantined = sorted(p.name for p in left_quarantine.glob("*.csv"))
    assert quarantined == sorted(p.name for p in right_quarantine.glob("*.csv"))
    for name in quarantined:
        a, b = _frame(left_quarantine / name), _frame(right_quarantine / name)
        for column in NUMERIC_QUARANTINE_COLUMNS.get(name, ()):
            a[column], b[column] = a[column].astype(float), b[column].astype(float)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=rtol, atol=rtol, obj=name)
    return names + [f"quarantine/{n}" for n in quarantined]
