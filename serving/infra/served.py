"""The record of what was suggested to whom, written behind the request.

Answering "which suggestions were made" (subject access) needs every served list on file,
but a synchronous insert per recommendation would double the request's cost. Lists are
queued in memory and flushed in one transaction every `interval` seconds (and at shutdown);
a person erased in the meantime is filtered out at flush time, in the same transaction, so
an erasure is never undone by a late flush. What is at risk on a hard kill is at most the
last `interval` of this log — never an acknowledged event or consent change.

The flush runs on a background thread while the event loop is busy, and every time that
thread takes Python's GIL it slows the requests down: measured under load, an ORM or
row-by-row `executemany` flush cost ~100 us of CPU per request served. So rows are queued
as ready-to-bind tuples (the few microseconds of formatting are paid on the request), and
the flush is plain SQL: the erasure check and a few multi-row INSERTs, each one C-level call
(no SQLAlchemy statement compiling while requests wait for the GIL).

Lists are kept for the retention period (`SIGNPOST_SERVED_RETENTION_DAYS`) and then deleted:
the same thread deletes expired ones at start-up and then hourly, through the index on
`served_at`, so the log never grows without bound.
"""

from __future__ import annotations

import json
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from itertools import chain

from sqlalchemy import delete, select

from serving.infra.db import Database
from serving.infra.tables import Erasure, Suggestion
from serving.infra.ticker import Ticker

COLUMNS = ("pseudonym", "served_at", "kind", "model_version", "personalised", "service_ids")
ROWS_PER_INSERT = 500  # 3,000 bound values: under SQLite's and PostgreSQL's limits
PURGE_EVERY = 3600.0  # seconds between deletions of expired lists
PURGE_CHUNK = 10_000  # rows per deleting transaction, so other writers never wait long


class ServedLog:
    def __init__(self, database: Database, interval: float = 0.5, retention: timedelta | None = None) -> None:
        self.database = database
        self.retention = retention
        self._queue: deque[tuple] = deque()
        self._ticker = Ticker("served-log", interval, self._tick)
        self._purged_at: float | None = None
        dialect = database.engine.dialect
        self._stamp = Suggestion.__table__.c.served_at.type.dialect_impl(dialect).bind_processor(dialect)
        self._mark = "?" if dialect.paramstyle == "qmark" else "%s"

    def record(self, pseudonym: str, *, kind: str, model_version: str, personalised: bool,
               service_ids: list[str]) -> None:
        served_at = datetime.now(UTC)
        self._queue.append((
            pseudonym, self._stamp(served_at) if self._stamp else served_at, kind, model_version,
            personalised, json.dumps(service_ids),
        ))

    def flush(self) -> int:
        """Write everything queued so far; returns rows written."""
        batch = []
        while self._queue:
            batch.append(self._queue.popleft())
        if not batch:
            return 0
        try:
            with self.database.write_session() as session:
                connection = session.connection()
                people = list({row[0] for row in batch})
                erased = set()
                for start in range(0, len(people), ROWS_PER_INSERT):
                    chunk = tuple(people[start : start + ROWS_PER_INSERT])
                    erased.update(p for (p,) in connection.exec_driver_sql(self._erased(len(chunk)), chunk))
                rows = [row for row in batch if row[0] not in erased] if erased else batch
                for start in range(0, len(rows), ROWS_PER_INSERT):
                    chunk = rows[start : start + ROWS_PER_INSERT]
                    connection.exec_driver_sql(self._insert(len(chunk)), tuple(chain.from_iterable(chunk)))
        except Exception:
            self._queue.extendleft(reversed(batch))  # keep them for the next attempt
            raise
        return len(rows)

    def purge(self, now: datetime | None = None) -> int:
        """Delete the lists served before the retention period; returns how many went."""
        if self.retention is None:
            return 0
        cutoff = (now or datetime.now(UTC)) - self.retention
        expired = (select(Suggestion.id).where(Suggestion.served_at < cutoff)
                   .order_by(Suggestion.id).limit(PURGE_CHUNK).scalar_subquery())
        total = 0
        while True:  # a long backlog (the first purge after an upgrade) goes a chunk at a time
            with self.database.write_session() as session:
                deleted = session.execute(delete(Suggestion).where(Suggestion.id.in_(expired))).rowcount
            total += deleted
            if deleted < PURGE_CHUNK:
                return total

    def _tick(self) -> None:
        self.flush()
        if self._purged_at is None or time.monotonic() - self._purged_at >= PURGE_EVERY:
            self.purge()
            self._purged_at = time.monotonic()

    def _marks(self, n: int) -> str:
        return ", ".join([self._mark] * n)

    def _erased(self, n: int) -> str:
        return f"SELECT pseudonym FROM {Erasure.__tablename__} WHERE pseudonym IN ({self._marks(n)})"

    def _insert(self, n: int) -> str:
        values = f"({self._marks(len(COLUMNS))})"
        return f"INSERT INTO {Suggestion.__tablename__} ({', '.join(COLUMNS)}) VALUES " + ", ".join([values] * n)

    def forget(self, pseudonym: str) -> None:
        """Drop queued lists for an erased person before they reach the database."""
        self._queue = deque(row for row in list(self._queue) if row[0] != pseudonym)

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()
        self.flush()
