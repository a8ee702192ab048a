"""A tiny random county built in memory: citizens, a catalogue with rules, and usage matrices.

Small enough that every model fits in well under a second; real enough (age bands, districts,
inactive, intervention and sensitive services, citizens without consent or history) to exercise
the rules.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from recommender.eligibility import eligible_from_frames
from recommender.segments import SegmentVocabulary

BANDS = [("0-4", 0, 4), ("5-10", 5, 10), ("11-15", 11, 15), ("16-17", 16, 17), ("18-24", 18, 24),
         ("25-34", 25, 34), ("35-49", 35, 49), ("50-59", 50, 59), ("60-64", 60, 64),
         ("65-74", 65, 74), ("75+", 75, 120)]
DISTRICTS = {"SO23": "Winchester", "PO9": "Havant", "GU14": "Rushmoor", "SO50": "Eastleigh"}


@dataclass
class TinyCounty:
    citizens: pd.DataFrame
    services: pd.DataFrame
    train: sparse.csr_matrix
    test: sparse.csr_matrix
    all: sparse.csr_matrix
    allowed: np.ndarray
    segments: np.ndarray
    households: np.ndarray  # household code per citizen, -1 for none (as training.recommender.household_codes)


def pseudonym(i: int) -> str:
    return hashlib.sha256(f"citizen-{i}".encode()).hexdigest()


def make_county(n_citizens: int = 400, n_services: int = 30, seed: int = 0) -> TinyCounty:
    rng = np.random.default_rng(seed)
    band_idx = rng.integers(0, len(BANDS), n_citizens)
    district = rng.choice(list(DISTRICTS), n_citizens)
    citizens = pd.DataFrame({
        "pseudonym": [pseudonym(i) for i in range(n_citizens)],
        "row": np.arange(n_citizens),
        "age_band": [BANDS[b][0] for b in band_idx],
        "age_min": [BANDS[b][1] for b in band_idx],
        "age_max": [BANDS[b][2] for b in band_idx],
        "postcode_district": district,
        "local_authority": [DISTRICTS[d] for d in district],
        "sex": rng.choice(["F", "M"], n_citizens),
        "consent_personalisation": rng.random(n_citizens) < 0.8,
    })
    min_age = [None if rng.random() < 0.5 else int(rng.choice([0, 5, 16, 18, 60])) for _ in range(n_services)]
    max_age = [None if (m is not None and m >= 18) or rng.random() < 0.5 else int(rng.choice([17, 64, 120])) for m in min_age]
    max_age = [None if (lo is not None and hi is not None and hi < lo) else hi for lo, hi in zip(min_age, max_age)]
    services = pd.DataFrame({
        "col": np.arange(n_services),
        "service_id": [f"SVC-{j:03d}" for j in range(n_services)],
        "name": [f"Service {j}" for j in range(n_services)],
        "category": "test",
        "min_age": pd.array(min_age, dtype="Int64"),
        "max_age": pd.array(max_age, dtype="Int64"),
        "districts": [["*"] if rng.random() < 0.6 else list(rng.choice(list(DISTRICTS), 2, replace=False)) for _ in range(n_services)],
        "means_tested": rng.random(n_services) < 0.2,
        "intervention": np.arange(n_services) % 10 == 9,
        "active": np.arange(n_services) % 13 != 12,
        "sensitive": np.arange(n_services) % 7 == 3,
        "url": None,
    })
    allowed = eligible_from_frames(citizens, services)
    # usage follows latent tastes, restricted to what each citizen could use
    taste = rng.normal(size=(n_citizens, 4)) @ rng.normal(size=(4, n_services))
    propensity = np.exp(taste) * allowed
    def draw(rate: float) -> sparse.csr_matrix:
        used = rng.random((n_citizens, n_services)) < rate * propensity / propensity.mean()
        used &= citizens["consent_personalisation"].to_numpy()[:, None]
        weights = rng.choice([1.0, 2.0, 3.0], size=used.shape).astype(np.float32)
        return sparse.csr_matrix(np.where(used, weights, 0.0).astype(np.float32))
    train, test = draw(0.12), draw(0.04)
    # households from their own stream, so adding them changed no other draw: runs of 1-4
    # consecutive citizens share one, and about one in ten citizens has none recorded
    household_rng = np.random.default_rng([seed, 19])
    sizes = household_rng.integers(1, 5, n_citizens)
    starts = np.cumsum(np.concatenate([[0], sizes]))
    starts = starts[starts < n_citizens]
    households = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n_citizens)))
    households[household_rng.random(n_citizens) < 0.1] = -1
    citizens["household"] = [None if h < 0 else hashlib.sha256(f"household-{h}".encode()).hexdigest() for h in households]
    vocabulary = SegmentVocabulary.fit(citizens["age_band"], citizens["postcode_district"])
    return TinyCounty(
        citizens=citizens,
        services=services,
        train=train,
        test=test,
        all=(train + test).tocsr(),
        allowed=allowed,
        segments=vocabulary.codes(citizens["age_band"], citizens["postcode_district"]),
        households=households,
    )


@pytest.fixture(scope="session")
def tiny() -> TinyCounty:
    return make_county()
