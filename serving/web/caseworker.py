"""The caseworker workspace: the caseload by suggested priority, and one household's children.

Bands only, never a score. Every household page is a view of each child's early-help
indicator through `early_help.for_child`, which writes the audit entry the page tells the
caseworker about; decisions go through `feedback.record`, which requires a reason.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from serving import access, early_help, erasure, feedback
from serving.access import Action, Person
from serving.api.deps import ModelsDep, ProcessedDep, RuntimeDep
from serving.errors import Invalid, NotFound
from serving.schemas import FeedbackIn
from serving.web.deps import PageViewer
from serving.web.pages import PageRoute, checked_form, redirect, render

router = APIRouter(prefix="/workspace", route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict[str, str], Depends(checked_form)]
PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")

DIRECTION = {"raises": "Raises the indicator", "lowers": "Lowers the indicator"}


def reference(pseudonym: str) -> str:
    """A short reference a caseworker can read out: the pseudonym's first eight characters."""
    return pseudonym[:8].upper()


@router.get("", response_class=HTMLResponse)
def caseload(request: Request, viewer: PageViewer, runtime: RuntimeDep, models: ModelsDep,
             processed: ProcessedDep) -> Response:
    access.role_allowed(viewer, Action.caseload)
    with runtime.database.write_session() as session:
        out = early_help.caseload(session, viewer=viewer, models=models, processed=processed, today=runtime.today())
    return render(request, "caseworker/caseload.html", title="Your caseload", caseload=out, reference=reference)


def _household(session, viewer, runtime, processed, household: str) -> list[Person]:
    """The household's members, after the caseload check (refused before anything is read)."""
    if not PSEUDONYM.match(household):
        raise NotFound("there is no such household; open it from your caseload")
    access.check(session, viewer, Action.early_help, Person("", household, False), today=runtime.today())
    members = processed.members(household)
    if not members:
        raise NotFound("this household is not in the current build")
    return [Person(p, household, True) for p in members]


def _children(processed, people: list[Person]) -> list[tuple[Person, str]]:
    """Members aged 17 or under at the build date, youngest band last, with their age band."""
    citizens = processed.citizens
    out = []
    for person in people:
        row = citizens.loc[person.pseudonym]
        if row["age_max"] <= 17:
            out.append((person, str(row["age_band"]), int(row["age_min"])))
    out.sort(key=lambda item: (item[2], item[0].pseudonym))
    return [(person, band) for person, band, _ in out]


def _household_page(request, viewer, runtime, models, processed, household: str, *, errors=None,
                    values=None, status_code: int = 200, recorded: str | None = None) -> Response:
    with runtime.database.write_session() as session:
        people = _household(session, viewer, runtime, processed, household)
        children = []
        for number, (child, age_band) in enumerate(_children(processed, people), start=1):
            runtime.limits.check_person(viewer.subject, child.pseudonym)
            access.check(session, viewer, Action.early_help, child, today=runtime.today())
            if erasure.is_erased(session, child.pseudonym):
                continue
            indicator = early_help.for_child(session, child, viewer=viewer, models=models, processed=processed,
                                             served=runtime.served)
            children.append({"number": number, "pseudonym": child.pseudonym, "age_band": age_band,
                              "indicator": indicator})
    return render(
        request, "caseworker/household.html", status_code=status_code,
        title=f"Household {reference(household)}", error_title=bool(errors), household=household,
        reference=reference(household), children=children, adults=len(people) - len(children),
        errors=errors or {}, values=values or {}, recorded=recorded, direction=DIRECTION,
        service_name=lambda s: str(processed.services.at[s, "name"]) if s in processed.services.index else s,
    )


@router.get("/households/{household}", response_class=HTMLResponse)
def household_page(request: Request, household: str, viewer: PageViewer, runtime: RuntimeDep,
                   models: ModelsDep, processed: ProcessedDep, recorded: str | None = None) -> Response:
    access.role_allowed(viewer, Action.early_help)
    return _household_page(request, viewer, runtime, models, processed, household,
                           recorded=recorded if recorded in processed.services.index else None)


@router.post("/households/{household}/decisions")
def record_decision(request: Request, household: str, viewer: PageViewer, runtime: RuntimeDep,
                    models: ModelsDep, processed: ProcessedDep, form: Form) -> Response:
    access.role_allowed(viewer, Action.feedback_write)
    child = form.get("child", "")
    service_id = form.get("service_id", "")
    field = f"decision-{child[:12]}-{service_id}"
    decision = form.get("decision")
    reason = (form.get("reason") or "").strip()[:500]
    errors: dict[str, str] = {}
    with runtime.database.write_session() as session:
        people = _household(session, viewer, runtime, processed, household)
        if not PSEUDONYM.match(child) or child not in {p.pseudonym for p in people}:
            raise NotFound("that child is not in this household")
        person = Person(child, household, True)
        runtime.limits.check_person(viewer.subject, child)
        access.check(session, viewer, Action.feedback_write, person, today=runtime.today())
        if decision not in ("accepted", "declined"):
            errors[field] = "Select whether the family accepted or declined this service"
        else:
            body = FeedbackIn.model_construct(person_id="", service_id=service_id, decision=decision,
                                              reason=reason or None)
            try:
                feedback.record(session, body, child, viewer=viewer, processed=processed)
            except Invalid as problem:
                errors[f"{field}-reason" if "reason" in problem.detail else field] = _sentence(problem.detail)
    if errors:
        values = {"child": child, "service_id": service_id, "decision": decision, "reason": reason}
        return _household_page(request, viewer, runtime, models, processed, household, errors=errors,
                               values=values, status_code=400)
    return redirect(f"/workspace/households/{household}?recorded={service_id}#main-content")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
