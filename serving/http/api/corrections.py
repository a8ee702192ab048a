"""Residents' "something is wrong" requests, for the admins who act on them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from serving.domain import corrections
from serving.http.api.citizens import REFUSALS
from serving.http.deps import RuntimeDep, ViewerDep
from serving.http.schemas import CorrectionRequestOut, CorrectionRequestsPage

router = APIRouter(tags=["corrections"])


@router.get("/correction-requests", response_model=CorrectionRequestsPage, responses=REFUSALS)
def read_correction_requests(
    viewer: ViewerDep, runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Return requests after this id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CorrectionRequestsPage:
    """Requests in the order received (the person as a pseudonym, with their words). Reading is audited."""
    found = corrections.for_staff(runtime.database, viewer, after=after, limit=limit)
    return CorrectionRequestsPage(
        requests=[CorrectionRequestOut.model_validate(c, from_attributes=True) for c in found],
        next_after=found[-1].id if len(found) == limit else None,
    )
