"""Migrations apply cleanly on SQLite and PostgreSQL, are idempotent, and match the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from serving.infra import db
from serving.infra.tables import Base


def test_upgrade_to_head_and_again(database):
    assert db.current_revision(database) == db.head_revision()
    db.upgrade(database)  # idempotent
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_migration_matches_models(database):
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    structural = [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")]
    assert structural == []


def test_downgrade_and_upgrade_again(database):
    config = db.alembic_config(database.url)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert "audit_entries" not in inspect(database.engine).get_table_names()
    db.upgrade(database)
    assert db.current_revision(database) == db.head_revision()


def test_postgres_url_without_driver_uses_psycopg():
    assert db.normalise_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.normalise_url("sqlite:///x.db") == "sqlite:///x.db"
