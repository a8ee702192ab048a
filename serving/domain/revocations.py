"""Token revocation: sign-out ends the session, and an admin can cut a subject off.

A revocation is written to the `revocations` table and the audit trail in one transaction,
and applies in the worker that made it at once; the other workers pick it up within
`revocation_poll_seconds` (`serving.infra.revocations`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from serving.domain import access, audit
from serving.domain.access import Action
from serving.domain.auth import Role, Viewer
from serving.infra.revocations import Revocations, prune
from serving.infra.tables import Revocation


@dataclass(frozen=True)
class Revoked:
    """What a revocation endpoint answers: when it took effect and until when it matters."""

    scope: Literal["token", "subject"]
    revoked_at: datetime
    expires_at: datetime


def sign_out(revocations: Revocations, viewer: Viewer) -> Revoked:
    """Revoke the token `viewer` presented (a token without an id: every token of its subject)."""
    access.role_allowed(viewer, Action.sign_out)
    now = datetime.now(UTC)
    if viewer.token_id:
        row = Revocation(jti=viewer.token_id, expires_at=max(datetime.fromtimestamp(viewer.expires_at, UTC), now))
        scope: Literal["token", "subject"] = "token"
    else:
        row = Revocation(subject=viewer.subject, not_before=now, expires_at=now + revocations.cut_off_kept)
        scope = "subject"
    _record(revocations, row, viewer=viewer, action="sign_out", subject=_audit_subject(viewer.role, viewer.subject),
            detail={"scope": scope})
    return Revoked(scope, now, row.expires_at)


def cut_off(revocations: Revocations, subject: str, *, role: Literal["staff", "citizen"], viewer: Viewer) -> Revoked:
    """Every token of `subject` (a staff id, or a citizen's pseudonym) issued up to now stops working."""
    access.role_allowed(viewer, Action.revoke)
    now = datetime.now(UTC)
    row = Revocation(subject=subject, not_before=now, expires_at=now + revocations.cut_off_kept)
    detail = {"scope": "subject", "kind": role}
    if role == "staff":
        detail["staff_id"] = subject  # staff ids are recorded as issued, like `actor`
    _record(revocations, row, viewer=viewer, action="revocation", detail=detail,
            subject=subject if role == "citizen" else None)
    return Revoked("subject", now, row.expires_at)


def _record(revocations: Revocations, row: Revocation, *, viewer: Viewer, action: str, subject: str | None,
            detail: dict) -> None:
    with revocations.database.write_session() as session:
        prune(session)
        session.add(row)
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action=action,
                     subject=subject, detail=detail)
    revocations.apply(row)  # committed: in force in this worker from the next request


def _audit_subject(role: Role, subject: str) -> str | None:
    """The audit's subject column holds a person's pseudonym; staff appear as the actor."""
    return subject if role is Role.citizen else None
