"""The audit trail, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from serving.domain import audit
from serving.http.api.citizens import REFUSALS
from serving.http.deps import RuntimeDep, ViewerDep
from serving.http.schemas import AuditPage

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditPage, responses=REFUSALS)
def read_audit(
    viewer: ViewerDep, runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Return entries after this sequence number.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    subject: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$", description="A person pseudonym.")] = None,
) -> audit.Page:
    """Append-only, hash-chained entries in order (`signpost audit verify` checks the chain). Reading is audited."""
    return audit.read_page(runtime.database, viewer, after=after, limit=limit, subject=subject)
