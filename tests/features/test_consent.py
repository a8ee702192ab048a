"""Consent as of a date: latest record wins whatever the row order; ties deny; defaults fill."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.consent import consent_as_of, early_help_allowed, snapshot_id
from features.contract import CONSENT_STATUS, PURPOSES

DEFAULTS = {"personalisation": False, "early_intervention": True, "research": True}
AS_OF = date(2026, 9, 30)


def frame(rows):
    return pd.DataFrame(rows, columns=["person", "purpose", "status", "recorded_at"])


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day) + timedelta(hours=hour)


def test_defaults_for_people_without_records():
    state = consent_as_of(frame([]), as_of=AS_OF, defaults=DEFAULTS, people=[1, 2])
    assert state.to_dict("index") == {1: DEFAULTS, 2: DEFAULTS}


def test_latest_on_or_before_as_of_wins_and_later_records_are_ignored():
    records = frame([
        (1, "personalisation", "granted", at("2025-01-01")),
        (1, "personalisation", "withdrawn", at("2026-03-01")),
        (1, "personalisation", "granted", at("2026-09-30", 23)),  # on as_of: counts
        (2, "research", "withdrawn", at("2026-01-01")),
        (2, "research", "granted", at("2026-10-01", 0)),  # after as_of: ignored
    ])
    state = consent_as_of(records, as_of=AS_OF, defaults=DEFAULTS)
    assert state.loc[1, "personalisation"]
    assert not state.loc[2, "research"]
    assert state.loc[2, "early_intervention"]  # default


def test_withdrawn_and_objected_both_deny():
    records = frame([(1, "early_intervention", "objected", at("2026-01-01")),
                     (2, "early_intervention", "withdrawn", at("2026-01-01"))])
    state = consent_as_of(records, as_of=AS_OF, defaults=DEFAULTS)
    assert not state["early_intervention"].any()


@pytest.mark.parametrize("other", ["withdrawn", "objected"])
def test_a_tie_never_grants(other):
    records = frame([(1, "personalisation", "granted", at("2026-01-01")),
                     (1, "personalisation", other, at("2026-01-01"))])
    for rows in (records, records.iloc[::-1]):
        assert not consent_as_of(rows, as_of=AS_OF, defaults=DEFAULTS).loc[1, "personalisation"]


def test_defaults_come_from_configuration():
    flipped = {p: not v for p, v in DEFAULTS.items()}
    assert consent_as_of(frame([]), as_of=AS_OF, defaults=flipped, people=[1]).loc[1].to_dict() == flipped


records_strategy = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.sampled_from(PURPOSES),
        st.sampled_from(CONSENT_STATUS),
        st.integers(0, 60).map(lambda d: datetime(2026, 8, 15) + timedelta(days=d)),
    ),
    max_size=40,
)


def reference(rows, as_of):
    """Straightforward reading of the rule, record by record."""
    rank = {"granted": 0, "withdrawn": 1, "objected": 2}
    best: dict = {}
    for person, purpose, status, when in rows:
        if when.date() > as_of:
            continue
        key = (person, purpose)
        if key not in best or (when, rank[status]) > (best[key][0], rank[best[key][1]]):
            best[key] = (when, status)
    return {
        person: {p: (best[(person, p)][1] == "granted") if (person, p) in best else DEFAULTS[p] for p in PURPOSES}
        for person in range(5)
    }


@settings(max_examples=200, deadline=None)
@given(rows=records_strategy, as_of_day=st.integers(0, 60), seed=st.randoms(use_true_random=False))
def test_latest_record_wins_whatever_the_row_order(rows, as_of_day, seed):
    as_of = date(2026, 8, 15) + timedelta(days=as_of_day)
    shuffled = list(rows)
    seed.shuffle(shuffled)
    state = consent_as_of(frame(shuffled), as_of=as_of, defaults=DEFAULTS, people=range(5))
    assert state.to_dict("index") == reference(rows, as_of)


def test_household_objection_excludes_the_whole_household():
    allowed = pd.Series({1: True, 2: False, 3: True, 4: True, 5: False})
    household = pd.Series({1: "A", 2: "A", 3: "B", 4: None, 5: None})
    result = early_help_allowed(allowed, household)
    assert result.to_dict() == {1: False, 2: False, 3: True, 4: True, 5: False}


def test_snapshot_id_depends_on_state_not_row_order():
    state = consent_as_of(frame([(0, "research", "withdrawn", at("2026-01-01"))]), as_of=AS_OF,
                          defaults=DEFAULTS, people=[0, 1])
    names = ["b" * 64, "a" * 64]
    first = snapshot_id(names, {AS_OF: state})
    assert first == snapshot_id(names[::-1], {AS_OF: state.iloc[::-1]})
    changed = state.copy()
    changed.loc[1, "research"] = False
    assert snapshot_id(names, {AS_OF: changed}) != first
