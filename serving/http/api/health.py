"""Liveness and readiness (no authentication, no personal data), and Prometheus metrics for
whoever holds the metrics token (they reveal traffic and which routes refuse whom)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from serving.domain.errors import NotFound
from serving.http.api.services import models_out
from serving.http.deps import RuntimeDep, SettingsDep
from serving.http.errors import ANY_ROUTE, problem, problem_responses
from serving.http.schemas import HealthOut, ReadyOut
from serving.infra import db, metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut, responses=problem_responses(*ANY_ROUTE))
async def healthz() -> HealthOut:
    """The process answers (the trivial endpoint the benchmark compares against)."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=ReadyOut,
            responses={**problem_responses(*ANY_ROUTE), 503: {"model": ReadyOut, "description": "Not ready: `reasons`."}})
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


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                       **problem_responses(*ANY_ROUTE, 401, 404)})
def prometheus(request: Request, settings: SettingsDep) -> Response:
    """Prometheus exposition format, for `Authorization: Bearer <SIGNPOST_METRICS_TOKEN>`; off without one."""
    if settings.metrics_token is None:
        raise NotFound("metrics are off: set SIGNPOST_METRICS_TOKEN and send it as a bearer token")
    expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
    if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
        return problem(401, "send the metrics token (SIGNPOST_METRICS_TOKEN) as `Authorization: Bearer <token>`",
                       "unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    content, media_type = metrics.render()
    return Response(content, media_type=media_type)
