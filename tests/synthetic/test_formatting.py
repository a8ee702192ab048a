"""Properties of the vectorised helpers: dates, ids, postcodes and sampling."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from synthetic import text
from synthetic.calendar import age_on, blocks, day_number, months_before, year_month_day
from synthetic.generate import _scrambled, person_ids
from synthetic.usage import _sample_from_table, _sample_rows
from tests.synthetic.contract_check import normalised_postcode

days = st.integers(day_number(date(1900, 1, 1)), day_number(date(2100, 12, 31)))


@given(st.lists(days, min_size=1, max_size=50))
def test_dates_are_iso(values):
    expected = [(date(1970, 1, 1) + timedelta(days=v)).isoformat() for v in values]
    assert text.dates(np.array(values)).to_pylist() == expected


@given(st.lists(st.integers(0, 4_000_000_000), min_size=1, max_size=50))
def test_timestamps_are_iso(seconds):
    expected = [(datetime(1970, 1, 1) + timedelta(seconds=s)).isoformat() for s in seconds]
    assert text.timestamps(np.array(seconds)).to_pylist() == expected


@given(st.lists(st.integers(0, 10**9 - 1), min_size=1, max_size=50), st.sampled_from(["P", "H", "CW", ""]))
def test_ids_are_zero_padded(numbers, prefix):
    assert text.ids(prefix, np.array(numbers), 9).to_pylist() == [f"{prefix}{n:09d}" for n in numbers]


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=50, unique=True))
def test_person_ids_never_collide(index):
    ids = person_ids(np.array(index)).to_pylist()
    assert len(set(ids)) == len(ids)
    assert len(set(_scrambled(np.array(index), (387_420_489, 1)))) == len(index)


@given(st.data())
def test_postcodes_are_valid_and_keep_their_district(data):
    names = np.array(["PO7", "SO23", "GU51", "SP6"])
    idx = np.array(data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=30)))
    inward = np.array(
        [[48 + data.draw(st.integers(0, 9)), 65, 66] for _ in idx], dtype=np.uint8
    )
    out = text.postcodes(names, idx, inward).to_pylist()
    for code, i in zip(out, idx):
        assert code.split(" ")[0] == names[i] and normalised_postcode(code) == code


@given(st.dates(date(1950, 1, 1), date(2100, 12, 31)), st.integers(-120, 120))
def test_months_before_matches_pandas(d, months):
    expected = (pd.Timestamp(d) - pd.DateOffset(months=months)).date()
    assert months_before(d, months) == expected


@given(st.dates(date(1900, 1, 1), date(2030, 12, 31)), st.dates(date(1900, 1, 1), date(2030, 12, 31)))
def test_age_counts_birthdays(birth, on):
    if birth > on:
        birth, on = on, birth
    expected = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    assert int(age_on(year_month_day(np.array([day_number(birth)])), day_number(on))[0]) == expected


@given(st.dates(date(2015, 1, 1), date(2035, 12, 31)), st.integers(12, 120))
def test_blocks_tile_the_window(end, months):
    b = blocks(end, months)
    assert b.start[0] == day_number(months_before(end, months))
    assert (b.start[1:] == b.stop[:-1]).all() and (b.stop > b.start).all()
    assert b.stop[-1] == day_number(end) + 1
    assert b.start[-1] == day_number(months_before(end, 3))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 12))
def test_sampling_never_picks_a_zero_weight(seed, n_rows, n_cols):
    rng = np.random.default_rng(seed)
    weights = (rng.random((n_rows, n_cols)) * (rng.random((n_rows, n_cols)) < 0.5)).astype(np.float32)
    weights[:, 0] += (weights.sum(axis=1) == 0)  # every row can be drawn from
    rows = np.sort(rng.integers(0, n_rows, 200))
    picked = _sample_rows(rng, weights, rows)
    assert (weights[rows, picked] > 0).all()
    picked = _sample_from_table(rng, weights.astype(np.float64), rows[::-1].copy())
    assert (weights[rows[::-1], picked] > 0).all()


def test_sampling_follows_the_weights():
    rng = np.random.default_rng(0)
    weights = np.array([[1.0, 3.0, 0.0, 6.0]], dtype=np.float32)
    picked = _sample_rows(rng, weights, np.zeros(100_000, dtype=np.int64))
    share = np.bincount(picked, minlength=4) / len(picked)
    assert np.allclose(share, [0.1, 0.3, 0.0, 0.6], atol=0.01)
