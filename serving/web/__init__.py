"""Server-rendered pages (citizen portal, caseworker workspace, analyst view) on the API's app.

`install(app)` mounts the page routers and `/static`, and adds the security-headers
middleware. Pages call the same domain functions, access rules and audit as the API.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from serving.auth import signing_key
from serving.web import analyst, caseworker, citizen, csrf, signin
from serving.web.model_reports import ModelReports


def install(app: FastAPI) -> None:
    """Add the pages to the service's app (called by `serving.app.create_app`)."""
    settings = app.state.runtime.settings
    app.state.web_csrf_key = csrf.derive_key(signing_key(settings))
    app.state.web_reports = ModelReports(settings)
    app.mount("/static", StaticFiles(directory=str(files("serving") / "static")), name="static")
    for module in (signin, citizen, caseworker, analyst):
        app.include_router(module.router)
