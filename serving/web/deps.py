"""Who is looking at a page: the same token, rate limits and rules as the API, read from a cookie.

The JSON API takes its bearer token from the Authorization header; a browser keeps the same
JWT (issued by `serving.auth.issue`, as `signpost token` does) in an HttpOnly cookie. Every
other dependency — settings, database, models, processed data, limits — is the API's own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from serving.access import Person
from serving.api.deps import RuntimeDep, client_address
from serving.auth import AuthError, Viewer
from serving.web.pages import SignInNeeded

SESSION_COOKIE = "signpost_session"


async def get_page_viewer(request: Request, runtime: RuntimeDep) -> Viewer:
    client = client_address(request)
    runtime.limits.check_client(client)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInNeeded
    try:
        viewer = runtime.tokens.read(token)
    except AuthError:
        runtime.limits.auth_failed(client)
        raise SignInNeeded from None
    request.state.viewer = viewer  # the access log records role and subject, never the token
    request.state.page_viewer = viewer  # the layout shows navigation for this role
    runtime.limits.check_subject(viewer.subject)
    return viewer


async def get_optional_viewer(request: Request, runtime: RuntimeDep) -> Viewer | None:
    """The signed-in viewer if any (public pages show the navigation for them)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        viewer = runtime.tokens.read(token)
    except AuthError:
        return None
    request.state.viewer = request.state.page_viewer = viewer
    return viewer


PageViewer = Annotated[Viewer, Depends(get_page_viewer)]
OptionalViewer = Annotated[Viewer | None, Depends(get_optional_viewer)]


def myself(viewer: Viewer, runtime) -> Person:
    """A signed-in citizen as a Person: their own pseudonym, from their token (never a URL)."""
    processed = runtime.require_processed()
    known = processed.knows(viewer.subject)
    return Person(viewer.subject, processed.household_of(viewer.subject) if known else None, known)

