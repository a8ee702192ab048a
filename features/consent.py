"""Consent as of a date, per person and purpose: pure functions over small frames.

The contract's rule: the latest record on or before the snapshot date wins, whatever the
order of rows in the extract. Two records with the same ``recorded_at`` are resolved
towards privacy: ``objected`` beats ``withdrawn`` beats ``granted``, so a tie never grants
use. ``withdrawn`` and ``objected`` both deny the purpose. A person with no record for a
purpose gets the configured default (``settings.consent_defaults``: personalisation
opt-in, early intervention allowed unless objected, research opt-out).

Early help works on families: a child is in an early-help table only if their own state
allows ``early_intervention`` and no member of their household denies it (a parent's
objection covers the family).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from features.contract import CONSENT_STATUS, PURPOSES

#: Tie-break on equal recorded_at: the more protective status sorts last and wins.
STATUS_PRECEDENCE: dict[str, int] = {"granted": 0, "withdrawn": 1, "objected": 2}
assert set(STATUS_PRECEDENCE) == set(CONSENT_STATUS)


def consent_as_of(
    consents: pd.DataFrame,
    *,
    as_of: date,
    defaults: Mapping[str, bool],
    people: Sequence | pd.Index | None = None,
) -> pd.DataFrame:
    """Whether each person allows each purpose on ``as_of``.

    Parameters
    ----------
    consents : DataFrame, shape (n_records, 4+)
        Columns ``person`` (any id), ``purpose``, ``status``, ``recorded_at`` (naive UK
        local datetime). Row order does not matter.
    as_of : date
        Records on or before this day (local time, whole day included) count.
    defaults : mapping purpose -> bool
        The state of a purpose for a person with no record for it.
    people : sequence, optional
        Everyone to report on (those without records get the defaults). Default: the
        people that appear in ``consents``.

    Returns
    -------
    DataFrame, shape (n_people, 3)
        Index ``person``; one bool column per purpose in ``contract.PURPOSES`` order.
    """
    missing = [p for p in PURPOSES if p not in defaults]
    if missing:
        raise ValueError(f"consent defaults lack {missing}")
    cutoff = np.datetime64(datetime.combine(as_of + timedelta(days=1), time()), "us")
    recorded = consents["recorded_at"].to_numpy(dtype="datetime64[us]")
    current = recorded < cutoff
    person = consents["person"].to_numpy()[current]
    purpose = consents["purpose"].astype(pd.CategoricalDtype(PURPOSES)).cat.codes.to_numpy()[current]
    by_precedence = sorted(STATUS_PRECEDENCE, key=STATUS_PRECEDENCE.get)
    precedence = consents["status"].astype(pd.CategoricalDtype(by_precedence)).cat.codes.to_numpy()[current]
    if (purpose < 0).any() or (precedence < 0).any():
        raise ValueError("consents hold a purpose or status outside the contract")
    if people is None:
        people = pd.unique(consents["person"].to_numpy())
    index = pd.Index(people, name="person")
    # Sort by (person, purpose, recorded_at, precedence); the last row of each
    # (person, purpose) run is the record in force.
    position = index.get_indexer(person)
    keep = position >= 0
    position, purpose = position[keep], purpose[keep]
    recorded, precedence = recorded[current][keep], precedence[keep]
    granted = precedence == STATUS_PRECEDENCE["granted"]
    order = np.lexsort((precedence, recorded, purpose, position))
    position, purpose, granted = position[order], purpose[order], granted[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (position[1:] != position[:-1]) | (purpose[1:] != purpose[:-1])
    allowed = np.tile(np.array([bool(defaults[p]) for p in PURPOSES]), (len(index), 1))
    allowed[position[last], purpose[last]] = granted[last]
    return pd.DataFrame(allowed, index=index, columns=list(PURPOSES))


def early_help_allowed(allowed: pd.Series, household: pd.Series) -> pd.Series:
    """Per person: own early-intervention state allows it and no household member denies it.

    Parameters
    ----------
    allowed : Series of bool, indexed by person
        ``early_intervention`` column of :func:`consent_as_of`.
    household : Series, indexed by person (same index)
        Household id or missing (a person without a household stands alone).

    Returns
    -------
    Series of bool, same index.
    """
    household = household.reindex(allowed.index)
    denied_households = pd.Index(household[~allowed].dropna().unique())
    in_denied = household.isin(denied_households) & household.notna()
    return (allowed & ~in_denied).rename("early_help_allowed")


def snapshot_id(pseudonyms: Sequence[str], states: Mapping[date, pd.DataFrame]) -> str:
    """Content hash of the consent state used: the same people and states give the same id.

    Parameters
    ----------
    pseudonyms : sequence of str, length n
        The people's pseudonyms, aligned with the rows of every state frame.
    states : mapping date -> DataFrame, shape (n, 3)
        :func:`consent_as_of` outputs, one per snapshot date used.

    Returns
    -------
    str
        sha256 hex over the pseudonyms in sorted order and, per date in order, each
        purpose's allowed bits in that same order.
    """
    names = np.asarray(pseudonyms, dtype="S64")
    order = np.argsort(names, kind="stable")
    digest = hashlib.sha256(b"signpost-consent-snapshot-v1\n")
    digest.update(names[order].tobytes())
    for day in sorted(states):
        state = states[day]
        if len(state) != len(names):
            raise ValueError("every consent state must cover the same people as the pseudonyms")
        digest.update(day.isoformat().encode())
        for purpose in PURPOSES:
            digest.update(purpose.encode())
            digest.update(np.packbits(state[purpose].to_numpy(dtype=bool)[order]).tobytes())
    return digest.hexdigest()
