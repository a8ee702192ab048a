"""The served-suggestions log: queued rows reach the database intact, never for an erased person."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from serving.infra.served import ROWS_PER_INSERT, ServedLog
from serving.infra.tables import Erasure, Suggestion


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


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ages=st.lists(st.integers(min_value=0, max_value=2 * 24 * 800), max_size=40))
def test_purge_deletes_exactly_the_lists_older_than_the_retention(database, ages):
    """Ages in half-hours either side of a 400-day retention: older ones go, the rest stay."""
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    retention = timedelta(days=400)
    with database.write_session() as session:
        session.execute(delete(Suggestion))
        session.add_all(
            Suggestion(pseudonym=f"p{i}", served_at=now - timedelta(minutes=30 * age), kind="services",
                       model_version="1", personalised=True, service_ids="[]")
            for i, age in enumerate(ages)
        )
    log = ServedLog(database, retention=retention)
    expired = sum(1 for age in ages if timedelta(minutes=30 * age) > retention)
    assert log.purge(now=now) == expired
    with database.reading() as session:
        kept = sorted(session.scalars(select(Suggestion.pseudonym)).all())
    assert kept == sorted(f"p{i}" for i, age in enumerate(ages) if timedelta(minutes=30 * age) <= retention)
    assert log.purge(now=now) == 0


def test_the_running_service_purges_expired_lists_at_start(database_url, world, tmp_path):
    """Wired end to end: a service started with SIGNPOST_SERVED_RETENTION_DAYS=30 deletes a
    31-day-old list on its first tick and keeps a 29-day-old one."""
    import time

    from serving.infra.db import Database, upgrade

    from .conftest import running, service_settings

    settings_ = service_settings(world, database_url, tmp_path, served_retention_days=30)
    database = Database(database_url)
    try:
        upgrade(database)  # the tables exist before the service starts, as after `signpost serve` ran once
        old = datetime.now(UTC) - timedelta(days=31)
        with database.write_session() as session:
            session.add_all(
                Suggestion(pseudonym=who, served_at=when, kind="services", model_version="1", personalised=True,
                           service_ids="[]")
                for who, when in (("old", old), ("recent", old + timedelta(days=2)))
            )

        def left() -> list[str]:
            with database.reading() as session:
                return sorted(session.scalars(select(Suggestion.pseudonym)).all())

        with running(settings_):
            deadline = time.monotonic() + 20
            while left() != ["recent"] and time.monotonic() < deadline:
                time.sleep(0.1)
        assert left() == ["recent"]
    finally:
        database.dispose()


def test_a_long_backlog_is_purged_a_chunk_at_a_time(database, monkeypatch):
    from serving.infra import served

    monkeypatch.setattr(served, "PURGE_CHUNK", 3)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with database.write_session() as session:
        session.execute(delete(Suggestion))
        session.add_all(
            Suggestion(pseudonym=f"p{i}", served_at=now - timedelta(days=days), kind="services", model_version="1",
                       personalised=True, service_ids="[]")
            for i, days in enumerate([500] * 10 + [10] * 2)
        )
    assert ServedLog(database, retention=timedelta(days=400)).purge(now=now) == 10
    with database.reading() as session:
        assert sorted(session.scalars(select(Suggestion.pseudonym)).all()) == ["p10", "p11"]
