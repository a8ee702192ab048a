"""The caseworker's caseload, highest early-help indicator first."""

from __future__ import annotations

from fastapi import APIRouter

from serving import access, early_help
from serving.access import Action
from serving.api.deps import ModelsDep, ProcessedDep, RuntimeDep, ViewerDep
from serving.api.routes.citizens import REFUSALS
from serving.schemas import CaseloadOut

router = APIRouter(tags=["caseworkers"])


@router.get("/caseload", response_model=CaseloadOut, responses=REFUSALS)
def read_caseload(viewer: ViewerDep, models: ModelsDep, processed: ProcessedDep, runtime: RuntimeDep) -> CaseloadOut:
    """Households on the caseworker's open caseload, ordered by suggested priority (bands only). Audited."""
    access.role_allowed(viewer, Action.caseload)
    with runtime.database.write_session() as session:
        return early_help.caseload(session, viewer=viewer, models=models, processed=processed, today=runtime.today())
