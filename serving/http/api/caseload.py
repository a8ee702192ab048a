"""The caseworker's caseload, highest early-help indicator first."""

from __future__ import annotations

from fastapi import APIRouter

from serving.domain import early_help
from serving.http.api.citizens import REFUSALS
from serving.http.deps import ModelsDep, ProcessedDep, RuntimeDep, ViewerDep
from serving.http.schemas import CaseloadOut

router = APIRouter(tags=["caseworkers"])


@router.get("/caseload", response_model=CaseloadOut, responses=REFUSALS)
def read_caseload(viewer: ViewerDep, models: ModelsDep, processed: ProcessedDep,
                  runtime: RuntimeDep) -> early_help.CaseloadView:
    """Households on the caseworker's open caseload, ordered by suggested priority (bands only). Audited."""
    return early_help.caseload_for(runtime.database, viewer, models=models, processed=processed,
                                   today=runtime.today())
