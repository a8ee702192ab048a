"""The consent ledger: seeded from the extracts, changed through the API, read on every request.

Every decision is a row in `consent_records` (append-only); `consent_state` holds the latest
decision per person and purpose, so a request reads one indexed row set and a withdrawal is
in force for the very next request — before any retraining. A person with no record for a
purpose gets the configured default (`settings.consent_defaults`).

Who acted decides how a decision is recorded: a citizen's own change is `portal`; staff record
what the person told them (`phone`, `paper`, `caseworker`) with their staff id and a note. Only
the person can lift their own objection: staff asked to turn one into a grant are refused
(`ObjectionStands`), and continuing despite an objection is a separate admin decision with its
grounds (UK GDPR Art. 21, `override`). An override answers the objection in force when it is
made and stands while it is the latest word on the purpose: the person's next decision for the
purpose ends it (a grant makes it unnecessary; a fresh objection must be considered afresh).
Request-time reads (`decisions`, `objecting`) and the next feature build
(`serving.infra.service_readers.api_consents`, where a standing override is a grant at the
moment it was decided) apply that one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from serving.domain import access, audit, erasure
from serving.domain.access import Action, Person
from serving.domain.auth import Role, Viewer
from serving.domain.errors import Conflict, Invalid
from serving.infra.db import Database
from serving.infra.tables import ConsentOverride, ConsentRecord, ConsentState
from signpost.settings import PURPOSES, Purpose, Settings

Status = Literal["granted", "withdrawn", "objected"]
Method = Literal["portal", "paper", "phone", "caseworker", "import"]

#: What each purpose means, in words a resident reads (the API and the consent page).
MEANINGS = {
    "personalisation": "Use the services you have used to suggest others for you. We only do this if you say yes.",
    "early_intervention": "Let caseworkers see early-help indicators for your family. We do this to help families "
                          "early, unless you say no.",
    "research": "Include you in anonymous statistics for planning services, unless you say no.",
}
#: What "no" records for each purpose: personalisation is opt-in (withdrawn); early intervention
#: is a public task and research opt-out, so "no" is an objection.
REFUSAL: dict[str, Status] = {"personalisation": "withdrawn", "early_intervention": "objected", "research": "objected"}
#: How staff may say the person gave a decision they record (a citizen's own change is `portal`).
STAFF_METHODS = ("phone", "paper", "caseworker")
#: Purposes whose objection an admin may continue despite (UK GDPR Art. 21: a public task).
OVERRIDABLE = ("early_intervention",)
#: Where to go instead, told to staff whose change would lift an objection.
ART21_ROUTE = (
    "only the person can lift their own objection (on their consent page); to continue despite it, an admin "
    "records the compelling legitimate grounds as an override (UK GDPR Art. 21): "
    "POST /v1/citizens/{person_id}/consent/overrides"
)


class ObjectionStands(Conflict):
    """Staff asked to turn a person's objection into a grant: only the person, or an Art. 21 override, may."""

    code = "objection_stands"


def is_objection(purpose: str, status: str | None) -> bool:
    """Whether `status` is an objection only the person can lift: `objected`, and for early
    intervention (a public task, where a withdrawal is read as an objection) `withdrawn` too."""
    return status == "objected" or (purpose == "early_intervention" and status == "withdrawn")


def recorded_as(viewer: Viewer, method: str | None, note: str | None) -> tuple[str, str | None, str | None]:
    """(method, actor, note) to record for `viewer`'s change: the method follows from the actor."""
    note = note.strip() if note else None
    if viewer.role is Role.citizen:
        if method not in (None, "portal"):
            raise Invalid(f"a change you make yourself is recorded as `portal`, not {method!r}: leave `method` out")
        if note:
            raise Invalid("a note is for staff recording a decision on someone's behalf: leave `note` out")
        return "portal", None, None
    if method not in STAFF_METHODS:
        given = "" if method is None else f"`{method}` is not how staff record a decision (`portal` is the " \
            "person's own change on their consent page, `import` the partner extract's); "
        raise Invalid(
            f"{given}staff recording a person's decision must say how the person gave it: `method` is one of "
            f"{', '.join(STAFF_METHODS)} (`caseworker`: in person, to you)"
        )
    if not note:
        raise Invalid("staff recording a person's decision must add a `note`: when and how the person gave it")
    return method, viewer.subject, note


