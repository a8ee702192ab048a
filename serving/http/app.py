"""The FastAPI application: `create_app()` builds it, the lifespan starts and stops its parts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from serving.http import errors, logs, web
from serving.http.api import (
    audit,
    caseload,
    citizens,
    corrections,
    docs,
    events,
    feedback,
    health,
    linkage,
    revocations,
    services,
)
from serving.http.middleware import RequestContext
from serving.http.runtime import Runtime
from serving.http.tuning import freeze_startup_heap
from signpost.settings import Settings, get_settings

log = logging.getLogger("signpost.api")

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

**Errors** are RFC 9457 problem details (`application/problem+json`): `type`, `title`,
`status`, `detail` (what to do), `instance` (the request id, as in `X-Request-ID`), a stable
`code`, and `errors` for a 422.
"""


def create_app(settings: Settings | None = None, *, migrate: bool = True, listen_host: str | None = None) -> FastAPI:
    """The service as an ASGI app; `settings` default to the environment (SIGNPOST_*).

    `listen_host`: the address the server listens on; development sign-in is offered only where
    `settings.development_sign_in_allowed(listen_host)` holds, and never when it is unknown.
    """
    settings = settings or get_settings()
    logs.configure()
    runtime = Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.start, migrate=migrate)
        thaw = freeze_startup_heap()
        log.info("serving", extra={"degraded": runtime.store.current.degraded,
                                   "recommender": runtime.store.current.recommender_version,
                                   "problems": runtime.problems + list(runtime.store.current.problems)})
        try:
            yield
        finally:
            await run_in_threadpool(runtime.stop)
            thaw()

    app = FastAPI(
        title="Signpost API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        docs_url=None, redoc_url=None,  # served from the vendored copies by `api/docs.py`
    )
    app.state.runtime = runtime
    app.state.development_sign_in = listen_host is not None and settings.development_sign_in_allowed(listen_host)
    errors.install(app, page_for=web.not_found_page)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(docs.router)
    for module in (citizens, caseload, events, feedback, services, audit, revocations, corrections, linkage):
        app.include_router(module.router, prefix="/v1")
    web.install(app)  # the pages: same runtime, rules and audit as the API
    return app
