"""New usage events: validated per the data contract, stored durably, idempotent on retry.

A batch is all-or-nothing: one bad event rejects the batch with the event's index and the
rule it broke, so a partner system can fix and resend. Resending events already stored
(same source and event_id) is harmless; they are counted as duplicates, which is what makes
"retry until acknowledged" safe after a crash.

Provenance (`provenance`): a source's events come from that source. A partner system posts
only under its own source (its token's subject); council staff (caseworker, admin) under
`council`; a citizen only under `portal`, and only for services a person can say they used
themselves (`self_reportable`): active, not sensitive, not an intervention, and not run by a
source whose services are early-help concern indicators (police, children's social care,
schools: `features.early_help.indicator_sources`). So no one can write concern indicators
into a family's early-help features. Event ids are namespaced per source, and in the two
sources many people share (`portal`, `council`) per poster too (the stored id starts with a
digest of the poster's subject), so a clash is only ever with the poster's own events and
no answer reveals that someone else's event exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from features.early_help import indicator_sources
from serving.domain import access, erasure
from serving.domain.access import Action, Person, Refused
from serving.domain.auth import Role, Viewer
from serving.domain.errors import Conflict, Invalid
from serving.infra.db import Database
from serving.infra.processed import ProcessedData
from serving.infra.tables import Event
from signpost.settings import Purpose, Settings

UK = ZoneInfo("Europe/London")
CLOCK_SKEW = timedelta(minutes=5)
#: The source of what citizens report themselves; not a partner (not in the sharing policy).
PORTAL = "portal"
#: The source of events council staff record by hand.
COUNCIL = "council"
#: What a citizen's own report may be used for: their own suggestions and research, never early
#: help (self-reported use is not a concern indicator, and the portal is not a partner).
PORTAL_PURPOSES: tuple[Purpose, ...] = ("personalisation", "research")
#: Sources many posters share: event ids there are namespaced per poster.
SHARED_SOURCES = frozenset({PORTAL, COUNCIL})
#: The longest event id in a shared source: the stored id is `<32-char namespace>:<id>`, 128 at most.
SHARED_EVENT_ID_CHARS = 128 - 32 - 1


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


def source_purposes(settings: Settings, source: str) -> tuple[Purpose, ...]:
    """The purposes a source's events may serve: the sharing policy's, or the portal's own."""
    return PORTAL_PURPOSES if source == PORTAL else tuple(settings.sharing_policy.get(source, ()))


def self_reportable(processed: ProcessedData, settings: Settings, service_id: str) -> bool:
    """Whether a citizen may record their own use of this service (see the module's docstring)."""
    service = processed.services.loc[service_id]
    return (bool(service.get("active", True)) and not bool(service.get("sensitive", True))
            and not bool(service.get("intervention", True))
            and service.get("source") not in indicator_sources(settings.sharing_policy))


def provenance(viewer: Viewer, events: list[NewEvent], processed: ProcessedData, settings: Settings) -> None:
    """Raise Refused unless `viewer` may post each event under its source (module docstring)."""
    for i, event in enumerate(events):
        where = f"events[{i}]"
        if viewer.role is Role.partner:
            if event.source != viewer.subject:
                raise Refused(f"{where}: a partner system posts only under its own source ({viewer.subject!r}), "
                              f"not {event.source!r}", action=Action.events_write, code="source")
        elif viewer.role is Role.citizen:
            if event.source != PORTAL:
                raise Refused(f"{where}: a citizen records what they used themselves under the {PORTAL!r} source; "
                              f"{event.source!r} events come from that partner", action=Action.events_write,
                              code="source")
            if event.service_id in processed.services.index and not self_reportable(processed, settings,
                                                                                       event.service_id):
                raise Refused(f"{where}: service {event.service_id!r} cannot be self-reported (sensitive, an "
                              "intervention or an early-help indicator); its provider records it",
                              action=Action.events_write, code="not_self_reportable")
        elif event.source != COUNCIL:
            raise Refused(f"{where}: council staff record events under the {COUNCIL!r} source, not "
                          f"{event.source!r}", action=Action.events_write, code="source")
        if event.source in SHARED_SOURCES and len(event.event_id) > SHARED_EVENT_ID_CHARS:
            raise Invalid(f"{where}: an event_id in the {event.source!r} source is at most "
                          f"{SHARED_EVENT_ID_CHARS} characters")


