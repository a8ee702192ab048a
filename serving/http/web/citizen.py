"""The citizen portal: services for you, "not for me", consent per purpose, your data.

A citizen is always themselves here: the person comes from their token, never from the URL,
and every read and write goes through the same access check and domain function as the API.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from serving.domain import (
    access,
    consent,
    consent_answers,
    corrections,
    early_help,
    feedback,
    preferences,
    recommendations,
    saved_services,
    service_search,
    subject_access,
)
from serving.domain.access import Action
from serving.domain.auth import Role
from serving.domain.errors import Invalid
from serving.http.deps import ModelsDep, MyselfDep, PageViewer, ProcessedDep, RuntimeDep
from serving.http.schemas import SubjectDataOut
from serving.http.web import family
from serving.http.web.pages import (
    CONSENT_PAGE,
    NO_STORE,
    PageRoute,
    checked_form,
    long_date,
    redirect,
    render,
)

router = APIRouter(prefix="/portal", route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict[str, str], Depends(checked_form)]

#: How many suggestions the portal shows (the API's default page size).
K = 10

#: The words on the consent page for each purpose ("No" records `consent.REFUSAL`): what it
#: means, each answer, the state in a sentence, and why the default is what it is.
WORDING = {
    "personalisation": {
        "title": "Personalised suggestions",
        "meaning": "We look at the council and partner services you have used to suggest other services for you.",
        "yes": "Yes, use the services I use",
        "no": "No, do not use them",
        "state_yes": "We use the services you have used to suggest others for you.",
        "state_no": "We do not use the services you have used. You see services popular with people of your age in your area.",
        "default_why": "we only do this if you say yes.",
    },
    "early_intervention": {
        "title": "Early help for families",
        "meaning": ("Caseworkers can see whether your family might benefit from early help, "
                    "so they can offer it before problems grow. A person always decides; nothing happens automatically."),
        "yes": "Yes, caseworkers may see this",
        "no": "No, I object",
        "state_yes": "Caseworkers may see whether your family might benefit from early help.",
        "state_no": "Caseworkers do not see early-help information about your family.",
        "default_why": ("the council does this to carry out its duty to support families, "
                        "unless you object. An objection covers everyone in your household."),
    },
    "research": {
        "title": "Research and planning",
        "meaning": "Your information is counted in anonymous statistics the council uses to plan services.",
        "yes": "Yes, include me",
        "no": "No, leave me out",
        "state_yes": "You are counted in anonymous statistics.",
        "state_no": "You are not counted in anonymous statistics.",
        "default_why": "everyone is counted unless they say no. Statistics never show groups of fewer than 10 people.",
    },
}

#: How a decision reached the ledger, in words ("You chose this online on 4 December 2026").
METHOD_WORDS = {
    "portal": "You chose this online", "paper": "You told us on a paper form",
    "phone": "You told us by phone", "caseworker": "You told a caseworker",
    "import": "You told one of our partner services",
}


def consent_state(decision: consent.Decision) -> dict[str, object]:
    """One purpose as the page shows it: the state in force and where it comes from."""
    copy = WORDING[decision.purpose]
    if decision.status is None:
        source = f"You have not told us, so we use the usual setting: {copy['default_why']}"
    else:
        said = METHOD_WORDS.get(decision.method or "", "You told us")
        when = long_date(decision.recorded_at) if decision.recorded_at else None
        source = f"{said}{' on ' + when if when else ''}."
    return {
        "purpose": decision.purpose, "allowed": decision.allowed, "default_applies": decision.status is None,
        "state": copy["state_yes"] if decision.allowed else copy["state_no"], "source": source,
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
                           useful: str | None = None, why: str | None = None,
                           restored: str | None = None) -> Response:
    _citizen_only(viewer)
    settings = preferences.for_myself(runtime.database, viewer, person, today=runtime.today())
    result = await recommendations.for_person(runtime.batcher, viewer, person, models=models, processed=processed,
                                              served=runtime.served, today=runtime.today(), k=K,
                                              sensitive_opt_in=settings.sensitive_suggestions)
    notes = {item.service_id: eligibility_notes(processed, item.service_id) for item in result.recommendations}
    saved = {s.service_id for s in saved_services.for_myself(runtime.database, viewer, person, today=runtime.today())}
    with runtime.database.reading() as session:
        hidden = [(sid, _service_name(processed, sid)) for sid in feedback.not_for_me(session, person.pseudonym)]
    return render(
        request, "citizen/services.html", title="Services for you", result=result, eligibility=notes,
        saved=saved, hidden=hidden, restored=_service_name(processed, restored) if restored else None,
        removed=_service_name(processed, removed) if removed in processed.services.index else None,
        thanked=_service_name(processed, useful) if useful in processed.services.index else None,
        why=why, no_consent=result.notice == recommendations.NOTICE_NO_CONSENT,
        would_use=sorted({SOURCES.get(source, source) for source, purposes in runtime.settings.sharing_policy.items()
                          if "personalisation" in purposes}),
        never_used=sorted({SOURCES.get(source, source) for source, purposes in runtime.settings.sharing_policy.items()
                           if "personalisation" not in purposes}),
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
    chosen = preferences.for_myself(runtime.database, viewer, person, today=runtime.today())
    return render(request, "citizen/consent.html", title=CONSENT_PAGE,
                  purposes=[consent_state(d) for d in decisions], wording=WORDING, saved=saved, chosen=chosen)


@router.post("/consent")
def change_consent(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                   form: Form) -> Response:
    _citizen_only(viewer)
    answers = {purpose: form[purpose] == "yes" for purpose in WORDING if form.get(purpose) in ("yes", "no")}
    consent_answers.record(runtime.database, viewer, person, answers, settings=runtime.settings,
                           today=runtime.today())
    return redirect("/portal/consent?saved=1#main-content")


@router.post("/not-for-me/undo")
def undo_not_for_me(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                    processed: ProcessedDep, form: Form) -> Response:
    _citizen_only(viewer)
    service_id = form.get("service_id", "")
    feedback.undo_not_for_me(runtime.database, viewer, person, service_id=service_id, today=runtime.today())
    restored = service_id if service_id in processed.services.index else ""
    return redirect(f"/portal?restored={quote(restored)}#main-content")


@router.get("/services", response_class=HTMLResponse)
def find_a_service(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                   models: ModelsDep, processed: ProcessedDep, words: str = "", category: str | None = None) -> Response:
    _citizen_only(viewer)
    words = words.strip()[:200]
    found = service_search.find(viewer, person, models=models, processed=processed, words=words,
                                category=category or None)
    saved = {s.service_id for s in saved_services.for_myself(runtime.database, viewer, person, today=runtime.today())}
    return render(request, "citizen/find.html", title="Find a service", search=found, saved=saved,
                  eligibility=lambda sid: eligibility_notes(processed, sid))


@router.get("/services/{service_id}", response_class=HTMLResponse)
def one_service(request: Request, service_id: str, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                models: ModelsDep, processed: ProcessedDep, saved_now: bool = False) -> Response:
    _citizen_only(viewer)
    found = service_search.one(viewer, person, service_id, models=models, processed=processed)
    saved = {s.service_id for s in saved_services.for_myself(runtime.database, viewer, person, today=runtime.today())}
    return render(request, "citizen/service.html", title=found.service.name, found=found,
                  is_saved=service_id in saved, saved_now=saved_now,
                  notes=eligibility_notes(processed, service_id))


@router.get("/saved", response_class=HTMLResponse)
def your_saved_services(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                        processed: ProcessedDep, removed: str | None = None) -> Response:
    _citizen_only(viewer)
    saved = saved_services.for_myself(runtime.database, viewer, person, today=runtime.today())
    items = [recommendations.service(processed.services.loc[s.service_id]) for s in saved
             if s.service_id in processed.services.index]
    return render(request, "citizen/saved.html", title="Your saved services", items=items,
                  removed=_service_name(processed, removed) if removed in processed.services.index else None,
                  today=runtime.today())


#: Where a save or remove may send the person back to (never an arbitrary address).
_BACK = {"services": "/portal", "find": "/portal/services", "saved": "/portal/saved"}


@router.post("/saved")
def change_saved(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                 processed: ProcessedDep, form: Form) -> Response:
    _citizen_only(viewer)
    service_id, change = form.get("service_id", ""), form.get("change")
    if change == "save":
        saved_services.save(runtime.database, viewer, person, service_id, processed=processed, today=runtime.today())
    elif change == "remove":
        saved_services.remove(runtime.database, viewer, person, service_id, today=runtime.today())
    else:
        raise Invalid("choose to save or remove the service")
    back = form.get("back", "")
    if back == "service" and service_id in processed.services.index:
        flag = "?saved_now=1" if change == "save" else ""
        return redirect(f"/portal/services/{quote(service_id)}{flag}#main-content")
    if back == "saved" and change == "remove":
        return redirect(f"/portal/saved?removed={quote(service_id)}#main-content")
    return redirect(_BACK.get(back, "/portal/saved") + "#main-content")


@router.post("/data/correction")
def ask_for_correction(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                       form: Form) -> Response:
    _citizen_only(viewer)
    corrections.ask(runtime.database, viewer, person, about=form.get("about", ""), message=form.get("message", ""),
                    today=runtime.today())
    return redirect("/portal/data?asked=1#main-content")


@router.post("/preferences")
def change_preferences(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                       form: Form) -> Response:
    _citizen_only(viewer)
    if form.get("sensitive_suggestions") not in ("yes", "no"):
        raise Invalid("choose yes or no for suggestions related to sensitive services")
    preferences.set_sensitive_suggestions(runtime.database, viewer, person, form["sensitive_suggestions"] == "yes",
                                          today=runtime.today())
    return redirect("/portal/consent?saved=1#main-content")


def _in_words(field: str, value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return RECORD_WORDS.get(field, {}).get(value, str(value))


@router.get("/data", response_class=HTMLResponse)
def your_data(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
              processed: ProcessedDep, models: ModelsDep, asked: bool = False,
              review: str | None = None) -> Response:
    _citizen_only(viewer)
    data = subject_access.for_person(runtime.database, viewer, person, served=runtime.served, processed=processed,
                                     models=models, family_factors=runtime.settings.early_help_family_factors,
                                     today=runtime.today())
    record = [(label, _in_words(field, data.record[field])) for field, label in RECORD_LABELS.items()
              if data.record.get(field) not in (None, "")]
    personalisation = next((d for d in data.consents if d["purpose"] == "personalisation"), None)
    choices = consent.for_person(runtime.database, viewer, person, settings=runtime.settings,
                                 today=runtime.today(), yourself=True)
    return render(
        request, "citizen/data.html", title="Your data", data=data, record=record,
        choices=[consent_state(d) for d in choices],
        personalisation=bool(data.history) or (personalisation or {}).get("status") == "granted",
        source_name=lambda s: SOURCES.get(s, s or "Unknown"),
        purpose_title=lambda p: WORDING.get(p, {}).get("title", p),
        service_name=lambda s: _service_name(processed, s),
        retention_days=runtime.settings.served_retention_days, asked=asked, about=corrections.ABOUT,
        latest=next((s for s in reversed(data.suggestions) if s["kind"] == "services"), None),
        early_help=family.family_status(viewer, person, runtime, models, processed), review_asked=review == "asked",
        context=early_help.CONTEXT,
    )


@router.get("/data.json")
def download_your_data(viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                       processed: ProcessedDep, models: ModelsDep) -> Response:
    _citizen_only(viewer)
    data = subject_access.for_person(runtime.database, viewer, person, served=runtime.served, processed=processed,
                                     models=models, family_factors=runtime.settings.early_help_family_factors,
                                     today=runtime.today())
    return Response(
        json.dumps(SubjectDataOut.model_validate(data, from_attributes=True).model_dump(mode="json"), indent=2,
                   ensure_ascii=False),
        media_type="application/json",
        headers={**NO_STORE, "content-disposition": 'attachment; filename="your-signpost-data.json"'},
    )
