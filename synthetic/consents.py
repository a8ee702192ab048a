"""Consent records at realistic rates, recorded at times spread over the window.

About 60% of residents opt in to personalisation and a few percent of those withdraw
later; about 1% object to early intervention; about 5% opt out of research (withdrawn or
objected). People with no record for a purpose get the configured default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.contract import CONSENT_METHODS, CONSENT_STATUS, PURPOSES

PERSONALISATION_GRANTED = 0.60
PERSONALISATION_WITHDRAWN = 0.05  # of those who granted
EARLY_INTERVENTION_OBJECTED = 0.01
RESEARCH_OBJECTED = 0.03
RESEARCH_WITHDRAWN = 0.02
METHOD_SHARES = (0.42, 0.10, 0.13, 0.10, 0.25)  # portal, paper, phone, caseworker, import

GRANTED, WITHDRAWN, OBJECTED = (CONSENT_STATUS.index(s) for s in ("granted", "withdrawn", "objected"))
PERSONALISATION, EARLY_INTERVENTION, RESEARCH = (
    PURPOSES.index(p) for p in ("personalisation", "early_intervention", "research")
)


@dataclass
class Consents:
    person_idx: np.ndarray  # (C,) int32
    purpose: np.ndarray  # (C,) int8, index into PURPOSES
    status: np.ndarray  # (C,) int8, index into CONSENT_STATUS
    second: np.ndarray  # (C,) int64, recorded_at
    method: np.ndarray  # (C,) int8, index into CONSENT_METHODS


def _daytime(rng: np.random.Generator, first_day: int, end_day: int, n: int) -> np.ndarray:
    """Seconds at a random day of the window, between 07:00 and 22:00 (clear of clock changes)."""
    return rng.integers(first_day, end_day + 1, n) * 86400 + rng.integers(7 * 3600, 22 * 3600, n)


def generate_consents(rng: np.random.Generator, n: int, first_day: int, end_day: int) -> Consents:
    """Consent records of `n` residents, sorted by person then time."""
    stop = (end_day + 1) * 86400 - 1
    u = rng.random((n, 3))
    granted = u[:, 0] < PERSONALISATION_GRANTED
    withdrawn = granted & (rng.random(n) < PERSONALISATION_WITHDRAWN)
    objected_ei = u[:, 1] < EARLY_INTERVENTION_OBJECTED
    research = np.where(
        u[:, 2] < RESEARCH_OBJECTED, OBJECTED, np.where(u[:, 2] < RESEARCH_OBJECTED + RESEARCH_WITHDRAWN, WITHDRAWN, -1)
    )
    granted_at = _daytime(rng, first_day, end_day, n)
    withdrawn_at = np.maximum(_daytime(rng, first_day, end_day, n), granted_at + 86400)
    withdrawn &= withdrawn_at <= stop

    parts = [
        (np.flatnonzero(granted), PERSONALISATION, GRANTED, granted_at),
        (np.flatnonzero(withdrawn), PERSONALISATION, WITHDRAWN, withdrawn_at),
        (np.flatnonzero(objected_ei), EARLY_INTERVENTION, OBJECTED, None),
        (np.flatnonzero(research == OBJECTED), RESEARCH, OBJECTED, None),
        (np.flatnonzero(research == WITHDRAWN), RESEARCH, WITHDRAWN, None),
    ]
    person, purpose, status, second = [], [], [], []
    for who, p, s, when in parts:
        person.append(who)
        purpose.append(np.full(len(who), p, dtype=np.int8))
        status.append(np.full(len(who), s, dtype=np.int8))
        second.append(when[who] if when is not None else _daytime(rng, first_day, end_day, len(who)))
    person_idx = np.concatenate(person)
    second_all = np.concatenate(second)
    order = np.lexsort((second_all, person_idx))
    method = rng.choice(len(CONSENT_METHODS), size=len(order), p=METHOD_SHARES).astype(np.int8)
    return Consents(
        person_idx=person_idx[order].astype(np.int32),
        purpose=np.concatenate(purpose)[order],
        status=np.concatenate(status)[order],
        second=second_all[order],
        method=method,
    )
