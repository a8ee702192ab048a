"""New usage events from partner systems and the portal."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError

from serving import access, erasure, events
from serving.access import Action, Person
from serving.api.deps import ProcessedDep, RuntimeDep, ViewerDep, pseudonym_of
from serving.api.routes.citizens import REFUSALS
from serving.errors import Conflict
from serving.schemas import ErrorOut, EventsIn, EventsOut

router = APIRouter(tags=["events"])


@router.post("/events", response_model=EventsOut, status_code=201,
             responses={**REFUSALS, 409: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}})
def post_events(body: EventsIn, viewer: ViewerDep, processed: ProcessedDep, runtime: RuntimeDep) -> EventsOut:
    """Store events durably (committed before the answer); resending the same events is harmless.

    They are folded into the person's next recommendations without retraining.
    """
    access.role_allowed(viewer, Action.events_write)
    pseudonyms = [pseudonym_of(runtime, viewer, e.person_id) for e in body.events]
    # Access first, validation second: a refused caller learns nothing about who exists.
    for pseudonym in sorted(set(pseudonyms)):
        person = Person(pseudonym, processed.household_of(pseudonym), processed.knows(pseudonym))
        access.check(runtime.database, viewer, Action.events_write, person, today=runtime.today())
    events.validate(body.events, pseudonyms, processed, runtime.settings)
    for attempt in range(2):
        try:
            with runtime.database.write_session() as session:
                stored = events.store(session, body.events, pseudonyms,
                                      erased=lambda p: erasure.is_erased(session, p))
            return EventsOut(received=stored.received, duplicates=stored.duplicates)
        except IntegrityError:  # another worker stored the same event a moment ago: retry once
            if attempt:
                raise Conflict("these events were being stored concurrently; resend them") from None
    raise AssertionError("unreachable")
