"""Everything about one person: recommendations, early help, consent, their data, erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from serving.domain import consent, early_help, erasure, recommendations, subject_access
from serving.domain.consent import Decision
from serving.http.deps import ModelsDep, PersonDep, ProcessedDep, RuntimeDep, SettingsDep, ViewerDep
from serving.http.errors import ANY_ROUTE, problem_responses
from serving.http.fast_path import RecommendationsRoute, recommendations_json
from serving.http.schemas import (
    MAX_SUGGESTIONS,
    ConsentChange,
    ConsentOut,
    ConsentPurposeOut,
    EarlyHelpOut,
    ErasureOut,
    OverrideIn,
    OverrideOut,
    RecommendationsOut,
    SubjectDataOut,
)

router = APIRouter(prefix="/citizens", tags=["citizens"])

#: The problems any `/v1` route can answer (RFC 9457 bodies); routes with a body add `WRITES`.
REFUSALS = problem_responses(*ANY_ROUTE, 401, 403, 404, 410, 422, 429, 503)
WRITES = {**REFUSALS, **problem_responses(409, 413)}


async def read_recommendations(
    person: PersonDep, viewer: ViewerDep, runtime: RuntimeDep,
    k: Annotated[int, Query(ge=1, le=MAX_SUGGESTIONS, description="How many services to return.")] = 10,
) -> Response:
    """Ranked eligible services with reasons; without personalisation consent a labelled popular list."""
    # The hottest route: `RecommendationsRoute` (serving/http/fast_path.py) calls this function
    # directly for well-formed requests, with what the dependencies would give. Models and
    # processed data are read from the runtime here rather than through two more dependencies,
    # and the JSON is joined from parts serialised once rather than built by a response_model.
    answer = await recommendations.for_person(
        runtime.batcher, viewer, person, models=runtime.store.current, processed=runtime.require_processed(),
        served=runtime.served, today=runtime.today(), k=k)
    return Response(recommendations_json(answer), media_type="application/json")


router.add_api_route(
    "/{person_id}/recommendations", read_recommendations, methods=["GET"], response_class=Response,
    responses={200: {"model": RecommendationsOut}, **REFUSALS}, route_class_override=RecommendationsRoute,
)


@router.get("/{person_id}/early-help", response_model=EarlyHelpOut, responses=REFUSALS)
def read_early_help(person: PersonDep, viewer: ViewerDep, models: ModelsDep, processed: ProcessedDep,
                    runtime: RuntimeDep) -> early_help.Indicator:
    """Caseworkers only: band, calibrated probability, top factors, suggested interventions. Audited."""
    return early_help.indicator(runtime.database, viewer, person, models=models, processed=processed,
                                served=runtime.served, today=runtime.today())


def consent_out(decisions: list[Decision]) -> ConsentOut:
    return ConsentOut(purposes=[
        ConsentPurposeOut(purpose=d.purpose, allowed=d.allowed, status=d.status, default_applies=d.status is None,
                          recorded_at=d.recorded_at, method=d.method, meaning=d.meaning,
                          override=None if d.override is None else OverrideOut(
                              overridden_status=d.override.overridden_status,  # type: ignore[arg-type]
                              decided_at=d.override.decided_at, decided_by=d.override.decided_by,
                              reason=d.override.reason, sentence=d.override.sentence))
        for d in decisions
    ])


#: 409: the change conflicts with the person's objection, which only they (or an admin's Art. 21
#: override) may set aside, and `detail` says how; 422: a bad body, or a method or note that does
#: not fit who is acting.
CONSENT_CHANGE_ERRORS = problem_responses(409, 422)


@router.get("/{person_id}/consent", response_model=ConsentOut, responses=REFUSALS)
async def read_consent(person: PersonDep, viewer: ViewerDep, settings: SettingsDep, runtime: RuntimeDep) -> ConsentOut:
    """The current decision per purpose, and the default where none was recorded."""
    return consent_out(consent.for_person(runtime.database, viewer, person, settings=settings,
                                          today=runtime.today()))


@router.put("/{person_id}/consent", response_model=ConsentOut, responses=WRITES | CONSENT_CHANGE_ERRORS)
def change_consent(person: PersonDep, viewer: ViewerDep, body: ConsentChange, settings: SettingsDep,
                   runtime: RuntimeDep) -> ConsentOut:
    """Record a decision for one purpose; in force from the very next request, and audited.

    A citizen's own change is recorded as `portal`. Staff record a decision the person stated
    (`method` phone, paper or caseworker, and a `note`), under their staff id; they may never
    turn an objection into a grant (409: only the person, or an admin's override, may)."""
    return consent_out(consent.decide(runtime.database, viewer, person, purpose=body.purpose, status=body.status,
                                      method=body.method, note=body.note, settings=settings,
                                      today=runtime.today()))


@router.post("/{person_id}/consent/overrides", response_model=ConsentOut, status_code=201,
             responses=WRITES | CONSENT_CHANGE_ERRORS)
def override_objection(person: PersonDep, viewer: ViewerDep, body: OverrideIn, settings: SettingsDep,
                       runtime: RuntimeDep) -> ConsentOut:
    """Admins only: continue despite the person's objection to early intervention, with the compelling
    legitimate grounds (UK GDPR Art. 21). Audited, shown to the person; it stands until they record a
    new decision for the purpose."""
    return consent_out(consent.override(runtime.database, viewer, person, purpose=body.purpose,
                                        reason=body.reason, settings=settings, today=runtime.today()))


@router.get("/{person_id}/data", response_model=SubjectDataOut, responses=REFUSALS)
def read_subject_data(person: PersonDep, viewer: ViewerDep, processed: ProcessedDep, models: ModelsDep,
                      runtime: RuntimeDep) -> subject_access.SubjectData:
    """Subject access: what is held, from which sources, which consents and suggestions, and the family's
    early-help status. Audited."""
    return subject_access.for_person(runtime.database, viewer, person, served=runtime.served, processed=processed,
                                     models=models, family_factors=runtime.settings.early_help_family_factors,
                                     today=runtime.today())


@router.delete("/{person_id}", response_model=ErasureOut, responses=REFUSALS)
async def erase_person(person: PersonDep, viewer: ViewerDep, runtime: RuntimeDep, models: ModelsDep) -> ErasureOut:
    """Admins only: erase from the ledger, events, feedback and served state; the audit keeps the fact."""
    erased = await erasure.erase_person(runtime.database, viewer, person, served=runtime.served, models=models,
                                        today=runtime.today())
    return ErasureOut(erased=True, erased_at=erased.erased_at, removed=erased.removed)

