"""The service catalogue and which models are served (no individual-level data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from serving.domain import access, recommendations
from serving.domain.access import Action
from serving.http.api.citizens import REFUSALS
from serving.http.deps import ModelsDep, ProcessedDep, SettingsDep, ViewerDep
from serving.http.schemas import ModelOut, ModelsOut, ServicesPage, SimilarOut
from serving.infra.registry import Models
from signpost.settings import Settings

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


def models_out(models: Models, settings: Settings) -> ModelsOut:
    """Which registered versions are served (names from settings: the registry's own names)."""
    rec, eh = models.recommender, models.early_help
    signposter = models.signposter
    if rec is None and signposter is None and eh is None:
        return ModelsOut(degraded=True, recommender=ModelOut(name=settings.recommender_model_name, version=None),
                         early_help=ModelOut(name=settings.early_help_model_name, version=None))
    return ModelsOut(
        degraded=models.degraded,
        recommender=ModelOut(name=settings.recommender_model_name, version=models.recommender_version,
                             kind=getattr(signposter, "model_name", None)),
        early_help=ModelOut(name=settings.early_help_model_name, version=eh.version if eh else None,
                            kind=type(eh.model.model).__name__ if eh is not None and hasattr(eh.model, "model") else None),
    )


@router.get("/models", response_model=ModelsOut, responses=REFUSALS)
async def served_models(viewer: ViewerDep, models: ModelsDep, settings: SettingsDep) -> ModelsOut:
    """Which registry versions are being served right now."""
    access.role_allowed(viewer, Action.models)
    return models_out(models, settings)
