"""Feedback on suggestions: citizens' reactions and caseworkers' decisions."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serving import access, erasure, feedback
from serving.access import Action
from serving.api.deps import ProcessedDep, RuntimeDep, ViewerDep, person_of
from serving.api.routes.citizens import REFUSALS
from serving.errors import Gone, NotFound
from serving.schemas import FeedbackIn, FeedbackOut

router = APIRouter(tags=["feedback"])


@router.post("/feedback", response_model=FeedbackOut, status_code=201, responses=REFUSALS)
def post_feedback(request: Request, body: FeedbackIn, viewer: ViewerDep, processed: ProcessedDep,
                  runtime: RuntimeDep) -> FeedbackOut:
    """Citizens: useful / not for me (removes it from their next lists). Caseworkers: accepted / declined with a reason."""
    access.role_allowed(viewer, Action.feedback_write)
    person = person_of(request, viewer, body.person_id)
    pseudonym = person.pseudonym
    with runtime.database.write_session() as session:
        access.check(session, viewer, Action.feedback_write, person, today=runtime.today())
        if erasure.is_erased(session, pseudonym):
            raise Gone("this person's data was erased at their request")
        if not person.known:
            raise NotFound("no record of this person in the current build")
        row = feedback.record(session, body, pseudonym, viewer=viewer, processed=processed)
        out = FeedbackOut(id=row.id, decision=row.decision, recorded_at=row.recorded_at)
    return out
