"""Errors as answers: domain outcomes, refusals, bad tokens and limits become JSON for the API
(`{"detail": ..., "code": ...}`) and HTML for a browser asking for a page that does not exist."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.domain import refusals
from serving.domain.access import Refused
from serving.domain.auth import AuthError
from serving.domain.errors import ServiceError
from serving.http import logs
from serving.infra import metrics
from serving.infra.limits import RateLimited

log = logging.getLogger("signpost.api")


def _error(status: int, detail: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def install(app: FastAPI, *, page_for: Callable[[Request, int], Response | None]) -> None:
    """Answer every error the service raises with a status, a reason and what to do.

    `page_for(request, status)`: the HTML page for a 404 or 405 when a browser asked for a page
    (None when it did not), so a mistyped address in the portal is not answered with JSON.
    """
    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> JSONResponse:
        await record_refusal(request, error)
        return _error(403, error.reason, error.code)

    @app.exception_handler(AuthError)
    async def unauthenticated(request: Request, error: AuthError) -> JSONResponse:
        log.info("authentication failed", extra={"reason": str(error)})
        return _error(401, str(error), "unauthenticated", {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, error: RateLimited) -> JSONResponse:
        metrics.RATE_LIMITED.labels("auth" if "sign-in" in error.reason else "subject").inc()
        log.warning("rate limited", extra={"reason": error.reason})
        return _error(429, error.reason, "rate_limited", {"Retry-After": str(error.retry_after)})

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        return _error(error.status, error.detail, error.code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(part) for part in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
        summary = f"{'.'.join(first['loc'][1:]) or 'request'}: {first['msg']}"
        if len(problems) > 1:
            summary += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        return JSONResponse({"detail": summary, "code": "invalid_request", "errors": problems[:20]},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code in (404, 405):
            page = page_for(request, error.status_code)
            if page is not None:
                return page
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(error.status_code, "http_error")
        detail = error.detail if isinstance(error.detail, str) else "request refused"
        if error.status_code == 404 and detail == "Not Found":
            detail = "no such endpoint; the API is described at /docs"
        return _error(error.status_code, detail, code, getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=error)
        return _error(500, f"internal error; quote request id {logs.request_id.get()} when reporting it",
                      "internal")


async def record_refusal(request: Request, error: Refused) -> None:
    """`serving.domain.refusals.record` off the event loop (auditing writes)."""
    runtime = request.app.state.runtime
    viewer = getattr(request.state, "viewer", None)
    await run_in_threadpool(refusals.record, runtime.database, runtime.limits, viewer, error)
