"""A resident's own portal settings: today, whether to suggest services related to the
sensitive services they use.

Off unless the person turns it on themselves (no one else may): such suggestions may reveal
special category data to anyone who sees the screen, so only the person decides. The setting
is held in `citizen_preferences`, listed in subject access and removed by erasure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from serving.domain import access, audit, erasure
from serving.domain.access import Action, Person
from serving.domain.auth import Role, Viewer
from serving.infra.db import Database
from serving.infra.tables import CitizenPreference


@dataclass(frozen=True)
class Preferences:
    sensitive_suggestions: bool  # default False
    updated_at: datetime | None  # None: never changed


def read(session: Session, pseudonym: str) -> Preferences:
    row = session.get(CitizenPreference, pseudonym)
    return Preferences(bool(row.sensitive_suggestions), row.updated_at) if row else Preferences(False, None)


def for_myself(database: Database, viewer: Viewer, person: Person, *, today: date) -> Preferences:
    """The signed-in resident's own settings (a citizen only: staff never read or apply them)."""
    if viewer.role is not Role.citizen:
        raise access.Refused("only the resident themselves can see their portal settings",
                             action=Action.consent_read, code="role")
    with database.reading() as session:
        access.check(session, viewer, Action.consent_read, person, today=today)
        return read(session, person.pseudonym)


def set_sensitive_suggestions(database: Database, viewer: Viewer, person: Person, on: bool, *,
                              today: date) -> Preferences:
    """Turn suggestions related to the person's sensitive services on or off; audited."""
    if viewer.role is not Role.citizen:
        raise access.Refused("only the resident themselves can change this setting",
                             action=Action.consent_change, code="role")
    with database.write_session() as session:
        access.check(session, viewer, Action.consent_change, person, today=today)
        erasure.require_present(session, person, yourself=True)
        now = datetime.now(UTC)
        row = session.get(CitizenPreference, person.pseudonym)
        if row is None:
            session.add(CitizenPreference(pseudonym=person.pseudonym, sensitive_suggestions=on, updated_at=now))
        else:
            row.sensitive_suggestions, row.updated_at = on, now
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="preferences.change",
                     subject=person.pseudonym, detail={"sensitive_suggestions": on})
        session.flush()
        return read(session, person.pseudonym)
