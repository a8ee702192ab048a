"""The append-only audit trail: each entry is hash-chained to the one before.

`hash = sha256(prev_hash + canonical(entry))`, where `canonical` is the entry's fields
(seq, recorded_at, actor_role, actor, action, subject, detail) as JSON with sorted keys and no
spaces. Altering, removing or reordering any entry breaks every hash after it, and
`verify` names the first entry that no longer fits. The database also refuses UPDATE and
DELETE on the table (triggers), so tampering needs more than a stray query.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from serving.domain import access
from serving.domain.auth import Role, Viewer
from serving.infra.db import Database
from serving.infra.tables import AuditEntry, AuditHead, utc_text

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no whitespace, UTF-8 text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode()).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "recorded_at": utc_text(entry.recorded_at),
        "actor_role": entry.actor_role,
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "detail": entry.detail,
    }


def append(
    session: Session,
    *,
    actor_role: str,
    actor: str,
    action: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry inside the caller's transaction; the head row's lock orders concurrent appends."""
    # The UPDATE takes the row lock first (PostgreSQL) / needs the write lock (SQLite), so the
    # previous hash we read back is the one committed last; RETURNING gives it without a race.
    seq, prev_hash = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one()
    entry = AuditEntry(
        seq=seq,
        recorded_at=datetime.now(UTC),
        actor_role=actor_role,
        actor=actor,
        action=action,
        subject=subject,
        detail=canonical_json(detail or {}),
        prev_hash=prev_hash,
    )
    entry.hash = entry_hash(prev_hash, _fields(entry))
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=entry.hash))
    session.flush()
    return entry


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    first_bad: int | None = None
    problem: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"audit trail intact: {self.entries:,} entries, every hash matches"
        return f"audit trail broken at entry {self.first_bad}: {self.problem}"


def staff_read(database: Database, viewer: Viewer, action: str, pseudonym: str) -> None:
    """Record that a member of staff read a person's data (`action`, e.g. `recommendations.view`),
    naming the person by pseudonym. A citizen's reads of their own records are not entries: the
    trail is for who else looked."""
    if viewer.role is Role.citizen:
        return
    with database.write_session() as session:
        append(session, actor_role=viewer.role.value, actor=viewer.subject, action=action, subject=pseudonym)


def _entries(session: Session, batch: int = 5_000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> Verdict:
    """Recompute the chain from the genesis hash and name the first entry that does not fit."""
    expected_seq, prev_hash, count = 1, GENESIS, 0
    for entry in _entries(session):
        if entry.seq != expected_seq:
            return Verdict(False, count, expected_seq, f"entry {expected_seq} is missing "
                           f"(the next one present is {entry.seq})")
        if entry.prev_hash != prev_hash:
            return Verdict(False, count, entry.seq, "its prev_hash does not match the entry before it")
        if entry_hash(prev_hash, _fields(entry)) != entry.hash:
            return Verdict(False, count, entry.seq, "its content does not match its hash (altered)")
        prev_hash, expected_seq, count = entry.hash, expected_seq + 1, count + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq, head.hash) != (count, prev_hash):
        first = count + 1 if head.seq > count else head.seq
        return Verdict(False, count, first, f"the chain ends at entry {count} but its head "
                       f"records {head.seq} entries (entries removed from the end)")
    return Verdict(True, count)


def read(session: Session, *, after: int = 0, limit: int = 100, subject: str | None = None) -> list[AuditEntry]:
    """A page of the trail in order, optionally for one subject."""
    query = select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    return list(session.scalars(query))


@dataclass(frozen=True)
class Entry:
    seq: int
    recorded_at: datetime
    actor_role: str
    actor: str
    action: str
    subject: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_after: int | None  # pass as `after` for the next page; None at the end


def read_page(database: Database, viewer: Viewer, *, after: int, limit: int, subject: str | None) -> Page:
    """A page of the trail for an admin; the reading itself is audited."""
    access.role_allowed(viewer, access.Action.audit)
    with database.write_session() as session:
        entries = read(session, after=after, limit=limit, subject=subject)
        page = Page(
            entries=[Entry(seq=e.seq, recorded_at=e.recorded_at, actor_role=e.actor_role, actor=e.actor,
                           action=e.action, subject=e.subject, detail=json.loads(e.detail),
                           prev_hash=e.prev_hash, hash=e.hash) for e in entries],
            next_after=entries[-1].seq if len(entries) == limit else None,
        )
        append(session, actor_role=viewer.role.value, actor=viewer.subject, action="audit.read",
               subject=None, detail={"after": after, "returned": len(entries)})
    return page