def stored_event_id(event: NewEvent, poster: str) -> str:
    """The id an event is stored under: in a shared source, namespaced by who posted it."""
    if event.source not in SHARED_SOURCES:
        return event.event_id
    return f"{hashlib.blake2b(poster.encode(), digest_size=16).hexdigest()}:{event.event_id}"


def shown_event_id(source: str, event_id: str) -> str:
    """The id the poster chose (subject access shows it without the namespace)."""
    return event_id.split(":", 1)[1] if source in SHARED_SOURCES and ":" in event_id else event_id


def validate(events: list[NewEvent], pseudonyms: list[str], processed: ProcessedData, settings: Settings,
             poster: str = "") -> None:
    """Raise Invalid naming the first event that breaks a contract rule."""
    now = datetime.now(UTC)
    seen: dict[tuple[str, str], int] = {}
    for i, (event, pseudonym) in enumerate(zip(events, pseudonyms, strict=True)):
        where = f"events[{i}] (source {event.source!r}, event_id {event.event_id!r})"
        if event.source not in settings.sharing_policy and event.source != PORTAL:
            raise Invalid(f"{where}: source {event.source!r} is not in the data-sharing policy; "
                          f"known sources: {', '.join(sorted(settings.sharing_policy))}")
        if event.service_id not in processed.services.index:
            raise Invalid(f"{where}: service_id {event.service_id!r} is not in the catalogue")
        if not processed.knows(pseudonym):
            raise Invalid(f"{where}: the person is not in the current build's citizens")
        if to_utc(event.occurred_at) > now + CLOCK_SKEW:
            raise Invalid(f"{where}: occurred_at {event.occurred_at.isoformat()} is in the future")
        key = (event.source, stored_event_id(event, poster))
        if key in seen:
            raise Invalid(f"{where}: repeats events[{seen[key]}] (same source and event_id)")
        seen[key] = i


def store(
    session: Session,
    events: list[NewEvent],
    pseudonyms: list[str],
    *,
    erased: Callable[[str], bool],
    poster: str = "",
) -> Stored:
    """Insert the events not yet stored; the caller commits before acknowledging.

    `poster` (the viewer's subject) namespaces ids in the shared sources."""
    keys = [(e.source, stored_event_id(e, poster)) for e in events]
    existing = {
        (source, event_id): (pseudonym, service_id, event_type)
        for source, event_id, pseudonym, service_id, event_type in session.execute(
            select(Event.source, Event.event_id, Event.pseudonym, Event.service_id, Event.event_type)
            .where(tuple_(Event.source, Event.event_id).in_(keys))
        )
    }
    now = datetime.now(UTC)
    rows = []
    for i, (event, pseudonym, key) in enumerate(zip(events, pseudonyms, keys, strict=True)):
        if key in existing:
            if existing[key] != (pseudonym, event.service_id, event.event_type):
                raise Conflict(f"events[{i}]: source {event.source!r} already has event_id "
                               f"{event.event_id!r} for a different event; event ids must be unique per source")
            continue
        if erased(pseudonym):
            raise Conflict(f"events[{i}]: the person was erased; their events are no longer accepted")
        rows.append({
            "source": event.source, "event_id": key[1], "pseudonym": pseudonym,
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
    provenance(viewer, events, processed, settings)
    # Access first, validation second: a refused caller learns nothing about who exists.
    for person in sorted({p.pseudonym: p for p in people}.values(), key=lambda p: p.pseudonym):
        access.check(database, viewer, Action.events_write, person, today=today)
    pseudonyms = [p.pseudonym for p in people]
    validate(events, pseudonyms, processed, settings, poster=viewer.subject)
    for attempt in range(2):
        try:
            with database.write_session() as session:
                return store(session, events, pseudonyms, erased=lambda p: erasure.is_erased(session, p),
                             poster=viewer.subject)
        except IntegrityError:  # another worker stored the same event a moment ago: retry once
            if attempt:
                raise Conflict("these events were being stored concurrently; resend them") from None
    raise AssertionError("unreachable")
