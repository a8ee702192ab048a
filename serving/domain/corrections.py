"""'Something is wrong': a resident's request to correct the data held about them (UK GDPR
Art. 16), recorded for staff and audited. The audit entry names only the part of the data
concerned, never the message (it may hold personal details); the message is in subject access
and erasure removes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.domain import access, audit, erasure
from serving.domain.access import Action, Person
from serving.domain.auth import Role, Viewer
from serving.domain.errors import Invalid
from serving.infra.db import Database
from serving.infra.tables import CorrectionRequest

#: The part of "Your data" a request is about -> how the page names it.
ABOUT = {
    "record": "About you", "services": "Services you use", "choices": "Your choices about your data",
    "suggestions": "Suggestions we made", "other": "Something else",
}
MAX_MESSAGE = 1000


@dataclass(frozen=True)
class Correction:
    id: int
    pseudonym: str
    about: str
    message: str
    recorded_at: datetime


def _plain(row: CorrectionRequest) -> Correction:
    return Correction(row.id, row.pseudonym, row.about, row.message, row.recorded_at)


def read(session: Session, pseudonym: str) -> list[Correction]:
    rows = session.scalars(select(CorrectionRequest).where(CorrectionRequest.pseudonym == pseudonym)
                           .order_by(CorrectionRequest.id))
    return [_plain(r) for r in rows]


def ask(database: Database, viewer: Viewer, person: Person, *, about: str, message: str, today: date) -> Correction:
    """Record the resident's own request; committed before this returns."""
    if viewer.role is not Role.citizen:
        raise access.Refused("a correction request comes from the resident; staff correct records at the source",
                             action=Action.subject_access, code="role")
    message = message.strip()
    if about not in ABOUT:
        raise Invalid("choose which part of your data is wrong")
    if not message:
        raise Invalid("tell us what is wrong and what it should say")
    if len(message) > MAX_MESSAGE:
        raise Invalid(f"your message must be {MAX_MESSAGE} characters or fewer")
    with database.write_session() as session:
        access.check(session, viewer, Action.subject_access, person, today=today)
        erasure.require_present(session, person, yourself=True)
        row = CorrectionRequest(pseudonym=person.pseudonym, about=about, message=message,
                                recorded_at=datetime.now(UTC))
        session.add(row)
        session.flush()
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="correction.request",
                     subject=person.pseudonym, detail={"about": about, "id": row.id})
        return _plain(row)


def for_staff(database: Database, viewer: Viewer, *, after: int = 0, limit: int = 100) -> list[Correction]:
    """Requests in the order received, for the staff who act on them; reading is audited."""
    access.role_allowed(viewer, Action.corrections_read)
    with database.write_session() as session:
        rows = session.scalars(select(CorrectionRequest).where(CorrectionRequest.id > after)
                               .order_by(CorrectionRequest.id).limit(limit))
        found = [_plain(r) for r in rows]
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="corrections.read",
                     subject=None, detail={"after": after, "count": len(found)})
        return found
