"""The same seed writes byte-identical files; a different seed writes a different county."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.synthetic.conftest import make_county


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_in_both_formats(tmp_path):
    for fmt in ("csv", "parquet"):
        a = make_county(tmp_path / f"a_{fmt}", citizens=1_500, seed=3, error_rate=0.02, fmt=fmt)
        b = make_county(tmp_path / f"b_{fmt}", citizens=1_500, seed=3, error_rate=0.02, fmt=fmt)
        hashes = _hashes(a)
        assert len(hashes) == 6 + 7  # six tables, seven truth files
        assert hashes == _hashes(b)


def test_chunks_are_independent_of_how_many_there_are(tmp_path, monkeypatch):
    """The first chunk of a bigger county is the same as a county of one chunk."""
    from synthetic import generate

    monkeypatch.setattr(generate, "CHUNK_CITIZENS", 1_000)
    small = make_county(tmp_path / "small", citizens=1_000, seed=5, error_rate=0.0)
    big = make_county(tmp_path / "big", citizens=2_500, seed=5, error_rate=0.0)
    small_lines = (small / "citizens.csv").read_text().splitlines()
    big_lines = (big / "citizens.csv").read_text().splitlines()
    assert big_lines[: len(small_lines)] == small_lines
    assert len(big_lines) == 2_501


def test_different_seed_different_county(tmp_path):
    a = make_county(tmp_path / "a", citizens=1_500, seed=3, error_rate=0.02)
    b = make_county(tmp_path / "b", citizens=1_500, seed=4, error_rate=0.02)
    ha, hb = _hashes(a), _hashes(b)
    for name in ("citizens.csv", "events.csv", "consents.csv", "truth/usage_probability.npy"):
        assert ha[name] != hb[name], name


def test_rerunning_into_the_same_folder_replaces_the_other_format(tmp_path):
    folder = make_county(tmp_path / "c", citizens=500, seed=1, error_rate=0.0, fmt="csv")
    make_county(folder, citizens=500, seed=1, error_rate=0.0, fmt="parquet")
    assert not list(folder.glob("*.csv")) and len(list(folder.glob("*.parquet"))) == 6
