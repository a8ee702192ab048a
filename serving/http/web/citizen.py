"""The citizen portal: services for you, "not for me", consent per purpose, your data.

A citizen is always themselves here: the person comes from their token, never from the URL,
and every read and write goes through the same access check and domain function as the API.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from serving.domain import access, consent, feedback, recommendations, subject_access
from serving.domain.access import Action
from serving.domain.auth import Role
from serving.domain.errors import Invalid
from serving.http.deps import ModelsDep, MyselfDep, PageViewer, ProcessedDep, RuntimeDep
from serving.http.schemas import SubjectDataOut
from serving.http.web import family
from serving.http.web.pages import NO_STORE, PageRoute, checked_form, redirect, render

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict[str, str], Depends(checked_form)]

#: How many suggestions the portal shows (the API's default page size).
K = 10

#: The words on the consent page for each purpose ("No" records `consent.REFUSAL`).
WORDING = {
    "personalisation": {
        "title": "Personalised suggestions",
        "yes": "Yes, use the services I use",
        "no": "No, do not personalise",
        "default_yes": "we personalise your suggestions.",
        "default_no": "we do not personalise your suggestions.",
    },
    "early_intervention": {
        "title": "Early help for families",
        "yes": "Yes, caseworkers may see indicators",
        "no": "No, I object",
        "default_yes": "caseworkers may see early-help indicators for your family.",
        "default_no": "caseworkers do not see early-help indicators for your family.",
    },
    "research": {
        "title": "Research and planning",
        "yes": "Yes, include me in statistics",
        "no": "No, leave me out",
        "default_yes": "you are included in anonymous statistics.",
        "default_no": "you are not included in anonymous statistics.",
    },
}

SOURCES = {
    "libraries": "Libraries", "leisure": "Leisure centres", "revenues": "Council tax and benefits",
    "voluntary": "Voluntary organisations", "council": "The council", "housing": "Housing",
    "fire": "Fire and rescue", "nhs": "NHS", "public_health": "Public health", "police": "Police",
    "childrens_social_care": "Children's social care", "schools": "Schools",
}

#: Codes in the generalised record, in words.
RECORD_WORDS = {
    "sex": {"F": "Female", "M": "Male", "X": "Other", "U": "Not known"},
    "disability": {"Y": "Yes", "N": "No", "U": "Not known"},
}

RECORD_LABELS = {
    "age_band": "Age band", "postcode_district": "Postcode district", "local_authority": "Council area",
    "sex": "Sex", "ethnicity": "Ethnic group", "disability": "Disability", "imd_decile": "Deprivation decile of your area",
}


def _citizen_only(viewer) -> None:
    if viewer.role is not Role.citizen:
        raise access.Refused("the citizen portal is for residents: sign in as a citizen to see your own services",
                             action=Action.recommendations, code="role")


def _service_name(processed, service_id: str) -> str:
    try:
        return str(processed.services.at[service_id, "name"])
    except KeyError:
        return service_id


def eligibility_notes(processed, service_id: str) -> list[str]:
    """Who a service is for, from the catalogue: age range and area (the means test is shown apart)."""
    try:
        row = processed.services.loc[service_id]
    except KeyError:
        return []
    notes = []
    low, high = row.get("min_age"), row.get("max_age")
    low = None if low is None or low != low else int(low)
    high = None if high is None or high != high else int(high)
    if low is not None and high is not None:
        notes.append(f"People aged {low} to {high}")
    elif low is not None:
        notes.append(f"People aged {low} and over")
    elif high is not None:
        notes.append(f"People aged up to {high}")
    districts = row.get("districts")
    if districts is not None and "*" not in list(districts):
        notes.append("Only in some areas – including yours")
    return notes


@router.get("", response_class=HTMLResponse)
async def services_for_you(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                           models: ModelsDep, processed: ProcessedDep, removed: str | None = None,
                           useful: str | None = None) -> Response:
    _citizen_only(viewer)
    result = await recommendations.for_person(runtime.batcher, viewer, person, models=models, processed=processed,
                                              served=runtime.served, today=runtime.today(), k=K)
    notes = {item.service_id: eligibility_notes(processed, item.service_id) for item in result.recommendations}
    return render(
        request, "citizen/services.html", title="Services for you", result=result, eligibility=notes,
        removed=_service_name(processed, removed) if removed in processed.services.index else None,
        thanked=_service_name(processed, useful) if useful in processed.services.index else None,
    )


@router.post("/feedback")
def record_feedback(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                    processed: ProcessedDep, form: Form) -> Response:
    _citizen_only(viewer)
    decision = form.get("decision")
    service_id = form.get("service_id", "")
    if decision not in ("not_for_me", "useful"):
        raise Invalid("choose 'Not for me' or 'This is useful'")
    feedback.give(runtime.database, viewer, person, service_id=service_id, decision=decision, reason=None,
                  processed=processed, today=runtime.today(), yourself=True)
    key = "removed" if decision == "not_for_me" else "useful"
    return redirect(f"/portal?{key}={service_id}#main-content")


@router.get("/consent", response_class=HTMLResponse)
def consent_page(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                 saved: bool = False) -> Response:
    _citizen_only(viewer)
    decisions = consent.for_person(runtime.database, viewer, person, settings=runtime.settings,
                                   today=runtime.today(), yourself=True)
    purposes = [
        {"purpose": d.purpose, "allowed": d.allowed, "default_applies": d.status is None, "meaning": d.meaning}
        for d in decisions
    ]
    return render(request, "citizen/consent.html", title="How we use your data", purposes=purposes,
                  wording=WORDING, saved=saved)


@router.post("/consent")
def change_consent(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                   form: Form) -> Response:
    _citizen_only(viewer)
    answers = {purpose: form[purpose] == "yes" for purpose in WORDING if form.get(purpose) in ("yes", "no")}
    consent.set_allowed(runtime.database, viewer, person, answers, settings=runtime.settings,
                        today=runtime.today(), yourself=True)
    return redirect("/portal/consent?saved=1#main-content")


def _in_words(field: str, value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return RECORD_WORDS.get(field, {}).get(value, str(value))


@router.get("/data", response_class=HTMLResponse)
def your_data(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
              processed: ProcessedDep, models: ModelsDep, review: str | None = None) -> Response:
    _citizen_only(viewer)
    data = subject_access.for_person(runtime.database, viewer, person, served=runtime.served, processed=processed,
                                     today=runtime.today())
    record = [(label, _in_words(field, data.record[field])) for field, label in RECORD_LABELS.items()
              if data.record.get(field) not in (None, "")]
    personalisation = next((d for d in data.consents if d["purpose"] == "personalisation"), None)
    return render(
        request, "citizen/data.html", title="Your data", data=data, record=record,
        personalisation=bool(data.history) or (personalisation or {}).get("status") == "granted",
        source_name=lambda s: SOURCES.get(s, s or "Unknown"),
        purpose_title=lambda p: WORDING.get(p, {}).get("title", p),
        service_name=lambda s: _service_name(processed, s),
        retention_days=runtime.settings.served_retention_days,
        early_help=family.family_status(viewer, person, runtime, models, processed), review_asked=review == "asked",
    )


@router.get("/data.json")
def download_your_data(viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                       processed: ProcessedDep) -> Response:
    _citizen_only(viewer)
    data = subject_access.for_person(runtime.database, viewer, person, served=runtime.served, processed=processed,
                                     today=runtime.today())
    return Response(
        json.dumps(SubjectDataOut.model_validate(data, from_attributes=True).model_dump(mode="json"), indent=2,
                   ensure_ascii=False),
        media_type="application/json",
        headers={**NO_STORE, "content-disposition": 'attachment; filename="your-signpost-data.json"'},
    )
