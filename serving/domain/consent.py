"""The consent ledger: seeded from the extracts, changed through the API, read on every request.

Every decision is a row in `consent_records` (append-only); `consent_state` holds the latest
decision per person and purpose, so a request reads one indexed row set and a withdrawal is
in force for the very next request — before any retraining. A person with no record for a
purpose gets the configured default (`settings.consent_defaults`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from serving.domain import access, audit, erasure
from serving.domain.access import Action, Person
from serving.domain.auth import Role, Viewer
from serving.infra.db import Database
from serving.infra.tables import ConsentRecord, ConsentState
from signpost.settings import PURPOSES, Purpose, Settings

Status = Literal["granted", "withdrawn", "objected"]
Method = Literal["portal", "paper", "phone", "caseworker", "import"]

#: What each purpose means, in words a resident reads (the API and the consent page).
MEANINGS = {
    "personalisation": "Use the services you have used to suggest others for you (opt-in).",
    "early_intervention": "Let caseworkers see early-help indicators for your family (public task; you may object).",
    "research": "Include you in anonymous statistics for planning services (opt-out).",
}
#: What "no" records for each purpose: personalisation is opt-in (withdrawn); early intervention
#: is a public task and research opt-out, so "no" is an objection.
REFUSAL: dict[str, Status] = {"personalisation": "withdrawn", "early_intervention": "objected", "research": "objected"}
#: How a decision was given when the request does not say: by whom it was recorded.
DEFAULT_METHOD = {Role.citizen: "portal", Role.caseworker: "caseworker", Role.admin: "paper"}


@dataclass(frozen=True)
class Decision:
    purpose: Purpose
    allowed: bool
    status: Status | None  # None: no record, the default applies
    recorded_at: datetime | None
    method: str | None

    @property
    def meaning(self) -> str:
        return MEANINGS[self.purpose]


def allowed(status: str | None, purpose: Purpose, settings: Settings) -> bool:
    """Whether the latest status for `purpose` allows use (the default when there is none)."""
    if status is None:
        return bool(settings.consent_defaults.get(purpose, False))
    return status == "granted"


def statuses(connection: Connection | Session, pseudonym: str) -> dict[str, str]:
    """The latest status per purpose for one person (the hot path: one indexed read)."""
    rows = connection.execute(
        select(ConsentState.purpose, ConsentState.status).where(ConsentState.pseudonym == pseudonym)
    )
    return {purpose: status for purpose, status in rows}


def decisions(session: Session, pseudonym: str, settings: Settings) -> list[Decision]:
    """One decision per purpose, with the default filled in where there is no record."""
    rows = {
        row.purpose: row
        for row in session.scalars(select(ConsentState).where(ConsentState.pseudonym == pseudonym))
    }
    out = []
    for purpose in PURPOSES:
        row = rows.get(purpose)
        status = row.status if row else None
        out.append(
            Decision(
                purpose=purpose,
                allowed=allowed(status, purpose, settings),
                status=status,  # type: ignore[arg-type]
                recorded_at=row.recorded_at if row else None,
                method=row.method if row else None,
            )
        )
    return out


def household_objects(session: Session, pseudonyms: list[str], purpose: Purpose = "early_intervention") -> bool:
    """Whether anyone in the household has objected to (or withdrawn from) `purpose`."""
    if not pseudonyms:
        return False
    found = session.scalar(
        select(func.count())
        .select_from(ConsentState)
        .where(
            ConsentState.pseudonym.in_(pseudonyms),
            ConsentState.purpose == purpose,
            ConsentState.status.in_(("objected", "withdrawn")),
        )
    )
    return bool(found)


def change(
    session: Session,
    *,
    pseudonym: str,
    purpose: Purpose,
    status: Status,
    method: Method,
    viewer: Viewer,
) -> ConsentState:
    """Record a decision, make it the current state, and audit it — all in one transaction."""
    now = datetime.now(UTC)
    session.add(
        ConsentRecord(
            pseudonym=pseudonym,
            purpose=purpose,
            status=status,
            recorded_at=now,
            method=method,
            origin="api",
            actor_role=viewer.role.value,
        )
    )
    state = session.get(ConsentState, (pseudonym, purpose))
    previous = state.status if state else None
    if state is None:
        state = ConsentState(pseudonym=pseudonym, purpose=purpose, status=status, recorded_at=now, method=method)
        session.add(state)
    else:
        state.status, state.recorded_at, state.method = status, now, method
    audit.append(
        session,
        actor_role=viewer.role.value,
        actor=viewer.subject,
        action="consent.change",
        subject=pseudonym,
        detail={"purpose": purpose, "from": previous, "to": status, "method": method},
    )
    session.flush()
    return state


def history(session: Session, pseudonym: str) -> list[ConsentRecord]:
    return list(
        session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.pseudonym == pseudonym)
            .order_by(ConsentRecord.recorded_at, ConsentRecord.id)
        )
    )


def for_person(database: Database, viewer: Viewer, person: Person, *, settings: Settings, today: date,
               yourself: bool = False) -> list[Decision]:
    """The person's decisions, if `viewer` may read them."""
    with database.reading() as session:
        access.check(session, viewer, Action.consent_read, person, today=today)
        erasure.require_present(session, person, yourself=yourself)
        found = decisions(session, person.pseudonym, settings)
    audit.staff_read(database, viewer, "consent.view", person.pseudonym)
    return found


def decide(database: Database, viewer: Viewer, person: Person, *, purpose: Purpose, status: Status,
           method: Method | None, settings: Settings, today: date) -> list[Decision]:
    """Record one decision, if `viewer` may; committed (fsynced) before this returns."""
    with database.write_session() as session:
        access.check(session, viewer, Action.consent_change, person, today=today)
        erasure.require_present(session, person)
        change(session, pseudonym=person.pseudonym, purpose=purpose, status=status,
               method=method or DEFAULT_METHOD[viewer.role], viewer=viewer)
        return decisions(session, person.pseudonym, settings)


def set_allowed(database: Database, viewer: Viewer, person: Person, answers: dict[str, bool], *,
                settings: Settings, today: date, yourself: bool = False) -> list[Decision]:
    """Yes/no per purpose (a consent form): only answers that change what is allowed are
    recorded, since the ledger records decisions, not form saves. "No" is the purpose's
    refusal (`REFUSAL`)."""
    with database.write_session() as session:
        access.check(session, viewer, Action.consent_change, person, today=today)
        erasure.require_present(session, person, yourself=yourself)
        for decision in decisions(session, person.pseudonym, settings):
            wanted = answers.get(decision.purpose)
            if wanted is None or wanted == decision.allowed:
                continue
            change(session, pseudonym=person.pseudonym, purpose=decision.purpose,
                   status="granted" if wanted else REFUSAL[decision.purpose],
                   method=DEFAULT_METHOD[viewer.role], viewer=viewer)
        return decisions(session, person.pseudonym, settings)
