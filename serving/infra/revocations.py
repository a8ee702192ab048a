"""The revocations in force, kept in memory by every worker and reloaded from the database.

A revocation names one token (its `jti`) or every token of a subject issued before a time.
Each worker keeps the revocations in memory (a set and a dict, swapped in whole) and reloads
them every `revocation_poll_seconds`, so the token check on each request is two look-ups,
never a query, and a revocation made in another worker reaches this one within one poll.
Making a revocation (and auditing it) is `serving.domain.revocations`.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from serving.infra.db import Database
from serving.infra.tables import Revocation
from serving.infra.ticker import Ticker

#: How long a subject's cut-off is kept: the longest lifetime a token may have (the configured
#: lifetime, or `signpost token --minutes` up to 30 days), so no token it covers outlives it.
LONGEST_TOKEN = timedelta(days=30)


class Holder(Protocol):
    """The parts of a token's holder a revocation is checked against (a `Viewer`)."""

    subject: str
    token_id: str
    issued_at: float


def _epoch(moment: datetime) -> float:
    """Seconds since the epoch, to the millisecond (what `auth.issue` puts in `iat`).

    SQLite hands timestamps back without a zone; they were written in UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp() * 1000) / 1000


class Revocations:
    """The revocations in force, in memory; `refuses` is on every request's path."""

    def __init__(self, database: Database, *, poll_seconds: float, lifetime_minutes: int) -> None:
        self.database = database
        self.cut_off_kept = max(timedelta(minutes=lifetime_minutes), LONGEST_TOKEN)
        self._tokens: frozenset[str] = frozenset()
        self._subjects: dict[str, float] = {}  # subject -> tokens issued before this are refused
        self._lock = threading.Lock()  # one writer at a time (refresh or a local revocation)
        self._ticker = Ticker("revocation-poller", poll_seconds, self.refresh)

    def refuses(self, viewer: Holder) -> bool:
        if viewer.token_id in self._tokens:
            return True
        not_before = self._subjects.get(viewer.subject)
        return not_before is not None and viewer.issued_at < not_before

    # ------------------------------------------------------------------ loading ------------
    def refresh(self) -> None:
        """Reload what is still in force; the read and the swap hold the lock, so a
        revocation made here meanwhile is never overwritten by an older snapshot."""
        with self._lock:
            with self.database.reading() as session:
                rows = session.execute(
                    select(Revocation.jti, Revocation.subject, Revocation.not_before)
                    .where(Revocation.expires_at > datetime.now(UTC))
                ).all()
            tokens, subjects = set(), {}
            for jti, subject, not_before in rows:
                if jti:
                    tokens.add(jti)
                if subject and not_before is not None:
                    moment = _epoch(not_before)
                    subjects[subject] = max(moment, subjects.get(subject, moment))
            self._tokens, self._subjects = frozenset(tokens), subjects

    def apply(self, row: Revocation) -> None:
        """Put a committed revocation in force in this worker at once."""
        with self._lock:
            if row.jti:
                self._tokens = self._tokens | {row.jti}
            if row.subject and row.not_before is not None:
                subjects = dict(self._subjects)
                subjects[row.subject] = max(_epoch(row.not_before), subjects.get(row.subject, 0.0))
                self._subjects = subjects

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()


def prune(session: Session) -> None:
    """Rows past `expires_at` refuse only expired tokens: drop them."""
    session.execute(delete(Revocation).where(Revocation.expires_at <= datetime.now(UTC)))
