"""Erasure: a person's ledger, events, feedback, served lists, portal settings, saved services and correction requests removed; the fact kept.

The audit trail keeps the pseudonym and the fact of erasure (it is append-only and its
entries carry no personal data beyond the pseudonym); `erasures` makes every worker refuse
to serve the person from the next request on, start-up seeding skips them, and the next
`signpost features` build leaves them out (`serving.infra.service_readers.erased_pseudonyms`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from serving.domain import access, audit
from serving.domain.access import Action, Person
from serving.domain.auth import Viewer
from serving.domain.errors import Gone, NotFound
from serving.infra.db import Database
from serving.infra.registry import Models
from serving.infra.served import ServedLog
from serving.infra.tables import (
    CitizenPreference,
    ConsentOverride,
    ConsentRecord,
    ConsentState,
    CorrectionRequest,
    EarlyHelpDecision,
    EarlyHelpRequest,
    Erasure,
    Event,
    Feedback,
    SavedService,
    Suggestion,
    utc_text,
)


def erase(session: Session, pseudonym: str, *, viewer: Viewer, known: bool) -> tuple[datetime, dict[str, int]]:
    """Delete what is held and record the erasure; the caller commits.

    `known`: the person is in the current build (so the next build must leave them out too).
    """
    earlier = session.get(Erasure, pseudonym)
    if earlier is not None:
        raise Gone(f"this person was already erased at {utc_text(earlier.erased_at)}")
    removed = {}
    for name, model in (
        ("consent_records", ConsentRecord), ("consent_state", ConsentState),
        ("consent_overrides", ConsentOverride), ("events", Event),
        ("feedback", Feedback), ("suggestions", Suggestion), ("citizen_preferences", CitizenPreference),
        ("saved_services", SavedService), ("correction_requests", CorrectionRequest),
        ("early_help_decisions", EarlyHelpDecision), ("early_help_requests", EarlyHelpRequest),
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


def require_present(session: Session, person: Person, *, yourself: bool = False) -> None:
    """Erased people are gone (410) and people outside the build not found (404), the same
    for every reader; `yourself`: worded for the person themselves (their portal)."""
    if is_erased(session, person.pseudonym):
        raise Gone("your data was erased at your request; nothing about you is held any more" if yourself
                   else "this person's data was erased at their request")
    if not person.known:
        raise NotFound("there is no record of you in the current build" if yourself
                       else "no record of this person in the current build")


@dataclass(frozen=True)
class Erased:
    erased_at: datetime
    removed: dict[str, int]  # table -> rows deleted


async def erase_person(database: Database, viewer: Viewer, person: Person, *, served: ServedLog, models: Models,
                       today: date) -> Erased:
    """Erase, if `viewer` may: the database first (committed, off the event loop), then the
    served state, on the loop, so no recommendation batch reads a model while it forgets."""

    def work() -> Erased:
        with database.write_session() as session:
            access.check(session, viewer, Action.erase, person, today=today)
            erased_at, removed = erase(session, person.pseudonym, viewer=viewer, known=person.known)
        return Erased(erased_at, removed)

    out = await asyncio.to_thread(work)
    served.forget(person.pseudonym)
    for signposter in {id(s): s for s in (models.signposter, models.fallback) if s is not None}.values():
        signposter.forget([person.pseudonym])
    return out
