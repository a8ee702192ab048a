"""Recommendations for one person at request time: consent, new events and feedback folded in.

The served model was fitted on the last build; what happened since comes from the service
database on every request — a withdrawn consent switches the list to non-personalised
popularity at once, new events join the person's history, "not for me" removes a service —
all without retraining.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from serving import citizen
from serving.access import Person
from serving.errors import Gone, NotFound, Unavailable
from serving.processed import ProcessedData
from serving.registry import Models
from serving.schemas import RecommendationsOut, ServiceOut, ServicesPage, SimilarOut, SuggestionOut
from serving.served import ServedLog
from signpost.settings import Settings

NOTICE_PERSONALISED = "Suggested for you from the services you use."
NOTICE_NO_CONSENT = (
    "Not personalised: you have not agreed to personalisation, so these are services popular "
    "with people of your age in your area. You can change this on your consent page."
)
NOTICE_NO_HISTORY = "Not personalised yet: these are services popular with people of your age in your area."
NOTICE_DEGRADED = (
    "Not personalised: the recommendation model is unavailable, so these are services popular "
    "with people of your age in your area."
)
MEANS_TESTED_NOTE = "Means-tested: check whether you qualify before applying."


def _signposter(models: Models):
    signposter = models.signposter
    if signposter is None:
        raise Unavailable("no recommendation model and no popularity fallback are loaded; see /readyz")
    return signposter


def for_person(
    session: Session,
    person: Person,
    *,
    models: Models,
    processed: ProcessedData,
    settings: Settings,
    served: ServedLog | None,
    k: int,
) -> RecommendationsOut:
    """Ranked eligible services for `person`, honouring the ledger as it stands right now."""
    from recommender.signposting import UnknownCitizenError

    state = citizen.read(session, person.pseudonym)
    if state.erased:
        raise Gone("this person's data was erased at their request; nothing is served about them")
    signposter = _signposter(models)
    consented = state.allows("personalisation", settings)
    extra = state.extra_events(settings) if consented else []
    try:
        [suggestions] = signposter.suggest(
            [person.pseudonym],
            k=k,
            personalisation=[consented],
            extra_events=[extra],
            exclude=[state.not_for_me],
        )
    except UnknownCitizenError:
        raise NotFound("no record of this person in the current build; check the person id") from None
    personalised = consented and any(s.personalised for s in suggestions)
    if models.degraded:
        notice = NOTICE_DEGRADED
    elif not consented:
        notice = NOTICE_NO_CONSENT
    elif not personalised:
        notice = NOTICE_NO_HISTORY
    else:
        notice = NOTICE_PERSONALISED
    out = [_suggestion_out(s, processed) for s in suggestions]
    if served is not None:
        served.record(person.pseudonym, kind="services", model_version=models.recommender_version,
                      personalised=personalised, service_ids=[s.service_id for s in suggestions])
    return RecommendationsOut(
        model_version=models.recommender_version,
        model=signposter.model_name,
        personalised=personalised,
        degraded=models.degraded,
        notice=notice,
        recommendations=out,
    )


def _suggestion_out(suggestion, processed: ProcessedData) -> SuggestionOut:
    extra = processed.service_fields.get(suggestion.service_id, {})
    return SuggestionOut(
        rank=suggestion.rank,
        service_id=suggestion.service_id,
        name=suggestion.name,
        reason=suggestion.reason,
        means_tested=suggestion.means_tested,
        eligibility_note=MEANS_TESTED_NOTE if suggestion.means_tested else None,
        **extra,
    )


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value) -> int | None:
    try:
        return None if value is None or value != value else int(value)
    except (TypeError, ValueError):
        return None


def service_out(row) -> ServiceOut:
    districts = row.get("districts")
    return ServiceOut(
        service_id=str(row["service_id"]),
        name=str(row["name"]),
        description=_text(row.get("description")),
        category=_text(row.get("category")),
        provider=_text(row.get("provider")),
        min_age=_int(row.get("min_age")),
        max_age=_int(row.get("max_age")),
        districts=[str(d) for d in districts] if districts is not None else ["*"],
        means_tested=bool(row.get("means_tested")),
        intervention=bool(row.get("intervention")),
        url=_text(row.get("url")),
        active=bool(row.get("active")),
    )


def list_services(
    processed: ProcessedData, *, offset: int, limit: int, category: str | None = None, active_only: bool = True
) -> ServicesPage:
    frame = processed.services.sort_values("service_id")
    if active_only:
        frame = frame[frame["active"].astype(bool)]
    if category is not None:
        frame = frame[frame["category"] == category]
    page = frame.iloc[offset : offset + limit]
    return ServicesPage(
        total=len(frame), offset=offset, limit=limit,
        services=[service_out(row) for _, row in page.iterrows()],
    )


def similar(models: Models, processed: ProcessedData, service_id: str, *, k: int) -> SimilarOut:
    signposter = _signposter(models)
    try:
        suggestions = signposter.similar_services(service_id, k=k)
    except KeyError:
        raise NotFound(f"service {service_id!r} is not in the catalogue; GET /v1/services lists them") from None
    return SimilarOut(
        service_id=service_id,
        model_version=models.recommender_version,
        similar=[_suggestion_out(s, processed) for s in suggestions],
    )
