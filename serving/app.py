"""The FastAPI application: `create_app()` builds it, the lifespan starts and stops its parts.

Middleware is plain ASGI (no per-request task or body copy): it assigns the request id,
limits path and query sizes, adds security headers, and writes one JSON access-log line
with the route *template* — never the raw path, which carries the council's person id.
"""

from __future__ import annotations

import gc
import itertools
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving import audit, logs, metrics
from serving.access import Refused
from serving.api.routes import audit as audit_routes
from serving.api.routes import caseload, citizens, events, feedback, health, revocations, services
from serving.auth import AuthError
from serving.errors import ServiceError
from serving.headers import security_headers
from serving.limits import RateLimited
from serving.runtime import Runtime
from signpost.settings import Settings, get_settings

log = logging.getLogger("signpost.api")
access_log = logging.getLogger("signpost.access")

MAX_PATH = 512
MAX_QUERY = 2048
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
# Request ids made here: random per process, then counted (unique without a syscall each)
_PROCESS_ID = secrets.token_hex(8)
_REQUEST_COUNT = itertools.count(1)

DESCRIPTION = """\
Signposting and early-help suggestions for citizens and caseworkers, with consent, access
control and audit applied to every request.

**Authentication**: OAuth2 bearer tokens (JWT, HS256). Development tokens come from
`signpost token --role ROLE --subject ID`. Roles: `citizen` (their own records only),
`caseworker` (people whose household is on an open caseload of theirs), `analyst` (no
individual-level data), `admin` (audit trail, erasure, subject access on paper requests,
cutting off someone's sign-ins). `POST /v1/sign-out` revokes the token it is sent with.

**Person ids** are the council's references; they are pseudonymised on arrival and never
stored or logged. Every refusal is a 403 whose `detail` says why; repeated failed sign-ins
and bulk look-ups are answered 429 with `Retry-After`.
"""


class RequestContext:
    """Request id, size limits, security headers, metrics and the access log, in plain ASGI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = _request_id(scope)
        token = logs.request_id.set(rid)
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = security_headers(scope["path"], scope.get("scheme", "http"))
                headers.extend(h for h in wanted if h[0] not in present)
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            if len(scope.get("raw_path") or b"") > MAX_PATH or len(scope.get("query_string", b"")) > MAX_QUERY:
                response = JSONResponse(
                    {"detail": f"the path or query string is too long (limits {MAX_PATH} and {MAX_QUERY} bytes)",
                     "code": "too_long"}, status_code=414)
                await response(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            template = _route_template(scope)
            metrics.REQUESTS.labels(template, scope["method"], str(status)).inc()
            metrics.LATENCY.labels(template).observe(elapsed)
            state = scope.get("state") or {}
            viewer = state.get("viewer")
            access_log.info(
                "request",
                extra={
                    "method": scope["method"], "route": template, "status": status,
                    "ms": round(elapsed * 1000, 2),
                    "role": viewer.role.value if viewer else None,
                    "actor": viewer.subject if viewer else None,
                },
            )
            logs.request_id.reset(token)


def _route_template(scope: Scope) -> str:
    """The matched route's full template (with the /v1 prefix), never the raw path."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(context, "path_format", None)
    if template:
        return template
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID.match(candidate):
                return candidate
            break
    return f"{_PROCESS_ID}-{next(_REQUEST_COUNT):x}"


def _error(status: int, detail: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
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
        from serving.web import pages

        if error.status_code in (404, 405) and pages.wants_page(request):
            reason = ("If you typed the web address, check it is correct. If you pasted it, check you copied "
                      "the entire address." if error.status_code == 404 else "This page cannot be used that way.")
            return pages.error_page(request, error.status_code, reason)
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
    """Count, log, rate-limit and audit a refusal (the API answers it as JSON, the pages as HTML)."""
    runtime: Runtime = request.app.state.runtime
    viewer = getattr(request.state, "viewer", None)
    metrics.REFUSALS.labels(error.action.name, error.code).inc()
    log.warning("refused", extra={"action": error.action.name, "code": error.code,
                                  "role": viewer.role.value if viewer else None,
                                  "actor": viewer.subject if viewer else None})
    if viewer is not None:
        runtime.limits.refused(viewer.subject)
        await run_in_threadpool(_audit_refusal, runtime, viewer, error)


def _audit_refusal(runtime: Runtime, viewer, error: Refused) -> None:
    try:
        with runtime.database.write_session() as session:
            audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="access.refused",
                         subject=None, detail={"action": error.action.name, "code": error.code})
    except Exception:  # the refusal stands even if auditing it failed; it is logged
        log.exception("could not audit a refusal")


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """The service as an ASGI app; `settings` default to the environment (SIGNPOST_*)."""
    settings = settings or get_settings()
    logs.configure()
    runtime = Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.start, migrate=migrate)
        # Everything loaded so far lives as long as the process: keep the cyclic GC from
        # re-scanning it on every full collection (long pauses show up as p99 latency), and
        # collect less often. Reference counting frees a request's garbage as it goes; at the
        # default thresholds the collector ran every few requests (measured: -8% CPU per
        # recommendation at 20,000 allocations per young collection).
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(20_000, 50, 100)
        log.info("serving", extra={"degraded": runtime.store.current.degraded,
                                   "recommender": runtime.store.current.recommender_version,
                                   "problems": runtime.problems + list(runtime.store.current.problems)})
        try:
            yield
        finally:
            await run_in_threadpool(runtime.stop)
            gc.set_threshold(*thresholds)

    app = FastAPI(
        title="Signpost API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.runtime = runtime
    _install_error_handlers(app)
    app.add_middleware(RequestContext)
    app.include_router(health.router)
    for module in (citizens, caseload, events, feedback, services, audit_routes, revocations):
        app.include_router(module.router, prefix="/v1")
    from serving import web  # the pages (Engineer W): same runtime, rules and audit as the API

    web.install(app)
    return app
