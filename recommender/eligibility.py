"""Who may be offered which service: the rules behind every ``allowed`` mask.

A suggestion the citizen cannot take up is worse than none, so the rules are conservative:
we know only a citizen's age *band*, so a service is age-eligible only when the whole band
lies inside the service's age range (a 16–17 year old is never offered an 18+ service, and a
band that straddles a service's bound is left out). Means-tested services are allowed — we do
not know income — and are flagged so the citizen is told to check.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The district wildcard in ``services.districts``: available everywhere.
EVERYWHERE = "*"


def _bounds(values: Sequence[float | None] | np.ndarray, missing: float) -> np.ndarray:
    """Nullable integer bounds as float64 with ``missing`` for no bound."""
    array = np.array(
        [missing if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values],
        dtype=np.float64,
    )
    return array


def age_eligible(
    citizen_age_min: np.ndarray,
    citizen_age_max: np.ndarray,
    service_min_age: Sequence[float | None] | np.ndarray,
    service_max_age: Sequence[float | None] | np.ndarray,
) -> np.ndarray:
    """True where the citizen's whole age band lies inside the service's age range.

    Parameters
    ----------
    citizen_age_min, citizen_age_max : ndarray of shape (n_citizens,)
        Bounds of each citizen's age band (inclusive; 75+ has max 120).
    service_min_age, service_max_age : array-like of shape (n_services,)
        Inclusive bounds; ``None``/``nan`` means no bound.

    Returns
    -------
    ndarray of shape (n_citizens, n_services), bool
    """
    low = _bounds(service_min_age, -np.inf)
    high = _bounds(service_max_age, np.inf)
    age_min = np.asarray(citizen_age_min, dtype=np.float64)[:, None]
    age_max = np.asarray(citizen_age_max, dtype=np.float64)[:, None]
    inside = (age_min >= low[None, :]) & (age_max <= high[None, :])
    # an unknown age is eligible only for services without any age bound
    unknown = np.isnan(age_min) | np.isnan(age_max)
    unbounded = np.isinf(low) & np.isinf(high)
    return np.where(unknown, unbounded[None, :], inside)


def district_eligible(
    citizen_district: Sequence[str | None] | np.ndarray,
    service_districts: Sequence[Sequence[str]],
) -> np.ndarray:
    """True where the service is offered in the citizen's postcode district (or everywhere).

    Parameters
    ----------
    citizen_district : array-like of shape (n_citizens,)
        Postcode district (``SO23``); ``None`` (unknown) is eligible only for ``*`` services.
    service_districts : sequence of length n_services of lists of districts, ``["*"]`` = all.

    Returns
    -------
    ndarray of shape (n_citizens, n_services), bool
    """
    n_services = len(service_districts)
    everywhere = np.zeros(n_services, dtype=bool)
    offered_in: dict[str, np.ndarray] = {}
    for service_idx, districts in enumerate(service_districts):
        for district in list(districts if districts is not None else []):
            key = str(district).strip().upper()
            if key == EVERYWHERE:
                everywhere[service_idx] = True
            else:
                offered_in.setdefault(key, np.zeros(n_services, dtype=bool))[service_idx] = True
    keys = np.array(
        ["" if d is None or (isinstance(d, float) and np.isnan(d)) else str(d).strip().upper()
         for d in citizen_district],
        dtype=object,
    )
    unique, inverse = np.unique(keys, return_inverse=True)
    per_district = np.stack(
        [everywhere | offered_in.get(key, np.zeros(n_services, dtype=bool)) for key in unique]
    ) if len(unique) else np.zeros((0, n_services), dtype=bool)
    return per_district[inverse.reshape(-1)] if len(keys) else np.zeros((0, n_services), dtype=bool)


def eligible(
    citizen_age_min: np.ndarray,
    citizen_age_max: np.ndarray,
    citizen_district: Sequence[str | None] | np.ndarray,
    service_min_age: Sequence[float | None] | np.ndarray,
    service_max_age: Sequence[float | None] | np.ndarray,
    service_districts: Sequence[Sequence[str]],
    service_active: Sequence[bool] | np.ndarray,
) -> np.ndarray:
    """The ``allowed`` mask: age band inside the range, offered in the district, active.

    Means-tested services are not excluded (flag them with the catalogue's ``means_tested``).

    Parameters
    ----------
    citizen_age_min, citizen_age_max : ndarray of shape (n_citizens,)
    citizen_district : array-like of shape (n_citizens,)
    service_min_age, service_max_age : array-like of shape (n_services,), nullable
    service_districts : sequence of length n_services of district lists
    service_active : array-like of shape (n_services,), bool

    Returns
    -------
    ndarray of shape (n_citizens, n_services), bool
    """
    active = np.asarray(service_active, dtype=bool)
    mask = age_eligible(citizen_age_min, citizen_age_max, service_min_age, service_max_age)
    mask &= district_eligible(citizen_district, service_districts)
    mask &= active[None, :]
    return mask


def eligible_from_frames(citizens, services) -> np.ndarray:  # pandas frames
    """:func:`eligible` for the processed folder's ``citizens``/``services`` tables.

    Parameters
    ----------
    citizens : DataFrame with ``age_min``, ``age_max``, ``postcode_district``, in row order
    services : DataFrame with ``min_age``, ``max_age``, ``districts``, ``active``, in col order

    Returns
    -------
    ndarray of shape (len(citizens), len(services)), bool
    """
    return eligible(
        citizens["age_min"].to_numpy(dtype=np.float64, na_value=np.nan),
        citizens["age_max"].to_numpy(dtype=np.float64, na_value=np.nan),
        citizens["postcode_district"].tolist(),
        services["min_age"].to_numpy(dtype=np.float64, na_value=np.nan),
        services["max_age"].to_numpy(dtype=np.float64, na_value=np.nan),
        [list(d) if d is not None else [] for d in services["districts"]],
        services["active"].to_numpy(dtype=bool),
    )
