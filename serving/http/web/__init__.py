"""Server-rendered pages (citizen portal, caseworker workspace, analyst view) on the API's app.

`install(app)` mounts the page routers and `/static`. Pages call the same domain functions, access rules and audit as the API.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from serving.domain.auth import signing_key
from serving.domain.model_reports import ModelReports
from serving.http.web import (
    analyst,
    caseworker,
    citizen,
    csrf,
    family,
    pages,
    public,
    signin,
    steward,
)


def install(app: FastAPI) -> None:
    """Add the pages to the service's app (called by `serving.http.app.create_app`)."""
    settings = app.state.runtime.settings
    app.state.web_csrf_key = csrf.derive_key(signing_key(settings))
    app.state.web_reports = ModelReports(settings)
    app.mount("/static", StaticFiles(directory=str(files("serving") / "static")), name="static")
    for module in (signin, public, citizen, family, caseworker, analyst, steward):
        app.include_router(module.router)


def not_found_page(request: Request, status: int) -> HTMLResponse | None:
    """The page for a 404 or 405, when a browser asked for a page (else None: the API's JSON)."""
    if not pages.wants_page(request):
        return None
    reason = ("If you typed the web address, check it is correct. If you pasted it, check you copied "
              "the entire address." if status == 404 else "This page cannot be used that way.")
    return pages.error_page(request, status, reason)
