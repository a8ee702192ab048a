"""Everything about one person: recommendations, early help, consent, their data, erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from serving import access, consent, early_help, erasure, subject_access
from serving.access import Action
from serving.api.deps import (
    ModelsDep,
    Param,
    PersonDep,
    ProcessedDep,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    ViewerDep,
    person_of,
    read_params,
    viewer_of,
)
from serving.auth import Role
from serving.errors import Gone, NotFound
from serving.runtime import Runtime
from serving.schemas import (
    ConsentChange,
    ConsentOut,
    ConsentPurposeOut,
    EarlyHelpOut,
    ErasureOut,
    ErrorOut,
    PersonId,
    RecommendationsOut,
    SubjectDataOut,
)

router = APIRouter(prefix="/citizens", tags=["citizens"])

REFUSALS = {
    401: {"model": ErrorOut, "description": "No valid bearer token."},
    403: {"model": ErrorOut, "description": "Refused by the access rules; `detail` says why."},
    404: {"model": ErrorOut, "description": "No record of this person."},
    410: {"model": ErrorOut, "description": "The person was erased."},
    429: {"model": ErrorOut, "description": "Rate limited; see `Retry-After`."},
}

MEANINGS = {
    "personalisation": "Use the services you have used to suggest others for you (opt-in).",
    "early_intervention": "Let caseworkers see early-help indicators for your family (public task; you may object).",
    "research": "Include you in anonymous statistics for planning services (opt-out).",
}

# The recommendation route's parameters, read without FastAPI's resolver (see `Param`).
PERSON_ID = Param("person_id", "path", PersonId, "The council's person reference; pseudonymised on arrival, "
                  "never stored or logged. A citizen may use `me`.", examples=("P000123", "me"))
HOW_MANY = Param("k", "query", Annotated[int, Field(ge=1, le=50)], "How many services to return.", default=10)


@router.get(
    "/{person_id}/recommendations", response_class=Response,
    responses={200: {"model": RecommendationsOut}, 422: {"model": ErrorOut, "description": "A bad parameter."},
               **REFUSALS},
    openapi_extra={"security": [{"HTTPBearer": []}], "parameters": [PERSON_ID.openapi(), HOW_MANY.openapi()]},
)
async def read_recommendations(request: Request) -> Response:
    """Ranked eligible services with reasons; without personalisation consent a labelled popular list."""
    # The hottest path, so it skips what costs more than the work it would do: FastAPI's
    # dependency resolution (same checks in the same order as ViewerDep, then the parameters,
    # then PersonDep), and response_model re-validation (the JSON is put together from parts serialised once).
    runtime: Runtime = request.app.state.runtime
    viewer = viewer_of(request)
    person_id, k = read_params(request, PERSON_ID, HOW_MANY)
    person = person_of(request, viewer, person_id)
    access.check(runtime.database, viewer, Action.recommendations, person, today=runtime.today())
    body = await runtime.batcher.for_person(
        person, models=runtime.store.current, processed=runtime.require_processed(), served=runtime.served, k=k,
    )
    return Response(body, media_type="application/json")


@router.get("/{person_id}/early-help", response_model=EarlyHelpOut, responses=REFUSALS)
def read_early_help(
    person: PersonDep, viewer: ViewerDep, models: ModelsDep, processed: ProcessedDep, runtime: RuntimeDep,
) -> EarlyHelpOut:
    """Caseworkers only: band, calibrated probability, top factors, suggested interventions. Audited."""
    with runtime.database.write_session() as session:
        access.check(session, viewer, Action.early_help, person, today=runtime.today())
        if erasure.is_erased(session, person.pseudonym):
            raise Gone("this person's data was erased at their request")
        if not person.known:
            raise NotFound("no record of this person in the current build")
        return early_help.for_child(session, person, viewer=viewer, models=models, processed=processed,
                                    served=runtime.served)


def _consent_out(session, pseudonym: str, settings) -> ConsentOut:
    return ConsentOut(purposes=[
        ConsentPurposeOut(purpose=d.purpose, allowed=d.allowed, status=d.status, default_applies=d.status is None,
                          recorded_at=d.recorded_at, method=d.method, meaning=MEANINGS[d.purpose])
        for d in consent.decisions(session, pseudonym, settings)
    ])


@router.get("/{person_id}/consent", response_model=ConsentOut, responses=REFUSALS)
async def read_consent(person: PersonDep, viewer: ViewerDep, session: SessionDep, settings: SettingsDep,
                       runtime: RuntimeDep) -> ConsentOut:
    """The current decision per purpose, and the default where none was recorded."""
    access.check(session, viewer, Action.consent_read, person, today=runtime.today())
    if erasure.is_erased(session, person.pseudonym):
        raise Gone("this person's data was erased at their request")
    if not person.known:
        raise NotFound("no record of this person in the current build")
    return _consent_out(session, person.pseudonym, settings)


DEFAULT_METHOD = {Role.citizen: "portal", Role.caseworker: "caseworker", Role.admin: "paper"}


@router.put("/{person_id}/consent", response_model=ConsentOut, responses=REFUSALS)
def change_consent(person: PersonDep, viewer: ViewerDep, body: ConsentChange, settings: SettingsDep,
                   runtime: RuntimeDep) -> ConsentOut:
    """Record a decision for one purpose; in force from the very next request, and audited."""
    with runtime.database.write_session() as session:
        access.check(session, viewer, Action.consent_change, person, today=runtime.today())
        if erasure.is_erased(session, person.pseudonym):
            raise Gone("this person's data was erased at their request")
        if not person.known:
            raise NotFound("no record of this person in the current build")
        consent.change(session, pseudonym=person.pseudonym, purpose=body.purpose, status=body.status,
                       method=body.method or DEFAULT_METHOD[viewer.role], viewer=viewer)
        out = _consent_out(session, person.pseudonym, settings)
    return out  # committed (and fsynced) before the answer is sent


@router.get("/{person_id}/data", response_model=SubjectDataOut, responses=REFUSALS)
def read_subject_data(person: PersonDep, viewer: ViewerDep, processed: ProcessedDep,
                      runtime: RuntimeDep) -> SubjectDataOut:
    """Subject access: what is held, from which sources, which consents and suggestions. Audited."""
    runtime.served.flush()  # outside the write transaction below: it takes the write lock itself
    with runtime.database.write_session() as session:
        access.check(session, viewer, Action.subject_access, person, today=runtime.today())
        return subject_access.report(session, person, viewer=viewer, processed=processed)


@router.delete("/{person_id}", response_model=ErasureOut, responses=REFUSALS)
async def erase_person(person: PersonDep, viewer: ViewerDep, runtime: RuntimeDep, models: ModelsDep) -> ErasureOut:
    """Admins only: erase from the ledger, events, feedback and served state; the audit keeps the fact."""

    def work() -> ErasureOut:
        with runtime.database.write_session() as session:
            access.check(session, viewer, Action.erase, person, today=runtime.today())
            erased_at, removed = erasure.erase(session, person.pseudonym, viewer=viewer, known=person.known)
        return ErasureOut(erased=True, erased_at=erased_at, removed=removed)

    out = await run_in_threadpool(work)
    runtime.served.forget(person.pseudonym)
    for signposter in {id(s): s for s in (models.signposter, models.fallback) if s is not None}.values():
        signposter.forget([person.pseudonym])
    return out
