"""Engine, sessions and migrations for the service database (SQLite by default, or PostgreSQL).

SQLite runs in WAL mode with `synchronous=FULL`, so an acknowledged commit survives a killed
process and a power cut; write transactions start with `BEGIN IMMEDIATE` so two workers never
fail half-way through a read-then-write (see `write_session`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from signpost.errors import UserError

_WRITE = "signpost_write"
_T = TypeVar("_T")


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
        # The hot path's readers: fresh DBAPI connections of their own, outside the sessions' pool
        # (one per thread, held for the process's life, so they must not use up the pool).
        self._reader_engine = create_engine(
            self.url, poolclass=NullPool,
            connect_args={"check_same_thread": False, "timeout": 30} if self.dialect == "sqlite" else {},
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
        pooled = self._reader_engine.raw_connection()  # held below: dropping it would close the connection
        connection = pooled.driver_connection
        if self.dialect == "sqlite":
            connection.isolation_level = None
            connection.execute("PRAGMA busy_timeout=30000")
        else:
            connection.autocommit = True
        with self._readers_lock:
            self._readers.append(pooled)
        return connection

    def dispose(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for connection in readers:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 — another thread may be using it at exit
                pass
        self._reader_engine.dispose()
        self.engine.dispose()


def alembic_config(url: str):
    """Alembic configuration pointing at the migrations shipped inside this package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("serving.infra") / "migrations"))
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


def read_service_database(url: str, table: str, read: Callable[[Connection], _T], *, what: str) -> _T | None:
    """`read(connection)` on the service database opened read-only; None when no service database exists yet.

    For the feature build, which must see what the service recorded (erasures, consent decisions)
    without ever changing it: a SQLite file is opened read-only and never created, and nothing is
    migrated. A database the service never set up (no file, no PostgreSQL database of that name,
    or no tables at all) gives None; one that exists but cannot be read, or lacks `table`, stops
    the build with a UserError naming `what` (e.g. "erasures"), since building without it would
    bring back what the service was told.
    """
    parsed = make_url(normalise_url(url))
    shown = parsed.render_as_string(hide_password=True)
    advice = (f"the feature build must honour the {what} recorded by the service, so it stops; check "
              "SIGNPOST_DATABASE_URL points at the service's database and that it is reachable")
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not Path(path).is_file():
            return None
        target = Path(path).resolve()
        engine = create_engine(
            "sqlite://", poolclass=NullPool,
            creator=lambda: sqlite3.connect(f"file:{quote(str(target))}?mode=ro", uri=True, timeout=30),
        )
    else:
        try:
            engine = create_engine(parsed, poolclass=NullPool)
        except (NoSuchModuleError, ImportError) as error:
            raise UserError(f"cannot read {what} from {shown} ({error}); {advice}") from None
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            if table not in tables:
                if not tables:
                    return None
                raise UserError(
                    f"the service database {shown} has no {table} table: run `signpost db upgrade`, "
                    f"then build again ({advice})"
                )
            return read(connection)
    except DBAPIError as error:
        if _no_such_database(parsed):
            return None
        reason = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
        raise UserError(f"cannot read {what} from the service database {shown} ({reason}); {advice}") from None
    finally:
        engine.dispose()


def _no_such_database(url: URL) -> bool:
    """Whether the PostgreSQL server answers but holds no database of that name (no service ran there)."""
    if url.get_backend_name() != "postgresql" or not url.database:
        return False
    engine = create_engine(url.set(database="postgres"), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = connection.scalar(text("SELECT count(*) FROM pg_database WHERE datname = :name"),
                                      {"name": url.database})
        return found == 0
    except DBAPIError:
        return False
    finally:
        engine.dispose()
