"""Feedback on suggestions: citizens say useful / not for me; caseworkers record decisions.

"Not for me" takes the service out of the citizen's next lists at once. A caseworker's
accept or decline must give a reason (it is part of the case record) and is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from serving import audit
from serving.auth import Role, Viewer
from serving.errors import Invalid
from serving.models import Feedback
from serving.processed import ProcessedData
from serving.schemas import FeedbackIn

DECISIONS = {Role.citizen: ("useful", "not_for_me"), Role.caseworker: ("accepted", "declined")}


def record(session: Session, body: FeedbackIn, pseudonym: str, *, viewer: Viewer, processed: ProcessedData) -> Feedback:
    allowed = DECISIONS.get(viewer.role, ())
    if body.decision not in allowed:
        raise Invalid(f"a {viewer.role.value} records one of {', '.join(allowed)}, not {body.decision!r}")
    if viewer.role is Role.caseworker and not body.reason:
        raise Invalid("a caseworker's decision needs a reason: say why it was accepted or declined")
    if body.service_id not in processed.services.index:
        raise Invalid(f"service_id {body.service_id!r} is not in the catalogue")
    row = Feedback(
        pseudonym=pseudonym,
        service_id=body.service_id,
        decision=body.decision,
        reason=body.reason or None,
        actor_role=viewer.role.value,
        actor=viewer.subject,
        recorded_at=datetime.now(UTC),
    )
    session.add(row)
    if viewer.role is Role.caseworker:
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="feedback.decision",
                     subject=pseudonym, detail={"service_id": body.service_id, "decision": body.decision})
    session.flush()
    return row
