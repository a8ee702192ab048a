"""A resident's list of saved services: kept in the service database so it follows them
between devices and can be printed; listed in subject access and removed by erasure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from serving.domain import access, erasure
from serving.domain.access import Action, Person
from serving.domain.auth import Role, Viewer
from serving.domain.errors import Invalid
from serving.infra.db import Database
from serving.infra.processed import ProcessedData
from serving.infra.tables import SavedService


@dataclass(frozen=True)
class Saved:
    service_id: str
    saved_at: datetime


def _resident_only(viewer: Viewer, action: Action) -> None:
    if viewer.role is not Role.citizen:
        raise access.Refused("a saved list belongs to the resident: only they can see or change it",
                             action=action, code="role")


def read(session: Session, pseudonym: str) -> list[Saved]:
    rows = session.scalars(select(SavedService).where(SavedService.pseudonym == pseudonym)
                           .order_by(SavedService.saved_at, SavedService.service_id))
    return [Saved(r.service_id, r.saved_at) for r in rows]


def for_myself(database: Database, viewer: Viewer, person: Person, *, today: date) -> list[Saved]:
    _resident_only(viewer, Action.consent_read)
    with database.reading() as session:
        access.check(session, viewer, Action.recommendations, person, today=today)
        return read(session, person.pseudonym)


def save(database: Database, viewer: Viewer, person: Person, service_id: str, *, processed: ProcessedData,
         today: date) -> list[Saved]:
    """Add a catalogue service to the person's list (saving it twice keeps one entry)."""
    _resident_only(viewer, Action.feedback_write)
    if service_id not in processed.services.index:
        raise Invalid(f"service {service_id!r} is not in the catalogue")
    with database.write_session() as session:
        access.check(session, viewer, Action.feedback_write, person, today=today)
        erasure.require_present(session, person, yourself=True)
        if session.get(SavedService, (person.pseudonym, service_id)) is None:
            session.add(SavedService(pseudonym=person.pseudonym, service_id=service_id, saved_at=datetime.now(UTC)))
        session.flush()
        return read(session, person.pseudonym)


def remove(database: Database, viewer: Viewer, person: Person, service_id: str, *, today: date) -> list[Saved]:
    _resident_only(viewer, Action.feedback_write)
    with database.write_session() as session:
        access.check(session, viewer, Action.feedback_write, person, today=today)
        erasure.require_present(session, person, yourself=True)
        session.execute(delete(SavedService).where(SavedService.pseudonym == person.pseudonym,
                                                   SavedService.service_id == service_id))
        return read(session, person.pseudonym)
