"""Errors as answers: domain outcomes, refusals, bad tokens and limits become RFC 9457 problem
details (`application/problem+json`) for the API, and HTML for a browser asking for a page that
does not exist.

Every problem carries `type` (`about:blank`: the status says what kind), `title` (the status
phrase), `status`, `detail` (what went wrong and what to do), `instance` (the request id, also
in the `X-Request-ID` header and the log lines) and a stable `code`; a 422 adds `errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.domain import refusals
from serving.domain.access import Refused
from serving.domain.auth import AuthError
from serving.domain.errors import ServiceError
from serving.http import logs
from serving.http.schemas import ErrorOut, ValidationProblem
from serving.infra import metrics
from serving.infra.limits import RateLimited

log = logging.getLogger("signpost.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(status: int, detail: str, code: str, *, headers: dict[str, str] | None = None,
            errors: list[dict[str, Any]] | None = None) -> ProblemResponse:
    """The one way an error is answered: RFC 9457 problem details naming this request."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                            "detail": detail, "instance": logs.request_id.get(), "code": code}
    if errors is not None:
        body["errors"] = errors
    return ProblemResponse(body, status_code=status, headers=headers)


#: What each status means for any route; a route declares the ones it can answer.
PROBLEM_DESCRIPTIONS = {
    400: "A malformed request (e.g. a form or body that cannot be read).",
    401: "No valid bearer token (`WWW-Authenticate: Bearer`).",
    403: "Refused by the access rules; `detail` says why.",
    404: "No such record or endpoint.",
    409: "Conflicts with what is stored.",
    410: "The person was erased.",
    413: "The body is larger than `SIGNPOST_MAX_BODY_BYTES` (or too many events).",
    414: "The path or query string is too long.",
    422: "A parameter or body field is invalid; `errors` names each one.",
    429: "Rate limited; see `Retry-After`.",
    500: "An unexpected error; quote `instance` (the request id) when reporting it.",
    503: "A prerequisite (processed data, a model) is missing; `/readyz` says which.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: each status answered as `application/problem+json` (the Problem schema)."""
    schema = {"$ref": f"#/components/schemas/{ErrorOut.__name__}"}
    return {status: {"description": PROBLEM_DESCRIPTIONS[status], "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}}}
            for status in statuses}


#: Every route can answer these: an over-long address, and an unexpected error.
ANY_ROUTE = (414, 500)


def install(app: FastAPI, *, page_for: Callable[[Request, int], Response | None]) -> None:
    """Answer every error the service raises with a status, a reason and what to do.

    `page_for(request, status)`: the HTML page for a 404 or 405 when a browser asked for a page
    (None when it did not), so a mistyped address in the portal is not answered with JSON.
    """
    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> JSONResponse:
        await record_refusal(request, error)
        return problem(403, error.reason, error.code)

    @app.exception_handler(AuthError)
    async def unauthenticated(request: Request, error: AuthError) -> JSONResponse:
        log.info("authentication failed", extra={"reason": str(error)})
        return problem(401, str(error), "unauthenticated", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, error: RateLimited) -> JSONResponse:
        metrics.RATE_LIMITED.labels("auth" if "sign-in" in error.reason else "subject").inc()
        log.warning("rate limited", extra={"reason": error.reason})
        return problem(429, error.reason, "rate_limited", headers={"Retry-After": str(error.retry_after)})

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        return problem(error.status, error.detail, error.code)

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
        return problem(422, summary, "invalid_request", errors=problems[:20])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code in (404, 405):
            page = page_for(request, error.status_code)
            if page is not None:
                return page
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
                413: "too_large"}.get(error.status_code, "http_error")
        detail = error.detail if isinstance(error.detail, str) else "request refused"
        if error.status_code == 404 and detail == "Not Found":
            detail = "no such endpoint; the API is described at /docs"
        return problem(error.status_code, detail, code, headers=getattr(error, "headers", None))

    app.openapi = lambda: _openapi_with_problems(app)  # type: ignore[method-assign]


def unexpected_error() -> ProblemResponse:
    """The 500 for an error nothing else handled (answered by `serving.http.middleware`)."""
    return problem(500, f"internal error; quote request id {logs.request_id.get()} when reporting it", "internal")


def _openapi_with_problems(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI document plus the problem schema (`ErrorOut`) the routes' problem responses refer to."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes)
        _, definitions = models_json_schema(
            [(ErrorOut, "serialization"), (ValidationProblem, "serialization")],
            ref_template="#/components/schemas/{model}")
        document.setdefault("components", {}).setdefault("schemas", {}).update(definitions["$defs"])
        app.openapi_schema = document
    return app.openapi_schema


async def record_refusal(request: Request, error: Refused) -> None:
    """`serving.domain.refusals.record` off the event loop (auditing writes)."""
    runtime = request.app.state.runtime
    viewer = getattr(request.state, "viewer", None)
    await run_in_threadpool(refusals.record, runtime.database, runtime.limits, viewer, error)
