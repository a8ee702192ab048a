"""Caseworkers' caseloads: families with children, weighted towards higher need.

About 6% of households with children are on a caseload at some point in the window,
far more often where family stress is high or a child has had an early-help outcome;
a caseworker holds about 40 households of one area; about a third of cases have closed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.population import CHILD, Population

SHARE_OF_FAMILIES = 0.06
HOUSEHOLDS_PER_CASEWORKER = 40
CLOSED_SHARE = 0.35


@dataclass
class Caseloads:
    household_idx: np.ndarray  # (K,) int32
    caseworker_number: np.ndarray  # (K,) int64, global caseworker number (id CW0042)
    start_day: np.ndarray  # (K,) int32
    end_day: np.ndarray  # (K,) int32, -1 where still open


def generate_caseloads(
    rng: np.random.Generator,
    population: Population,
    outcome_person: np.ndarray,
    first_caseworker: int,
    first_day: int,
    end_day: int,
) -> Caseloads:
    """Families on caseloads in this chunk; caseworker numbers start at `first_caseworker`."""
    pop = population
    n_households = len(pop.household_type)
    hh = pop.household_idx
    children = np.bincount(hh, weights=pop.role == CHILD, minlength=n_households)
    stress = np.bincount(hh, weights=pop.needs[:, 3], minlength=n_households) / np.maximum(
        np.bincount(hh, minlength=n_households), 1
    )
    had_outcome = np.zeros(n_households, dtype=bool)
    had_outcome[hh[outcome_person]] = True
    weight = np.exp(1.2 * stress) * np.where(had_outcome, 6.0, 1.0) * (children > 0)
    mean = weight[children > 0].mean() if (children > 0).any() else 1.0
    chosen = np.flatnonzero(rng.random(n_households) < np.clip(SHARE_OF_FAMILIES * weight / mean, 0, 0.9))
    # Caseworkers cover an area: order families by postcode district, then fill caseloads.
    chosen = chosen[np.argsort(pop.district_idx[chosen], kind="stable")]
    caseworker = first_caseworker + np.arange(len(chosen)) // HOUSEHOLDS_PER_CASEWORKER
    start = rng.integers(first_day, end_day - 13, len(chosen))
    closes = rng.random(len(chosen)) < CLOSED_SHARE
    stop = start + rng.integers(30, 366, len(chosen))
    stop = np.where(closes & (stop <= end_day), stop, -1)
    order = np.argsort(caseworker * (n_households + 1) + chosen, kind="stable")
    return Caseloads(
        household_idx=chosen[order].astype(np.int32),
        caseworker_number=caseworker[order],
        start_day=start[order].astype(np.int32),
        end_day=stop[order].astype(np.int32),
    )