@dataclass(frozen=True)
class Override:
    """An admin's decision to continue despite the person's objection, and why."""

    purpose: Purpose
    overridden_status: str
    decided_at: datetime
    decided_by: str
    reason: str

    @property
    def sentence(self) -> str:
        """What the person is told, in one plain sentence: who decided, when, why."""
        return (f"On {self.decided_at:%-d %B %Y}, {self.decided_by} (an administrator) decided to keep using "
                f"your data for early help despite your objection, because: {self.reason.rstrip('.')}.")


@dataclass(frozen=True)
class Decision:
    purpose: Purpose
    allowed: bool
    status: Status | None  # None: no record, the default applies
    recorded_at: datetime | None
    method: str | None
    override: Override | None = None  # standing: the purpose is allowed despite the objection

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


#: An override stands while no decision for its purpose was recorded after it (ties: the objection).
_STANDS = (
    (ConsentOverride.pseudonym == ConsentState.pseudonym)
    & (ConsentOverride.purpose == ConsentState.purpose)
    & (ConsentOverride.decided_at > ConsentState.recorded_at)
)


def standing_overrides(session: Session, pseudonym: str) -> dict[str, Override]:
    """Purpose -> the override that stands for this person (the latest, if ever more than one)."""
    rows = session.scalars(
        select(ConsentOverride).join(ConsentState, _STANDS).where(ConsentOverride.pseudonym == pseudonym)
        .order_by(ConsentOverride.decided_at, ConsentOverride.id)
    )
    return {
        row.purpose: Override(purpose=row.purpose, overridden_status=row.overridden_status,  # type: ignore[arg-type]
                              decided_at=row.decided_at, decided_by=row.decided_by, reason=row.reason)
        for row in rows
    }


def decisions(session: Session, pseudonym: str, settings: Settings) -> list[Decision]:
    """One decision per purpose, with the default filled in where there is no record."""
    rows = {
        row.purpose: row
        for row in session.scalars(select(ConsentState).where(ConsentState.pseudonym == pseudonym))
    }
    overrides = standing_overrides(session, pseudonym)
    out = []
    for purpose in PURPOSES:
        row = rows.get(purpose)
        status = row.status if row else None
        out.append(
            Decision(
                purpose=purpose,
                allowed=allowed(status, purpose, settings) or purpose in overrides,
                status=status,  # type: ignore[arg-type]
                recorded_at=row.recorded_at if row else None,
                method=row.method if row else None,
                override=overrides.get(purpose),
            )
        )
    return out


def objecting(session: Session, pseudonyms: list[str], purpose: Purpose = "early_intervention") -> set[str]:
    """Those of `pseudonyms` whose objection to (or withdrawal from) `purpose` is in force: no
    standing Art. 21 override answers it."""
    if not pseudonyms:
        return set()
    overridden = select(ConsentOverride.id).where(_STANDS).exists()
    return set(session.scalars(
        select(ConsentState.pseudonym).where(
            ConsentState.pseudonym.in_(pseudonyms),
            ConsentState.purpose == purpose,
            ConsentState.status.in_(("objected", "withdrawn")),
            ~overridden,
        )
    ))


def household_objects(session: Session, pseudonyms: list[str], purpose: Purpose = "early_intervention") -> bool:
    """Whether anyone in the household has objected to (or withdrawn from) `purpose`, unanswered."""
    return bool(objecting(session, pseudonyms, purpose))


