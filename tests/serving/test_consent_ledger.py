"""The consent ledger: seeded once per file, latest decision wins, API changes audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from serving.domain import audit, consent
from serving.domain.auth import Role, Viewer
from serving.infra.seeding import seed_consents
from serving.infra.tables import Erasure
from signpost.settings import Settings

P1, P2, P3 = "a" * 64, "b" * 64, "c" * 64
SETTINGS = Settings()


def _frame(rows):
    return pd.DataFrame(rows, columns=["pseudonym", "purpose", "status", "recorded_at", "method"])


def _state(database, p):
    with database.reading() as session:
        return consent.statuses(session, p)


def test_seed_latest_wins_whatever_the_row_order(database):
    frame = _frame([
        (P1, "personalisation", "withdrawn", "2026-05-01 10:00:00", "portal"),
        (P1, "personalisation", "granted", "2026-01-01 10:00:00", "paper"),
        (P2, "research", "objected", "2026-02-01 09:00:00", "phone"),
    ])
    with database.write_session() as session:
        assert seed_consents(session, frame, sha256="x" * 64) == 3
    assert _state(database, P1) == {"personalisation": "withdrawn"}
    assert _state(database, P2) == {"research": "objected"}
    with database.write_session() as session:
        assert seed_consents(session, frame, sha256="x" * 64) == 0  # same file: nothing to do
        assert seed_consents(session, frame, sha256="y" * 64) == 0  # same records: no duplicates


def test_defaults_apply_without_a_record(database):
    with database.reading() as session:
        decisions = {d.purpose: d for d in consent.decisions(session, P3, SETTINGS)}
    assert decisions["personalisation"].allowed is False and decisions["personalisation"].status is None
    assert decisions["early_intervention"].allowed is True
    assert decisions["research"].allowed is True


def test_api_change_wins_over_older_extract_and_is_audited(database):
    with database.write_session() as session:
        seed_consents(session, _frame([(P1, "personalisation", "granted", "2026-01-01 10:00:00", "portal")]),
                     sha256="1" * 64)
    viewer = Viewer(Role.citizen, P1)
    with database.write_session() as session:
        consent.change(session, pseudonym=P1, purpose="personalisation", status="withdrawn", method="portal",
                       viewer=viewer)
    assert _state(database, P1) == {"personalisation": "withdrawn"}
    # a later build's extract that still holds only the old grant does not undo the withdrawal
    with database.write_session() as session:
        seed_consents(session, _frame([(P1, "personalisation", "granted", "2026-01-01 10:00:00", "portal"),
                                      (P2, "research", "withdrawn", "2026-03-01 10:00:00", "portal")]),
                     sha256="2" * 64)
    assert _state(database, P1) == {"personalisation": "withdrawn"}
    with database.reading() as session:
        entries = audit.read(session)
        assert [e.action for e in entries] == ["consent.change"]
        assert entries[0].subject == P1 and '"to":"withdrawn"' in entries[0].detail
        assert len(consent.history(session, P1)) == 2


def test_erased_people_are_not_seeded(database):
    with database.write_session() as session:
        session.add(Erasure(pseudonym=P1, erased_at=datetime.now(UTC)))
    with database.write_session() as session:
        seed_consents(session, _frame([(P1, "research", "granted", "2026-01-01", "portal")]), sha256="3" * 64)
    assert _state(database, P1) == {}


def test_household_objection(database):
    with database.write_session() as session:
        seed_consents(session, _frame([(P2, "early_intervention", "objected", "2026-01-01", "paper")]),
                     sha256="4" * 64)
    with database.reading() as session:
        assert consent.household_objects(session, [P1, P2])
        assert not consent.household_objects(session, [P1, P3])


statuses = st.sampled_from(["granted", "withdrawn", "objected"])


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(statuses, st.integers(0, 10_000)), min_size=1, max_size=8, unique_by=lambda r: r[1]))
def test_property_latest_record_wins(database, records):
    from sqlalchemy import delete

    from serving.infra.tables import ConsentRecord, ConsentState, Seed

    with database.write_session() as session:
        for model in (ConsentRecord, ConsentState, Seed):
            session.execute(delete(model))
    frame = _frame([(P1, "research", s, pd.Timestamp("2025-01-01") + pd.Timedelta(minutes=m), "portal")
                    for s, m in records])
    with database.write_session() as session:
        seed_consents(session, frame.sample(frac=1, random_state=0), sha256="5" * 64)
    expected = max(records, key=lambda r: r[1])[0]
    assert _state(database, P1) == {"research": expected}
