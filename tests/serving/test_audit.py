"""The audit trail: hash-chained, append-only, and `verify` names the first bad entry."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from serving.domain import audit
from serving.infra.tables import AuditEntry


def _append(database, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with database.write_session() as session:
            audit.append(session, actor_role="admin", actor="A1", action="test", subject=f"{i:064x}",
                         detail={"i": i, "text": "é ünïcode"})


def _verify(database) -> audit.Verdict:
    with database.reading() as session:
        return audit.verify(session)


def _drop_guards(database) -> None:
    with database.engine.begin() as connection:
        if database.dialect == "sqlite":
            connection.execute(text("DROP TRIGGER audit_entries_no_update"))
            connection.execute(text("DROP TRIGGER audit_entries_no_delete"))
        else:
            connection.execute(text("DROP TRIGGER audit_entries_append_only ON audit_entries"))


def test_clean_chain_verifies(database):
    assert _verify(database).ok and _verify(database).entries == 0
    _append(database, 5)
    verdict = _verify(database)
    assert verdict.ok and verdict.entries == 5, verdict


def test_each_hash_covers_the_previous_one(database):
    _append(database, 3)
    with database.reading() as session:
        entries = audit.read(session)
    assert entries[0].prev_hash == audit.GENESIS
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert len({e.hash for e in entries}) == 3


def test_database_refuses_update_and_delete(database):
    _append(database, 2)
    for statement in ("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 1",
                      "DELETE FROM audit_entries WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"):
            with database.engine.begin() as connection:
                connection.execute(text(statement))
    assert _verify(database).ok


@pytest.mark.parametrize("column,value", [("actor", "'mallory'"), ("detail", "'{}'"), ("action", "'nothing'")])
def test_altered_entry_is_named(database, column, value):
    _append(database, 6)
    _drop_guards(database)
    with database.engine.begin() as connection:
        connection.execute(text(f"UPDATE audit_entries SET {column} = {value} WHERE seq = 4"))
    verdict = _verify(database)
    assert not verdict.ok and verdict.first_bad == 4, verdict
    assert "entry 4" in str(verdict)


def test_removed_entry_is_named(database):
    _append(database, 6)
    _drop_guards(database)
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries WHERE seq = 3"))
    verdict = _verify(database)
    assert not verdict.ok and verdict.first_bad == 3, verdict


def test_rehashed_forgery_is_caught_at_the_next_entry(database):
    """Recomputing the altered entry's own hash still breaks the link to the one after it."""
    _append(database, 5)
    _drop_guards(database)
    with database.reading() as session:
        entry = session.get(AuditEntry, 2)
        fields = audit._fields(entry) | {"actor": "mallory"}
        forged = audit.entry_hash(entry.prev_hash, fields)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE audit_entries SET actor = 'mallory', hash = :h WHERE seq = 2"), {"h": forged})
    verdict = _verify(database)
    assert not verdict.ok and verdict.first_bad == 3, verdict


def test_truncated_tail_is_detected(database):
    _append(database, 4)
    _drop_guards(database)
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries WHERE seq = 4"))
    verdict = _verify(database)
    assert not verdict.ok and verdict.first_bad == 4, verdict


def test_concurrent_appends_keep_one_chain(database):
    errors = []

    def worker(start: int) -> None:
        try:
            _append(database, 10, start)
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i * 100,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    verdict = _verify(database)
    assert verdict.ok and verdict.entries == 40, verdict


def test_cli_verify_passes_then_names_the_entry(database, monkeypatch):
    from signpost import cli
    from signpost.settings import get_settings

    _append(database, 3)
    monkeypatch.setenv("SIGNPOST_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(cli.app, ["audit", "verify"])
        assert result.exit_code == 0, result.output
        assert "intact" in result.output and "3 entries" in result.output
        _drop_guards(database)
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE audit_entries SET subject = NULL WHERE seq = 2"))
        result = runner.invoke(cli.app, ["audit", "verify"])
        assert result.exit_code == 1
        assert "entry 2" in result.output
    finally:
        get_settings.cache_clear()
