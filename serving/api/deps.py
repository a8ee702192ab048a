"""Typed dependencies, so a handler reads like a sentence: who asks, about whom, with what.

They are `async def` because each is a few microseconds of in-memory work; a sync
dependency would cost a thread-pool hop per request.

`ViewerDep` authenticates (401 / 429 on repeated failures); `PersonDep` pseudonymises the
council's person id from the path at the edge — the raw id goes no further than this file.
The same dependencies serve the web pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from serving.access import Person
from serving.auth import AuthError, Viewer
from serving.db import Database
from serving.logs import request_id  # noqa: F401 — re-exported for pages
from serving.processed import ProcessedData
from serving.registry import Models
from serving.runtime import Runtime
from serving.schemas import PERSON_ID_PATTERN
from signpost.settings import Settings

bearer = HTTPBearer(
    bearerFormat="JWT",
    description="A token from `signpost token --role ROLE --subject ID` (development) or the council's identity service.",
    auto_error=False,
)


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_database(runtime: RuntimeDep) -> Database:
    return runtime.database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[Session]:
    """A read session for the request (writes open `database.write_session()` and commit there).

    Async on purpose: reads are sub-millisecond indexed lookups, cheaper run inline on the
    event loop than handed to the thread pool; anything that may wait on a lock runs in a
    sync handler instead.
    """
    with runtime.database.reading() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_models(runtime: RuntimeDep) -> Models:
    return runtime.store.current  # one read of the reference: the whole request sees one version


ModelsDep = Annotated[Models, Depends(get_models)]


async def get_processed(runtime: RuntimeDep) -> ProcessedData:
    return runtime.require_processed()


ProcessedDep = Annotated[ProcessedData, Depends(get_processed)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def get_viewer(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Viewer:
    client = client_address(request)
    runtime.limits.check_client(client)
    try:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise AuthError("sign in: send `Authorization: Bearer <token>`")
        viewer = runtime.tokens.read(credentials.credentials)
    except AuthError:
        runtime.limits.auth_failed(client)
        raise
    request.state.viewer = viewer  # for the access log (role and subject, never the token)
    runtime.limits.check_subject(viewer.subject)
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
CurrentUser = ViewerDep

PersonIdPath = Annotated[
    str,
    Path(
        description="The council's person reference; pseudonymised on arrival, never stored or logged.",
        pattern=PERSON_ID_PATTERN,
        examples=["P000123"],
    ),
]


async def get_person(person_id: PersonIdPath, viewer: ViewerDep, runtime: RuntimeDep) -> Person:
    pseudonym = runtime.person_pseudonym(person_id)
    runtime.limits.check_person(viewer.subject, pseudonym)
    processed = runtime.processed
    known = processed is not None and processed.knows(pseudonym)
    return Person(pseudonym, processed.household_of(pseudonym) if known else None, known)


PersonDep = Annotated[Person, Depends(get_person)]
