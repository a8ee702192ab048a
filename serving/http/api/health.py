"""Liveness, readiness and Prometheus metrics (no authentication, no personal data)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from serving.http.api.services import models_out
from serving.http.deps import RuntimeDep
from serving.http.schemas import HealthOut, ReadyOut
from serving.infra import db, metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    """The process answers (the trivial endpoint the benchmark compares against)."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def readyz(runtime: RuntimeDep) -> Response:
    """Ready to serve? 200 (possibly degraded, with reasons) or 503 with what is missing."""
    reasons = list(runtime.problems)
    try:
        revision = db.current_revision(runtime.database) or "none"
        if revision != db.head_revision():
            reasons.append(f"database schema at {revision}, expected {db.head_revision()}: run `signpost db upgrade`")
    except Exception as error:  # noqa: BLE001 — readiness reports, never fails
        revision = "unreachable"
        reasons.append(f"database unreachable: {type(error).__name__}")
    models = runtime.store.current
    blocking = bool(reasons) or models.signposter is None
    reasons.extend(models.problems)
    info = models_out(models, runtime.settings)
    body = ReadyOut(ready=not blocking, degraded=models.degraded, reasons=reasons,
                    recommender=info.recommender, early_help=info.early_help, database=revision)
    return JSONResponse(body.model_dump(mode="json"), status_code=503 if blocking else 200)


@router.get("/metrics", response_class=Response)
def prometheus() -> Response:
    """Prometheus exposition format."""
    content, media_type = metrics.render()
    return Response(content, media_type=media_type)