def change(
    session: Session,
    *,
    pseudonym: str,
    purpose: Purpose,
    status: Status,
    viewer: Viewer,
    method: Method | None = None,
    note: str | None = None,
) -> ConsentState:
    """Record a decision, make it the current state, and audit it — all in one transaction.

    The one place a decision is written, so the rules hold for every caller: the method follows
    from the actor (`recorded_as`) and staff never lift an objection (`ObjectionStands`).
    """
    method, actor, note = recorded_as(viewer, method, note)
    state = session.get(ConsentState, (pseudonym, purpose))
    previous = state.status if state else None
    if viewer.role is not Role.citizen and status == "granted" and is_objection(purpose, previous):
        raise ObjectionStands(
            f"this person has {previous} to {purpose.replace('_', ' ')}; a {viewer.role.value} may record a "
            f"decision the person stated, but not turn their objection into a grant: {ART21_ROUTE}"
        )
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
            actor=actor,
            note=note,
        )
    )
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


def record_override(session: Session, *, pseudonym: str, purpose: Purpose, reason: str, viewer: Viewer) -> Override:
    """Record an admin's decision to continue despite the person's objection; audited."""
    reason = reason.strip()
    access.role_allowed(viewer, Action.consent_override)
    if purpose not in OVERRIDABLE:
        raise Invalid(f"an objection to {purpose} cannot be overridden: only {', '.join(OVERRIDABLE)} is a public task")
    if not reason:
        raise Invalid("an override needs the compelling legitimate grounds as its `reason`")
    state = session.get(ConsentState, (pseudonym, purpose))
    if state is None or not is_objection(purpose, state.status):
        raise Conflict(f"this person has not objected to {purpose.replace('_', ' ')}: there is nothing to override")
    standing = standing_overrides(session, pseudonym).get(purpose)
    if standing is not None:
        raise Conflict(f"an override decided by {standing.decided_by} at {standing.decided_at.isoformat()} "
                       "already stands for this objection")
    now = datetime.now(UTC)
    session.add(ConsentOverride(pseudonym=pseudonym, purpose=purpose, overridden_status=state.status,
                                decided_at=now, decided_by=viewer.subject, reason=reason))
    audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="consent.override",
                 subject=pseudonym, detail={"purpose": purpose, "overridden": state.status})
    session.flush()
    return Override(purpose=purpose, overridden_status=state.status, decided_at=now, decided_by=viewer.subject,
                    reason=reason)


def overrides(session: Session, pseudonym: str) -> list[dict]:
    """Every override recorded for the person (subject access), with whether it stands now."""
    standing = set(standing_overrides(session, pseudonym).values())
    out = []
    for row in session.scalars(select(ConsentOverride).where(ConsentOverride.pseudonym == pseudonym)
                               .order_by(ConsentOverride.decided_at, ConsentOverride.id)):
        made = Override(purpose=row.purpose, overridden_status=row.overridden_status,  # type: ignore[arg-type]
                        decided_at=row.decided_at, decided_by=row.decided_by, reason=row.reason)
        out.append({"purpose": made.purpose, "overridden_status": made.overridden_status,
                    "decided_at": made.decided_at.isoformat(), "decided_by": made.decided_by, "reason": made.reason,
                    "stands": made in standing, "sentence": made.sentence})
    return out


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
           method: Method | None, settings: Settings, today: date, note: str | None = None) -> list[Decision]:
    """Record one decision, if `viewer` may; committed (fsynced) before this returns."""
    with database.write_session() as session:
        access.check(session, viewer, Action.consent_change, person, today=today)
        erasure.require_present(session, person)
        change(session, pseudonym=person.pseudonym, purpose=purpose, status=status, method=method, note=note,
               viewer=viewer)
        return decisions(session, person.pseudonym, settings)


def override(database: Database, viewer: Viewer, person: Person, *, purpose: Purpose, reason: str,
             settings: Settings, today: date) -> list[Decision]:
    """Continue despite the person's objection (admins, UK GDPR Art. 21); committed before this returns."""
    with database.write_session() as session:
        access.check(session, viewer, Action.consent_override, person, today=today)
        erasure.require_present(session, person)
        record_override(session, pseudonym=person.pseudonym, purpose=purpose, reason=reason, viewer=viewer)
        return decisions(session, person.pseudonym, settings)
