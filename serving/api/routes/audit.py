"""The audit trail, for admins."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query

from serving import access, audit
from serving.access import Action
from serving.api.deps import RuntimeDep, ViewerDep
from serving.api.routes.citizens import REFUSALS
from serving.schemas import AuditEntryOut, AuditPage

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditPage, responses=REFUSALS)
def read_audit(
    viewer: ViewerDep, runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Return entries after this sequence number.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    subject: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$", description="A person pseudonym.")] = None,
) -> AuditPage:
    """Append-only, hash-chained entries in order (`signpost audit verify` checks the chain). Reading is audited."""
    access.role_allowed(viewer, Action.audit)
    with runtime.database.write_session() as session:
        entries = audit.read(session, after=after, limit=limit, subject=subject)
        page = AuditPage(
            entries=[
                AuditEntryOut(seq=e.seq, recorded_at=e.recorded_at, actor_role=e.actor_role, actor=e.actor,
                              action=e.action, subject=e.subject, detail=json.loads(e.detail),
                              prev_hash=e.prev_hash, hash=e.hash)
                for e in entries
            ],
            next_after=entries[-1].seq if len(entries) == limit else None,
        )
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="audit.read",
                     subject=None, detail={"after": after, "returned": len(entries)})
    return page
