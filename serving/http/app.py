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
"""


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """The service as an ASGI app; `settings` default to the environment (SIGNPOST_*)."""
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
        max_body_size=settings.max_body_bytes,
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.runtime = runtime
    errors.install(app, page_for=web.not_found_page)
    app.add_middleware(RequestContext)
    app.include_router(health.router)
    for module in (citizens, caseload, events, feedback, services, audit, revocations, linkage):
        app.include_router(module.router, prefix="/v1")
    web.install(app)  # the pages: same runtime, rules and audit as the API
    return app
