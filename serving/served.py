"""The record of what was suggested to whom, written behind the request.

Answering "which suggestions were made" (subject access) needs every served list on file,
but a synchronous insert per recommendation would double the request's cost. Lists are
queued in memory and flushed in one transaction every `interval` seconds (and at shutdown);
a person erased in the meantime is filtered out at flush time, in the same transaction, so
an erasure is never undone by a late flush. What is at risk on a hard kill is at most the
last `interval` of this log — never an acknowledged event or consent change.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from datetime import UTC, datetime

from sqlalchemy import insert, select

from serving.db import Database
from serving.models import Erasure, Suggestion

log = logging.getLogger("signpost.served")


class ServedLog:
    def __init__(self, database: Database, interval: float = 0.5) -> None:
        self.database = database
        self.interval = interval
        self._queue: deque[dict] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, pseudonym: str, *, kind: str, model_version: str, personalised: bool,
               service_ids: list[str]) -> None:
        self._queue.append({
            "pseudonym": pseudonym,
            "served_at": datetime.now(UTC),
            "kind": kind,
            "model_version": model_version,
            "personalised": personalised,
            "service_ids": json.dumps(service_ids),
        })

    def flush(self) -> int:
        """Write everything queued so far; returns rows written."""
        batch = []
        while self._queue:
            batch.append(self._queue.popleft())
        if not batch:
            return 0
        try:
            with self.database.write_session() as session:
                people = {row["pseudonym"] for row in batch}
                erased = set(session.scalars(select(Erasure.pseudonym).where(Erasure.pseudonym.in_(people))))
                rows = [row for row in batch if row["pseudonym"] not in erased]
                if rows:
                    session.execute(insert(Suggestion), rows)
        except Exception:
            self._queue.extendleft(reversed(batch))  # keep them for the next attempt
            raise
        return len(rows)

    def forget(self, pseudonym: str) -> None:
        """Drop queued lists for an erased person before they reach the database."""
        self._queue = deque(row for row in list(self._queue) if row["pseudonym"] != pseudonym)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="served-log", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 — retried at the next tick
                log.exception("could not write the served-suggestions log")
