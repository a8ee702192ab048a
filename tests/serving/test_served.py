"""The served-suggestions log: queued rows reach the database intact, never for an erased person."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from serving.models import Erasure, Suggestion
from serving.served import ROWS_PER_INSERT, ServedLog


def test_flush_writes_rows_intact_and_skips_people_erased_since(database):
    log = ServedLog(database)
    before = datetime.now(UTC)
    log.record("kept", kind="services", model_version="7", personalised=True, service_ids=["SVC-1", "SVC-2"])
    log.record("gone", kind="services", model_version="7", personalised=False, service_ids=["SVC-3"])
    log.record("kept", kind="early_help", model_version="2", personalised=False, service_ids=[])
    with database.write_session() as session:  # erased after the request, before the flush
        session.add(Erasure(pseudonym="gone", erased_at=datetime.now(UTC)))
    assert log.flush() == 2
    assert log.flush() == 0
    with database.reading() as session:
        rows = session.scalars(select(Suggestion).order_by(Suggestion.id)).all()
    assert [(r.pseudonym, r.kind, r.model_version, r.personalised, json.loads(r.service_ids)) for r in rows] == [
        ("kept", "services", "7", True, ["SVC-1", "SVC-2"]),
        ("kept", "early_help", "2", False, []),
    ]
    for row in rows:
        served_at = row.served_at if row.served_at.tzinfo else row.served_at.replace(tzinfo=UTC)
        assert before - timedelta(seconds=1) <= served_at <= datetime.now(UTC)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(st.sampled_from([f"p{i}" for i in range(40)]), max_size=2 * ROWS_PER_INSERT + 5),
       erased=st.sets(st.sampled_from([f"p{i}" for i in range(40)]), max_size=10))
def test_every_row_not_erased_is_written_once(database, people, erased):
    with database.write_session() as session:
        session.execute(delete(Suggestion))
        session.execute(delete(Erasure))
        session.add_all(Erasure(pseudonym=p, erased_at=datetime.now(UTC)) for p in erased)
    log = ServedLog(database)
    for i, person in enumerate(people):
        log.record(person, kind="services", model_version=str(i), personalised=bool(i % 2), service_ids=[str(i)])
    expected = [(p, str(i)) for i, p in enumerate(people) if p not in erased]
    assert log.flush() == len(expected)
    with database.reading() as session:
        written = session.execute(select(Suggestion.pseudonym, Suggestion.model_version)).all()
    assert sorted(map(tuple, written)) == sorted(expected)
