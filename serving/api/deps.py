"""Typed dependencies, so a handler reads like a sentence: who asks, about whom, with what.

They are `async def` because each is a few microseconds of in-memory work; a sync
dependency would cost a thread-pool hop per request. They read the runtime from the request
rather than depending on `RuntimeDep`: every nested dependency costs FastAPI's resolver
time on each request, and the recommendation path is measured against a trivial endpoint.

`ViewerDep` authenticates (401 / 429 on repeated failures); `PersonDep` pseudonymises the
council's person id from the path at the edge — the raw id goes no further than this file.
The same dependencies serve the web pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from serving.access import Person
from serving.auth import AuthError, Role, Viewer
from serving.db import Database
from serving.errors import NotFound
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


async def get_settings(request: Request) -> Settings:
    return request.app.state.runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_database(request: Request) -> Database:
    return request.app.state.runtime.database


DatabaseDep = Annotated[Database, Depends(get_database)]


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


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Viewer:
    """Who asks: 401 without a valid token, 429 for a client or subject over its limits."""
    runtime: Runtime = request.app.state.runtime
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


async def get_viewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Viewer:
    return authenticate(request, credentials)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
CurrentUser = ViewerDep

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
    processed = runtime.processed
    known = processed is not None and processed.knows(pseudonym)
    return Person(pseudonym, processed.household_of(pseudonym) if known else None, known)


async def get_person(person_id: PersonIdPath, viewer: ViewerDep, request: Request) -> Person:
    return person_of(request, viewer, person_id)


PersonDep = Annotated[Person, Depends(get_person)]

def viewer_of(request: Request) -> Viewer:
    """`ViewerDep` as a plain call: the bearer token from the header, then `authenticate`."""
    authorization = request.headers.get("Authorization")
    scheme, credentials = get_authorization_scheme_param(authorization)
    found = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)
        if authorization and scheme and credentials and scheme.lower() == "bearer" else None
    )  # what `bearer` (auto_error=False) hands `get_viewer`
    return authenticate(request, found)


@dataclass(frozen=True)
class Param:
    """A path or query parameter read without FastAPI's dependency resolver.

    For the hottest route only: FastAPI's per-request parameter machinery costs more there
    than the rest of the route's own work. Values are validated by pydantic against the same
    annotated type FastAPI would use, so a bad value gets the same 422 and message, and
    `openapi()` documents the parameter from that type (the route passes it in `openapi_extra`).
    """

    name: str
    location: Literal["path", "query"]
    annotation: Any
    description: str
    default: Any = ...  # `...`: required
    examples: tuple = ()

    @cached_property
    def _adapter(self) -> TypeAdapter:
        return TypeAdapter(self.annotation)

    def read(self, request: Request) -> Any:
        source = request.path_params if self.location == "path" else request.query_params
        value = source.get(self.name)
        if value is None:
            if self.default is ...:
                raise RequestValidationError([{"type": "missing", "loc": (self.location, self.name),
                                               "msg": "Field required", "input": None}])
            return self.default
        try:
            return self._adapter.validate_python(value)
        except ValidationError as error:
            raise RequestValidationError([
                {**problem, "loc": (self.location, self.name, *problem["loc"])}
                for problem in error.errors(include_url=False)
            ]) from None

    def openapi(self) -> dict[str, Any]:
        schema = {**self._adapter.json_schema(), "title": self.name.replace("_", " ").title()}
        if self.default is not ...:
            schema["default"] = self.default
        if self.examples:
            schema["examples"] = list(self.examples)
        return {"name": self.name, "in": self.location, "required": self.default is ...,
                "schema": schema, "description": self.description}


def read_params(request: Request, *params: Param) -> list[Any]:
    """Every parameter's value, or one 422 listing every problem (as FastAPI reports them)."""
    values, problems = [], []
    for param in params:
        try:
            values.append(param.read(request))
        except RequestValidationError as error:
            problems.extend(error.errors())
    if problems:
        raise RequestValidationError(problems)
    return values
