"""New usage events: validated per the data contract, stored durably, idempotent on retry.

A batch is all-or-nothing: one bad event rejects the batch with the event's index and the
rule it broke, so a partner system can fix and resend. Resending events already stored
(same source and event_id) is harmless; they are counted as duplicates, which is what makes
"retry until acknowledged" safe after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from serving.errors import Conflict, Invalid
from serving.models import Event
from serving.processed import ProcessedData
from serving.schemas import EventIn
from signpost.settings import Settings

UK = ZoneInfo("Europe/London")
CLOCK_SKEW = timedelta(minutes=5)


def to_utc(moment: datetime) -> datetime:
    """Contract timestamps: an offset is honoured; a naive one is UK local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UK)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Stored:
    received: int
    duplicates: int


def validate(events: list[EventIn], pseudonyms: list[str], processed: ProcessedData, settings: Settings) -> None:
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
    events: list[EventIn],
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
