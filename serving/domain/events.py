"""New usage events: validated per the data contract, stored durably, idempotent on retry.

A batch is all-or-nothing: one bad event rejects the batch with the event's index and the
rule it broke, so a partner system can fix and resend. Resending events already stored
(same source and event_id) is harmless; they are counted as duplicates, which is what makes
"retry until acknowledged" safe after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving.domain import access, erasure
from serving.domain.access import Action, Person
from serving.domain.auth import Viewer
from serving.domain.errors import Conflict, Invalid
from serving.infra.db import Database
from serving.infra.processed import ProcessedData
from serving.infra.tables import Event
from signpost.settings import Settings

UK = ZoneInfo("Europe/London")
CLOCK_SKEW = timedelta(minutes=5)


def to_utc(moment: datetime) -> datetime:
    """Contract timestamps: an offset is honoured; a naive one is UK local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UK)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class NewEvent:
    """One usage event as a partner system sent it (the person is given apart, pseudonymised)."""

    event_id: str
    source: str
    service_id: str
    occurred_at: datetime  # without an offset it is UK local time
    event_type: str


@dataclass(frozen=True)
class Stored:
    received: int
    duplicates: int


def validate(events: list[NewEvent], pseudonyms: list[str], processed: ProcessedData, settings: Settings) -> None:
    """Raise Invalid naming the first event that breaks a contract rule."""
    now = datetime.now(UTC)
    seen: dict[tuple[str, str], int] = {}
    for i, (event, pseudonym) in enumerate(zip(events, pseudonyms, strict=True)):
        where = f"events[{i}] (source {event.source!r}, event_id {event.event_id!r})"
        if event.source not in settings.sharing_policy:
            raise Invalid(f"{where}: source {event.source!r} is not in the data-sharing policy; "
                          f"known sources: {', '.join(sorted(settings.sharing_policy))}")
        if event.service_id not in processed.services.index:
            raise Invalid(f"{where}: service_id {event.service_id!r} is not in the catalogue")
        if not processed.knows(pseudonym):
            raise Invalid(f"{where}: the person is not in the current build's citizens")
        if to_utc(event.occurred_at) > now + CLOCK_SKEW:
            raise Invalid(f"{where}: occurred_at {event.occurred_at.isoformat()} is in the future")
        key = (event.source, event.event_id)
        if key in seen:
            raise Invalid(f"{where}: repeats events[{seen[key]}] (same source and event_id)")
        seen[key] = i


def store(
    session: Session,
    events: list[NewEvent],
    pseudonyms: list[str],
    *,
    erased: Callable[[str], bool],
) -> Stored:
    """Insert the events not yet stored; the caller commits before acknowledging."""
    keys = [(e.source, e.event_id) for e in events]
    existing = {
        (source, event_id): (pseudonym, service_id, event_type)
        for source, event_id, pseudonym, service_id, event_type in session.execute(
            select(Event.source, Event.event_id, Event.pseudonym, Event.service_id, Event.event_type)
            .where(tuple_(Event.source, Event.event_id).in_(keys))
        )
    }
    now = datetime.now(UTC)
    rows = []
    for i, (event, pseudonym) in enumerate(zip(events, pseudonyms, strict=True)):
        key = (event.source, event.event_id)
        if key in existing:
            if existing[key] != (pseudonym, event.service_id, event.event_type):
                raise Conflict(f"events[{i}]: source {event.source!r} already has event_id "
                               f"{event.event_id!r} for a different event; event ids must be unique per source")
            continue
        if erased(pseudonym):
            raise Conflict(f"events[{i}]: the person was erased; their events are no longer accepted")
        rows.append({
            "source": event.source, "event_id": event.event_id, "pseudonym": pseudonym,
            "service_id": event.service_id, "occurred_at": to_utc(event.occurred_at),
            "event_type": event.event_type, "received_at": now,
        })
    if rows:
        session.execute(insert(Event), rows)
    return Stored(received=len(rows), duplicates=len(events) - len(rows))


def receive(database: Database, viewer: Viewer, events: list[NewEvent], people: list[Person], *,
            processed: ProcessedData, settings: Settings, today: date) -> Stored:
    """Store a batch of events (one person per event), if `viewer` may record them for each;
    committed (fsynced) before this returns, so an acknowledged event is never lost."""
    access.role_allowed(viewer, Action.events_write)
    # Access first, validation second: a refused caller learns nothing about who exists.
    for person in sorted({p.pseudonym: p for p in people}.values(), key=lambda p: p.pseudonym):
        access.check(database, viewer, Action.events_write, person, today=today)
    pseudonyms = [p.pseudonym for p in people]
    validate(events, pseudonyms, processed, settings)
    for attempt in range(2):
        try:
            with database.write_session() as session:
                return store(session, events, pseudonyms, erased=lambda p: erasure.is_erased(session, p))
        except IntegrityError:  # another worker stored the same event a moment ago: retry once
            if attempt:
                raise Conflict("these events were being stored concurrently; resend them") from None
    raise AssertionError("unreachable")
