"""Engine, sessions and migrations for the service database (SQLite by default, or PostgreSQL).

SQLite runs in WAL mode with `synchronous=FULL`, so an acknowledged commit survives a killed
process and a power cut; write transactions start with `BEGIN IMMEDIATE` so two workers never
fail half-way through a read-then-write (see `write_session`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from signpost.errors import UserError

_WRITE = "signpost_write"


def normalise_url(url: str) -> str:
    """Use psycopg (v3, installed) for a bare `postgresql://` URL."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """An engine with the pragmas and transaction control the service relies on."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:
            immediate = conn.get_execution_options().get(_WRITE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    try:
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    except Exception as error:  # noqa: BLE001 — turn driver import errors into advice
        raise UserError(
            f"cannot use database URL for {parsed.get_backend_name()!r} ({error}); "
            "set SIGNPOST_DATABASE_URL to sqlite:///path or postgresql+psycopg://user@host/db"
        ) from None


class Database:
    """One engine and its two session factories (reads, and writes that lock up front)."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.reading = sessionmaker(self.engine, expire_on_commit=False)
        self.writing = sessionmaker(
            self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False
        )
        self._local = threading.local()
        self._readers: list = []
        self._readers_lock = threading.Lock()
        self._compiled: dict[int, Any] = {}

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A session committed on success, rolled back on error; on SQLite it holds the write lock."""
        with self.writing() as session, session.begin():
            yield session

    # ------------------------------------------------------------------ hot-path reads -----
    def fetch(self, statement, params: dict[str, Any]) -> list[tuple]:
        """Run one read-only statement on this thread's own autocommit connection.

        The recommendation path reads a handful of indexed rows per request; a pooled
        session's checkout + BEGIN + ROLLBACK costs ~20x the query itself. One statement
        reads one consistent snapshot (SQLite WAL / PostgreSQL autocommit), which is all
        the hot path needs; anything that writes, or reads more than once, uses a session.
        """
        compiled = self._compiled.get(id(statement))
        if compiled is None:
            compiled = statement.compile(dialect=self.engine.dialect)
            self._compiled[id(statement)] = compiled
        values = compiled.construct_params(params)
        if self.engine.dialect.positional:
            args: Any = tuple(values[name] for name in compiled.positiontup)
        else:
            args = values
        for attempt in range(2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = self._local.connection = self._open_reader()
            try:
                cursor = connection.cursor()
                try:
                    cursor.execute(compiled.string, args)
                    return cursor.fetchall()
                finally:
                    cursor.close()
            except self.engine.dialect.loaded_dbapi.Error:
                self._local.connection = None
                try:
                    connection.close()
                except Exception:  # noqa: BLE001
                    pass
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _open_reader(self):
        connection = self.engine.pool._creator()  # a fresh DBAPI connection, outside the pool
        if self.dialect == "sqlite":
            connection.isolation_level = None
            connection.execute("PRAGMA busy_timeout=30000")
        else:
            connection.autocommit = True
        with self._readers_lock:
            self._readers.append(connection)
        return connection

    def dispose(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for connection in readers:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 — another thread may be using it at exit
                pass
        self.engine.dispose()


def alembic_config(url: str):
    """Alembic configuration pointing at the migrations shipped inside this package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("serving") / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent; run at start-up and by `signpost db upgrade`)."""
    from alembic import command

    config = alembic_config(database.url)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(database: Database) -> str | None:
    """The schema revision the database is at, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
