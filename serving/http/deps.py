"""Typed dependencies, so a handler reads like a sentence: who asks, about whom, with what.

They are `async def` because each is a few microseconds of in-memory work; a sync
dependency would cost a thread-pool hop per request. They read the runtime from the request
rather than depending on `RuntimeDep`: every nested dependency costs FastAPI's resolver
time on each request, and the recommendation path is measured against a trivial endpoint.

One token-to-viewer step, `authenticate`, serves the API (bearer token: `ViewerDep`) and the
pages (session cookie: `PageViewer`, `OptionalViewer`): the same limits, token check and
revocations. `PersonDep` pseudonymises the council's person id from the path at the edge —
the raw id goes no further than this file.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Sequence
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.datastructures import Headers

from serving.domain.access import Person
from serving.domain.auth import AuthError, Role, Viewer
from serving.domain.errors import NotFound
from serving.http.runtime import Runtime
from serving.http.schemas import PERSON_ID_PATTERN
from serving.infra.processed import ProcessedData
from serving.infra.registry import Models
from signpost.settings import Settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

bearer = HTTPBearer(
    bearerFormat="JWT",
    description="A token from `signpost token --role ROLE --subject ID` (development) or the council's identity service.",
    auto_error=False,
)

#: The pages' session cookie: the same JWT as a bearer token, HttpOnly (see `serving.http.web.signin`).
SESSION_COOKIE = "signpost_session"


class SignInNeeded(Exception):
    """A page asked for by someone without a session cookie: send the browser to sign in, then back."""


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A read session for the request (writes open `database.write_session()` and commit there).

    Async on purpose: reads are sub-millisecond indexed lookups, cheaper run inline on the
    event loop than handed to the thread pool; anything that may wait on a lock runs in a
    sync handler instead.
    """
    with request.app.state.runtime.database.reading() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_models(request: Request) -> Models:
    return request.app.state.runtime.store.current  # one read of the reference: the whole request sees one version


ModelsDep = Annotated[Models, Depends(get_models)]


async def get_processed(request: Request) -> ProcessedData:
    return request.app.state.runtime.require_processed()


ProcessedDep = Annotated[ProcessedData, Depends(get_processed)]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a forwarding header writes it (`1.2.3.4`, `"[2001:db8::1]:4711"`, `1.2.3.4:80`)."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_chain(headers: Headers) -> list[str]:
    """The addresses the proxies say the request passed through, client first (RFC 7239 or XFF)."""
    forwarded = headers.getlist("forwarded")
    if forwarded:
        chain = []
        for element in ",".join(forwarded).split(","):
            for pair in element.split(";"):
                name, _, value = pair.partition("=")
                if name.strip().lower() == "for":
                    chain.append(value)
        return chain
    forwarded_for = headers.getlist("x-forwarded-for")
    return ",".join(forwarded_for).split(",") if forwarded_for else []


def forwarded_client(peer: str, headers: Headers, trusted: Sequence[IPNetwork]) -> str:
    """The client's address: the TCP peer, or, only when that peer is a trusted proxy, the
    nearest address its forwarding headers name that is not itself a trusted proxy. Anyone
    else's forwarding headers are ignored, so a client cannot choose the address its failures
    are counted against."""
    if not trusted:
        return peer

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in trusted)

    if not is_trusted(_address(peer)):
        return peer
    for hop in reversed(_forwarded_chain(headers)):
        address = _address(hop)
        if address is None:
            return peer  # an unreadable hop (`unknown`, an obfuscated name): trust nothing before it
        if not is_trusted(address):
            return str(address)
    return peer


def client_address(request: Request) -> str:
    """The client's address as `SIGNPOST_TRUSTED_PROXIES` allows it to be known."""
    peer = request.client.host if request.client else "unknown"
    return forwarded_client(peer, request.headers, request.app.state.runtime.settings.trusted_proxies)


def authenticate(request: Request, token: str | None) -> Viewer:
    """Who asks: 401 (AuthError) without a valid token, 429 for a credential or subject over its limits.

    A valid token is never checked against the failure counter: failures from the same address
    (a shared proxy, a colleague, an attacker) cannot lock a person with a good credential out.
    """
    runtime: Runtime = request.app.state.runtime
    try:
        if not token:
            raise AuthError("sign in: send `Authorization: Bearer <token>`")
        viewer = runtime.tokens.read(token)
    except AuthError:
        client = client_address(request)
        runtime.limits.check_failures(client, token)
        runtime.limits.auth_failed(client, token)
        raise
    request.state.viewer = viewer  # for the access log (role and subject, never the token)
    runtime.limits.check_subject(viewer.subject)
    return viewer


async def get_viewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Viewer:
    bearer_token = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else None
    return authenticate(request, bearer_token)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def get_page_viewer(request: Request) -> Viewer:
    """The signed-in viewer of a page; without a session cookie the browser is sent to sign in
    (a bad or revoked cookie too: `PageRoute` turns the AuthError into the same redirect)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInNeeded
    viewer = authenticate(request, token)
    request.state.page_viewer = viewer  # the layout shows navigation for this role
    return viewer


async def get_optional_viewer(request: Request) -> Viewer | None:
    """The signed-in viewer if any (public pages show the navigation for them)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        viewer = request.app.state.runtime.tokens.read(token)
    except AuthError:
        return None
    request.state.viewer = request.state.page_viewer = viewer
    return viewer


PageViewer = Annotated[Viewer, Depends(get_page_viewer)]
OptionalViewer = Annotated[Viewer | None, Depends(get_optional_viewer)]

PersonIdPath = Annotated[
    str,
    Path(
        description="The council's person reference; pseudonymised on arrival, never stored or logged. "
        "A citizen may use `me`.",
        pattern=PERSON_ID_PATTERN,
        examples=["P000123", "me"],
    ),
]


#: The path id a signed-in citizen may use for themselves: their token names them (by
#: pseudonym), so a citizen's app never needs to know or send their council id.
ME = "me"


def pseudonym_of(runtime: Runtime, viewer: Viewer, person_id: str) -> str:
    """The pseudonym for a council person id (or `me`), made here at the edge."""
    if person_id == ME:
        if viewer.role is not Role.citizen:
            raise NotFound(f"`{ME}` names the signed-in citizen; staff use the person's id")
        return viewer.subject
    return runtime.person_pseudonym(person_id)


def person_of(request: Request, viewer: Viewer, person_id: str) -> Person:
    """The person a (valid) path or body id names, pseudonymised here; 429 past the per-viewer limit."""
    runtime: Runtime = request.app.state.runtime
    pseudonym = pseudonym_of(runtime, viewer, person_id)
    runtime.limits.check_person(viewer.subject, pseudonym)
    return runtime.person(pseudonym)


async def get_person(person_id: PersonIdPath, viewer: ViewerDep, request: Request) -> Person:
    return person_of(request, viewer, person_id)


PersonDep = Annotated[Person, Depends(get_person)]


async def get_myself(viewer: PageViewer, request: Request) -> Person:
    """A signed-in citizen on their own pages: the person comes from their token, never a URL."""
    request.app.state.runtime.require_processed()
    return request.app.state.runtime.person(viewer.subject)


MyselfDep = Annotated[Person, Depends(get_myself)]
