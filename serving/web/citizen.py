"""The citizen portal: services for you, "not for me", consent per purpose, your data.

A citizen is always themselves here: the person comes from their token, never from the URL,
and every read and write goes through the same access check and domain function as the API.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from serving import access, consent, erasure, feedback, signposting, subject_access
from serving.access import Action
from serving.api.deps import ModelsDep, ProcessedDep, RuntimeDep
from serving.api.routes.citizens import DEFAULT_METHOD, MEANINGS
from serving.auth import Role
from serving.errors import Gone, Invalid, NotFound
from serving.schemas import FeedbackIn
from serving.web.deps import PageViewer, myself
from serving.web.pages import NO_STORE, PageRoute, checked_form, redirect, render

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict[str, str], Depends(checked_form)]

#: How many suggestions the portal shows (the API's default page size).
K = 10

#: The words on the consent page for each purpose ("No" is recorded as the purpose's refusal).
WORDING = {
    "personalisation": {
        "title": "Personalised suggestions",
        "yes": "Yes, use the services I use",
        "no": "No, do not personalise",
        "refusal": "withdrawn",
        "default_yes": "we personalise your suggestions.",
        "default_no": "we do not personalise your suggestions.",
    },
    "early_intervention": {
        "title": "Early help for families",
        "yes": "Yes, caseworkers may see indicators",
        "no": "No, I object",
        "refusal": "objected",
        "default_yes": "caseworkers may see early-help indicators for your family.",
        "default_no": "caseworkers do not see early-help indicators for your family.",
    },
    "research": {
        "title": "Research and planning",
        "yes": "Yes, include me in statistics",
        "no": "No, leave me out",
        "refusal": "objected",
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
def services_for_you(request: Request, viewer: PageViewer, runtime: RuntimeDep, models: ModelsDep,
                     processed: ProcessedDep, removed: str | None = None, useful: str | None = None) -> Response:
    _citizen_only(viewer)
    person = myself(viewer, runtime)
    with runtime.database.reading() as session:
        access.check(session, viewer, Action.recommendations, person, today=runtime.today())
        result = signposting.for_person(session, person, models=models, processed=processed,
                                        settings=runtime.settings, served=runtime.served, k=K)
    notes = {item.service_id: eligibility_notes(processed, item.service_id) for item in result.recommendations}
    return render(
        request, "citizen/services.html", title="Services for you", result=result, eligibility=notes,
        removed=_service_name(processed, removed) if removed in processed.services.index else None,
        thanked=_service_name(processed, useful) if useful in processed.services.index else None,
    )


@router.post("/feedback")
def record_feedback(request: Request, viewer: PageViewer, runtime: RuntimeDep, processed: ProcessedDep,
                    form: Form) -> Response:
    _citizen_only(viewer)
    person = myself(viewer, runtime)
    decision = form.get("decision")
    service_id = form.get("service_id", "")
    if decision not in ("not_for_me", "useful"):
        raise Invalid("choose 'Not for me' or 'This is useful'")
    # The API body names the person by council id; here the person is the signed-in citizen,
    # whose pseudonym is what `feedback.record` stores.
    body = FeedbackIn.model_construct(person_id="", service_id=service_id, decision=decision, reason=None)
    with runtime.database.write_session() as session:
        access.check(session, viewer, Action.feedback_write, person, today=runtime.today())
        _present(session, person)
        feedback.record(session, body, person.pseudonym, viewer=viewer, processed=processed)
    key = "removed" if decision == "not_for_me" else "useful"
    return redirect(f"/portal?{key}={service_id}#main-content")


def _present(session, person) -> None:
    """The same refusals as the API's: erased people are gone, unknown people not found."""
    if erasure.is_erased(session, person.pseudonym):
        raise Gone("your data was erased at your request; nothing about you is held any more")
    if not person.known:
        raise NotFound("there is no record of you in the current build")


@router.get("/consent", response_class=HTMLResponse)
def consent_page(request: Request, viewer: PageViewer, runtime: RuntimeDep, saved: bool = False) -> Response:
    _citizen_only(viewer)
    person = myself(viewer, runtime)
    with runtime.database.reading() as session:
        access.check(session, viewer, Action.consent_read, person, today=runtime.today())
        _present(session, person)
        decisions = consent.decisions(session, person.pseudonym, runtime.settings)
    purposes = [
        {"purpose": d.purpose, "allowed": d.allowed, "default_applies": d.status is None, "meaning": MEANINGS[d.purpose]}
        for d in decisions
    ]
    return render(request, "citizen/consent.html", title="How we use your data", purposes=purposes,
                  wording=WORDING, saved=saved)


@router.post("/consent")
def change_consent(request: Request, viewer: PageViewer, runtime: RuntimeDep, form: Form) -> Response:
    _citizen_only(viewer)
    person = myself(viewer, runtime)
    with runtime.database.write_session() as session:
        access.check(session, viewer, Action.consent_change, person, today=runtime.today())
        _present(session, person)
        for decision in consent.decisions(session, person.pseudonym, runtime.settings):
            answer = form.get(decision.purpose)
            if answer not in ("yes", "no"):
                continue  # not answered: leave as it is
            wanted = answer == "yes"
            if wanted == decision.allowed:
                continue  # no change: the ledger records decisions, not page saves
            status = "granted" if wanted else WORDING[decision.purpose]["refusal"]
            consent.change(session, pseudonym=person.pseudonym, purpose=decision.purpose, status=status,
                           method=DEFAULT_METHOD[viewer.role], viewer=viewer)
    return redirect("/portal/consent?saved=1#main-content")


def _in_words(field: str, value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return RECORD_WORDS.get(field, {}).get(value, str(value))


def _report(viewer, runtime, processed):
    person = myself(viewer, runtime)
    with runtime.database.write_session() as session:
        access.check(session, viewer, Action.subject_access, person, today=runtime.today())
        return subject_access.report(session, person, viewer=viewer, processed=processed)


@router.get("/data", response_class=HTMLResponse)
def your_data(request: Request, viewer: PageViewer, runtime: RuntimeDep, processed: ProcessedDep) -> Response:
    _citizen_only(viewer)
    data = _report(viewer, runtime, processed)
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
    )


@router.get("/data.json")
def download_your_data(viewer: PageViewer, runtime: RuntimeDep, processed: ProcessedDep) -> Response:
    _citizen_only(viewer)
    data = _report(viewer, runtime, processed)
    return Response(
        json.dumps(data.model_dump(mode="json"), indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={**NO_STORE, "content-disposition": 'attachment; filename="your-signpost-data.json"'},
    )
