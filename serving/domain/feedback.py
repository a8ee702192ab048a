"""Feedback on suggestions: citizens say useful / not for me; caseworkers record decisions.

"Not for me" takes the service out of the citizen's next lists at once, until they take it back. A caseworker's
accept or decline must give a reason (it is part of the case record) and is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from serving.domain import access, audit, erasure
from serving.domain.access import Action, Person
from serving.domain.auth import Role, Viewer
from serving.domain.errors import Invalid
from serving.infra.db import Database
from serving.infra.processed import ProcessedData
from serving.infra.tables import Feedback


@dataclass(frozen=True)
class Recorded:
    id: int
    decision: str
    recorded_at: datetime


DECISIONS = {Role.citizen: ("useful", "not_for_me"), Role.caseworker: ("accepted", "declined")}


def record(session: Session, pseudonym: str, *, service_id: str, decision: str, reason: str | None,
           viewer: Viewer, processed: ProcessedData) -> Feedback:
    """Store one reaction or decision in the caller's transaction (audited for caseworkers)."""
    allowed = DECISIONS.get(viewer.role, ())
    if decision not in allowed:
        raise Invalid(f"a {viewer.role.value} records one of {', '.join(allowed)}, not {decision!r}")
    if viewer.role is Role.caseworker and not reason:
        raise Invalid("a caseworker's decision needs a reason: say why it was accepted or declined")
    if service_id not in processed.services.index:
        raise Invalid(f"service_id {service_id!r} is not in the catalogue")
    row = Feedback(
        pseudonym=pseudonym,
        service_id=service_id,
        decision=decision,
        reason=reason or None,
        actor_role=viewer.role.value,
        actor=viewer.subject,
        recorded_at=datetime.now(UTC),
    )
    session.add(row)
    if viewer.role is Role.caseworker:
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="feedback.decision",
                     subject=pseudonym, detail={"service_id": service_id, "decision": decision})
    session.flush()
    return row


def give(database: Database, viewer: Viewer, person: Person, *, service_id: str, decision: str, reason: str | None,
         processed: ProcessedData, today: date, yourself: bool = False) -> Recorded:
    """Record feedback on `person`'s suggestion, if `viewer` may; committed before this returns."""
    access.role_allowed(viewer, Action.feedback_write)
    with database.write_session() as session:
        access.check(session, viewer, Action.feedback_write, person, today=today)
        erasure.require_present(session, person, yourself=yourself)
        row = record(session, person.pseudonym, service_id=service_id, decision=decision, reason=reason,
                     viewer=viewer, processed=processed)
        return Recorded(row.id, row.decision, row.recorded_at)


def not_for_me(session: Session, pseudonym: str) -> list[str]:
    """Services the person has said are not for them (and not taken back), oldest first."""
    rows = session.scalars(select(Feedback.service_id).where(
        Feedback.pseudonym == pseudonym, Feedback.decision == "not_for_me").order_by(Feedback.id))
    return list(dict.fromkeys(rows))


def undo_not_for_me(database: Database, viewer: Viewer, person: Person, *, service_id: str,
                    today: date) -> int:
    """Take back the person's own "Not for me" on `service_id`: the service may be suggested
    again from the next list. Their statement is withdrawn, not overruled, so the rows go."""
    if viewer.role is not Role.citizen:
        raise access.Refused("only the resident can take back their own \"Not for me\"",
                             action=Action.feedback_write, code="role")
    with database.write_session() as session:
        access.check(session, viewer, Action.feedback_write, person, today=today)
        erasure.require_present(session, person, yourself=True)
        removed = session.execute(delete(Feedback).where(
            Feedback.pseudonym == person.pseudonym, Feedback.service_id == service_id,
            Feedback.decision == "not_for_me")).rowcount or 0
        return removed
