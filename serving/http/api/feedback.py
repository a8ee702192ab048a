"""Feedback on suggestions: citizens' reactions and caseworkers' decisions."""

from __future__ import annotations

from fastapi import APIRouter, Request

from serving.domain import access, feedback
from serving.domain.access import Action
from serving.http.api.citizens import WRITES
from serving.http.deps import ProcessedDep, RuntimeDep, ViewerDep, person_of
from serving.http.schemas import FeedbackIn, FeedbackOut

router = APIRouter(tags=["feedback"])


@router.post("/feedback", response_model=FeedbackOut, status_code=201, responses=WRITES)
def post_feedback(request: Request, body: FeedbackIn, viewer: ViewerDep, processed: ProcessedDep,
                  runtime: RuntimeDep) -> feedback.Recorded:
    """Citizens: useful / not for me (removes it from their next lists). Caseworkers: accepted / declined with a reason."""
    access.role_allowed(viewer, Action.feedback_write)  # before the body's person counts against any limit
    person = person_of(request, viewer, body.person_id)
    return feedback.give(runtime.database, viewer, person, service_id=body.service_id, decision=body.decision,
                         reason=body.reason, processed=processed, today=runtime.today())
