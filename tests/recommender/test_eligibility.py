"""Eligibility rules: age band inside the range, district offered, active only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.eligibility import age_eligible, district_eligible, eligible, eligible_from_frames


def test_whole_band_must_fit_the_age_range() -> None:
    bands_min = np.array([16, 18, 75, 60])
    bands_max = np.array([17, 24, 120, 64])
    mask = age_eligible(bands_min, bands_max, [18, None, 16, 60], [None, 17, 24, 65])
    # service 0: 18+ ; service 1: up to 17 ; service 2: 16-24 ; service 3: 60-65
    expected = np.array([
        [False, True, True, False],
        [True, False, True, False],
        [True, False, False, False],
        [True, False, False, True],
    ])
    np.testing.assert_array_equal(mask, expected)


def test_unknown_age_only_gets_unbounded_services() -> None:
    mask = age_eligible(np.array([np.nan]), np.array([np.nan]), [None, 18, None], [None, None, 64])
    np.testing.assert_array_equal(mask, [[True, False, False]])


def test_districts_and_wildcard() -> None:
    mask = district_eligible(["so23", "PO9", None], [["*"], ["SO23"], ["PO9", "GU14"]])
    np.testing.assert_array_equal(mask, [[True, True, False], [True, False, True], [True, False, False]])


def test_inactive_never_allowed_and_means_tested_allowed() -> None:
    mask = eligible(np.array([30]), np.array([34]), ["SO23"], [None, None], [None, None], [["*"], ["*"]], [True, False])
    np.testing.assert_array_equal(mask, [[True, False]])


def test_from_frames_with_nullable_columns() -> None:
    citizens = pd.DataFrame({"age_min": [0, 65], "age_max": [4, 74], "postcode_district": ["SO23", "PO9"]})
    services = pd.DataFrame({
        "min_age": pd.array([None, 65], dtype="Int64"),
        "max_age": pd.array([4, None], dtype="Int64"),
        "districts": [np.array(["*"]), np.array(["PO9"])],
        "active": [True, True],
    })
    np.testing.assert_array_equal(eligible_from_frames(citizens, services), [[True, False], [False, True]])
