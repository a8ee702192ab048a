"""The service catalogue and which models are served (no individual-level data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from serving.domain import access, recommendations
from serving.domain.access import Action
from serving.http.api.citizens import REFUSALS
from serving.http.deps import ModelsDep, ProcessedDep, ViewerDep
from serving.http.schemas import ModelOut, ModelsOut, ServicesPage, SimilarOut

router = APIRouter(tags=["services"])


@router.get("/services", response_model=ServicesPage, responses=REFUSALS)
async def list_services(
    viewer: ViewerDep, processed: ProcessedDep,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    category: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$")] = None,
) -> recommendations.ServicesPage:
    """Active services, by id; filter by category."""
    return recommendations.list_services(viewer, processed, offset=offset, limit=limit, category=category)


@router.get("/services/{service_id}/similar", response_model=SimilarOut, responses=REFUSALS)
async def similar_services(
    viewer: ViewerDep, models: ModelsDep, processed: ProcessedDep,
    service_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", examples=["SVC-0042"])],
    k: Annotated[int, Query(ge=1, le=20)] = 5,
) -> recommendations.Similar:
    """Services often used alongside this one (aggregate co-use; no one's data)."""
    return recommendations.similar(viewer, models, processed, service_id, k=k)


def models_out(models) -> ModelsOut:
    rec, eh = models.recommender, models.early_help
    signposter = models.signposter
    return ModelsOut(
        degraded=models.degraded,
        recommender=ModelOut(name="signpost-recommender", version=models.recommender_version,
                             kind=getattr(signposter, "model_name", None)),
        early_help=ModelOut(name="signpost-early-help", version=eh.version if eh else None,
                            kind=type(eh.model.model).__name__ if eh is not None and hasattr(eh.model, "model") else None),
    ) if rec is not None or signposter is not None or eh is not None else ModelsOut(
        degraded=True, recommender=ModelOut(name="signpost-recommender", version=None),
        early_help=ModelOut(name="signpost-early-help", version=None))


@router.get("/models", response_model=ModelsOut, responses=REFUSALS)
async def served_models(viewer: ViewerDep, models: ModelsDep) -> ModelsOut:
    """Which registry versions are being served right now."""
    access.role_allowed(viewer, Action.models)
    return models_out(models)
