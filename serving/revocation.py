"""Token revocation: sign-out ends the session, and an admin can cut a subject off.

A revocation names one token (its `jti`) or every token of a subject issued before a time.
It is written to the `revocations` table and the audit trail, and applies in the worker that
made it at once. Every worker keeps the revocations in memory (a set and a dict, swapped in
whole) and reloads them every `revocation_poll_seconds`, so the token check on each request
is two look-ups, never a query, and a revocation reaches the other workers within one poll.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from serving import audit
from serving.auth import Role, Viewer
from serving.db import Database
from serving.models import Revocation
from serving.ticker import Ticker

#: How long a subject's cut-off is kept: the longest lifetime a token may have (the configured
#: lifetime, or `signpost token --minutes` up to 30 days), so no token it covers outlives it.
LONGEST_TOKEN = timedelta(days=30)


def _epoch(moment: datetime) -> float:
    """Seconds since the epoch, to the millisecond (what `auth.issue` puts in `iat`).

    SQLite hands timestamps back without a zone; they were written in UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp() * 1000) / 1000


@dataclass(frozen=True)
class Revoked:
    """What a revocation endpoint answers: when it took effect and until when it matters."""

    scope: Literal["token", "subject"]
    revoked_at: datetime
    expires_at: datetime


class Revocations:
    """The revocations in force, in memory; `refuses` is on every request's path."""

    def __init__(self, database: Database, *, poll_seconds: float, lifetime_minutes: int) -> None:
        self.database = database
        self.cut_off_kept = max(timedelta(minutes=lifetime_minutes), LONGEST_TOKEN)
        self._tokens: frozenset[str] = frozenset()
        self._subjects: dict[str, float] = {}  # subject -> tokens issued before this are refused
        self._lock = threading.Lock()  # one writer at a time (refresh or a local revocation)
        self._ticker = Ticker("revocation-poller", poll_seconds, self.refresh)

    def refuses(self, viewer: Viewer) -> bool:
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

    def _apply(self, row: Revocation) -> None:
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

    # ------------------------------------------------------------------ revoking -----------
    def sign_out(self, viewer: Viewer) -> Revoked:
        """Revoke the token `viewer` presented (a token without an id: every token of its subject)."""
        now = datetime.now(UTC)
        if viewer.token_id:
            row = Revocation(jti=viewer.token_id, expires_at=max(datetime.fromtimestamp(viewer.expires_at, UTC), now))
            scope: Literal["token", "subject"] = "token"
        else:
            row = Revocation(subject=viewer.subject, not_before=now, expires_at=now + self.cut_off_kept)
            scope = "subject"
        self._record(row, viewer=viewer, action="sign_out", subject=_audit_subject(viewer.role, viewer.subject),
                     detail={"scope": scope})
        return Revoked(scope, now, row.expires_at)

    def cut_off(self, subject: str, *, role: Literal["staff", "citizen"], viewer: Viewer) -> Revoked:
        """Every token of `subject` (a staff id, or a citizen's pseudonym) issued up to now stops working."""
        now = datetime.now(UTC)
        row = Revocation(subject=subject, not_before=now, expires_at=now + self.cut_off_kept)
        detail = {"scope": "subject", "kind": role}
        if role == "staff":
            detail["staff_id"] = subject  # staff ids are recorded as issued, like `actor`
        self._record(row, viewer=viewer, action="revocation", detail=detail,
                     subject=subject if role == "citizen" else None)
        return Revoked("subject", now, row.expires_at)

    def _record(self, row: Revocation, *, viewer: Viewer, action: str, subject: str | None, detail: dict) -> None:
        with self.database.write_session() as session:
            _prune(session)
            session.add(row)
            audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action=action,
                          subject=subject, detail=detail)
        self._apply(row)  # committed: in force in this worker from the next request


def _prune(session: Session) -> None:
    """Rows past `expires_at` refuse only expired tokens: drop them."""
    session.execute(delete(Revocation).where(Revocation.expires_at <= datetime.now(UTC)))


def _audit_subject(role: Role, subject: str) -> str | None:
    """The audit's subject column holds a person's pseudonym; staff appear as the actor."""
    return subject if role is Role.citizen else None
