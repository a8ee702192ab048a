"""Who lives where in the synthetic county: populations, deprivation and ethnicity by area.

Populations are rounded 2021 census figures for the 11 authorities (about 1.4M in all);
deprivation is a mean IMD decile per authority with a shift per postcode district (Leigh
Park in PO9 is among the most deprived neighbourhoods in the south east, Emsworth in PO10
is not). Shares within an authority are rough; what matters is the relative picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.geography import AUTHORITIES, AUTHORITY_POSTCODE_DISTRICTS

#: Residents per authority (2021 census, rounded).
POPULATION: dict[str, int] = {
    "Basingstoke and Deane": 185_000,
    "East Hampshire": 126_000,
    "Eastleigh": 137_000,
    "Fareham": 113_000,
    "Gosport": 82_000,
    "Hart": 100_000,
    "Havant": 126_000,
    "New Forest": 176_000,
    "Rushmoor": 100_000,
    "Test Valley": 131_000,
    "Winchester": 127_000,
}

#: Mean IMD decile of an authority's neighbourhoods (1 = most deprived).
MEAN_IMD_DECILE: dict[str, float] = {
    "Basingstoke and Deane": 6.6,
    "East Hampshire": 7.6,
    "Eastleigh": 7.0,
    "Fareham": 7.6,
    "Gosport": 4.6,
    "Hart": 9.2,
    "Havant": 4.9,
    "New Forest": 6.8,
    "Rushmoor": 5.4,
    "Test Valley": 7.1,
    "Winchester": 8.0,
}

#: Postcode district → (relative population within its authority, IMD decile shift).
DISTRICT_PROFILE: dict[str, tuple[float, float]] = {
    "RG21": (1.0, -1.5), "RG22": (1.0, -1.0), "RG23": (0.5, 1.5), "RG24": (1.0, 0.5),
    "RG25": (0.3, 2.0), "RG26": (0.4, 2.0), "RG28": (0.25, 1.5),
    "GU30": (0.5, 1.0), "GU31": (0.5, 1.0), "GU32": (0.4, 1.5), "GU33": (0.35, 1.0),
    "GU34": (1.0, 0.0), "GU35": (0.8, -1.5),
    "SO30": (1.0, 0.5), "SO50": (1.2, -1.2), "SO53": (1.0, 1.5),
    "PO14": (0.8, 0.0), "PO15": (0.6, 1.0), "PO16": (0.9, -0.8), "PO17": (0.3, 1.5),
    "SO31": (0.9, 1.0),
    "PO12": (1.2, -0.6), "PO13": (1.0, 0.6),
    "GU17": (0.3, -0.5), "GU46": (0.6, 0.0), "GU51": (0.8, 0.0), "GU52": (0.6, 0.0),
    "RG27": (0.7, 0.0), "RG29": (0.25, 0.0),
    "PO7": (1.0, 0.0), "PO8": (0.9, 1.0), "PO9": (1.0, -2.2), "PO10": (0.4, 2.0),
    "PO11": (0.45, 1.0),
    "BH24": (0.5, 0.5), "BH25": (0.5, 0.0), "SO40": (0.9, -0.5), "SO41": (0.7, 1.0),
    "SO42": (0.15, 1.0), "SO43": (0.1, 0.5), "SO45": (0.8, -1.2), "SP6": (0.3, 0.5),
    "GU11": (0.8, -0.6), "GU12": (0.6, 0.0), "GU14": (1.2, 0.0),
    "SO20": (0.2, 1.5), "SO51": (0.8, 1.0), "SO52": (0.2, 1.0), "SP10": (1.1, -1.0),
    "SP11": (0.5, 1.0),
    "SO21": (0.4, 1.0), "SO22": (0.8, 0.0), "SO23": (0.8, -0.3), "SO24": (0.3, 1.0),
    "SO32": (0.4, 1.0),
}

#: Ethnicity shares (ONS 5+1 order of the contract) for most of the county, and where the
#: census shows a different picture (Rushmoor's Nepali community, Basingstoke's towns).
ETHNICITY_SHARES_DEFAULT = (0.921, 0.021, 0.030, 0.008, 0.006, 0.014)
ETHNICITY_SHARES: dict[str, tuple[float, ...]] = {
    "Rushmoor": (0.800, 0.030, 0.130, 0.018, 0.010, 0.012),
    "Basingstoke and Deane": (0.870, 0.026, 0.060, 0.022, 0.008, 0.014),
    "Eastleigh": (0.900, 0.024, 0.046, 0.012, 0.006, 0.012),
    "Hart": (0.895, 0.024, 0.055, 0.010, 0.004, 0.012),
}


@dataclass(frozen=True)
class Districts:
    """Postcode districts as arrays indexed by `district_idx`, for vectorised sampling."""

    names: np.ndarray  # (n_districts,) str
    authority_idx: np.ndarray  # (n_districts,) int
    share: np.ndarray  # (n_districts,) float64, of all residents; sums to 1
    mean_imd: np.ndarray  # (n_districts,) float64
    ethnicity_cdf: np.ndarray  # (n_districts, 6) float64


def districts() -> Districts:
    """The county's postcode districts with population share, deprivation and ethnicity."""
    names, authority_idx, share, mean_imd, ethnicity = [], [], [], [], []
    total = sum(POPULATION.values())
    for a, authority in enumerate(AUTHORITIES):
        codes = AUTHORITY_POSTCODE_DISTRICTS[authority]
        weights = np.array([DISTRICT_PROFILE[c][0] for c in codes])
        weights = weights / weights.sum() * POPULATION[authority] / total
        # Shifts are centred so the authority keeps its mean decile.
        shifts = np.array([DISTRICT_PROFILE[c][1] for c in codes])
        shifts = shifts - np.average(shifts, weights=weights)
        for code, w, s in zip(codes, weights, shifts):
            names.append(code)
            authority_idx.append(a)
            share.append(w)
            mean_imd.append(float(np.clip(MEAN_IMD_DECILE[authority] + s, 1.5, 9.7)))
            ethnicity.append(ETHNICITY_SHARES.get(authority, ETHNICITY_SHARES_DEFAULT))
    eth = np.array(ethnicity)
    return Districts(
        names=np.array(names),
        authority_idx=np.array(authority_idx),
        share=np.array(share) / np.sum(share),
        mean_imd=np.array(mean_imd),
        ethnicity_cdf=np.cumsum(eth / eth.sum(axis=1, keepdims=True), axis=1),
    )
