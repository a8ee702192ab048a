"""New usage events from partner systems and the portal."""

from __future__ import annotations

from fastapi import APIRouter

from serving.domain import access, events
from serving.domain.access import Action
from serving.http.api.citizens import WRITES
from serving.http.deps import ProcessedDep, RuntimeDep, ViewerDep, pseudonym_of
from serving.http.schemas import EventsIn, EventsOut

router = APIRouter(tags=["events"])


@router.post("/events", response_model=EventsOut, status_code=201,
             responses=WRITES)
def post_events(body: EventsIn, viewer: ViewerDep, processed: ProcessedDep, runtime: RuntimeDep) -> events.Stored:
    """Store events durably (committed before the answer); resending the same events is harmless.

    They are folded into the person's next recommendations without retraining.
    """
    access.role_allowed(viewer, Action.events_write)  # before any id is read: a refused caller learns nothing
    people = [runtime.person(pseudonym_of(runtime, viewer, e.person_id)) for e in body.events]
    received = [events.NewEvent(event_id=e.event_id, source=e.source, service_id=e.service_id,
                                occurred_at=e.occurred_at, event_type=e.event_type) for e in body.events]
    return events.receive(runtime.database, viewer, received, people, processed=processed,
                          settings=runtime.settings, today=runtime.today())
