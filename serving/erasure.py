"""Erasure: a person's ledger, events, feedback and served lists removed; the fact kept.

The audit trail keeps the pseudonym and the fact of erasure (it is append-only and its
entries carry no personal data beyond the pseudonym); `erasures` makes every worker refuse
to serve the person from the next request on, start-up seeding skips them, and the next
`signpost features` build leaves them out (`erased_pseudonyms`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from serving import audit
from serving.auth import Viewer
from serving.db import read_service_database
from serving.errors import Gone, NotFound
from serving.models import ConsentRecord, ConsentState, Erasure, Event, Feedback, Suggestion


def erase(session: Session, pseudonym: str, *, viewer: Viewer, known: bool) -> tuple[datetime, dict[str, int]]:
    """Delete what is held and record the erasure; the caller commits.

    `known`: the person is in the current build (so the next build must leave them out too).
    """
    earlier = session.get(Erasure, pseudonym)
    if earlier is not None:
        raise Gone(f"this person was already erased at {audit.timestamp(earlier.erased_at)}")
    removed = {}
    for name, model in (
        ("consent_records", ConsentRecord), ("consent_state", ConsentState), ("events", Event),
        ("feedback", Feedback), ("suggestions", Suggestion),
    ):
        removed[name] = session.execute(delete(model).where(model.pseudonym == pseudonym)).rowcount or 0
    if not known and not any(removed.values()):
        raise NotFound("nothing is held about this person; check the person id")
    now = datetime.now(UTC)
    session.add(Erasure(pseudonym=pseudonym, erased_at=now))
    audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="erasure",
                 subject=pseudonym, detail={"removed": removed})
    session.flush()
    return now, removed


def is_erased(session: Session, pseudonym: str) -> bool:
    return session.get(Erasure, pseudonym) is not None


def erased_pseudonyms(url: str) -> frozenset[str] | None:
    """Everyone erased so far, for the next feature build; None when no service database exists yet.

    Only reads (`serving.db.read_service_database`): a database the service never set up holds
    no erasures; one that exists but cannot be read stops the build, since building without it
    would bring erased people back.
    """
    return read_service_database(
        url, "erasures", lambda connection: frozenset(connection.scalars(select(Erasure.pseudonym))),
        what="erasures",
    )
