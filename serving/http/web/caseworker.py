"""The caseworker workspace: the caseload by suggested priority, and one household's children.

Bands only, never a score. Every household page is a view of each child's early-help
indicator through `early_help.for_child`, which writes the audit entry the page tells the
caseworker about; decisions (offered, not offered, "I disagree with the indicator") go through
`early_help.decide_for_child`, which requires a reason and keeps each child's history.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from serving.domain import early_help
from serving.domain.errors import Invalid, NotFound
from serving.http.deps import ModelsDep, PageViewer, ProcessedDep, RuntimeDep
from serving.http.web.pages import PageRoute, checked_form, redirect, render

router = APIRouter(prefix="/workspace", route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict[str, str], Depends(checked_form)]

DIRECTION = {"raises": "Raises the indicator", "lowers": "Lowers the indicator"}


def reference(pseudonym: str) -> str:
    """A short reference a caseworker can read out: the pseudonym's first eight characters."""
    return pseudonym[:8].upper()


@router.get("", response_class=HTMLResponse)
def caseload(request: Request, viewer: PageViewer, runtime: RuntimeDep, models: ModelsDep,
             processed: ProcessedDep) -> Response:
    return _caseload_page(request, viewer, runtime, models, processed)


def _caseload_page(request, viewer, runtime, models, processed, *, errors=None, status_code: int = 200) -> Response:
    out = early_help.caseload_for(runtime.database, viewer, models=models, processed=processed,
                                  today=runtime.today())
    return render(request, "caseworker/caseload.html", title="Your caseload", caseload=out, reference=reference,
                  errors=errors or {}, error_title=bool(errors), status_code=status_code)


@router.post("/find")
def find_family(request: Request, viewer: PageViewer, runtime: RuntimeDep, models: ModelsDep,
                processed: ProcessedDep, form: Form) -> Response:
    """A council reference typed in: pseudonymised here, never stored, logged or shown raw."""
    typed = (form.get("reference") or "").strip()[:64]
    if not typed:
        errors = {"reference": "Enter the council reference of the person or household"}
        return _caseload_page(request, viewer, runtime, models, processed, errors=errors, status_code=400)
    try:
        household = early_help.find_household(
            runtime.database, runtime.limits, viewer, person=runtime.person_pseudonym(typed),
            household=runtime.household_pseudonym(typed), processed=processed, today=runtime.today())
    except NotFound as problem:
        return _caseload_page(request, viewer, runtime, models, processed,
                              errors={"reference": _sentence(problem.detail)}, status_code=404)
    return redirect(f"/workspace/households/{household}#main-content")


@router.get("/help", response_class=HTMLResponse)
def help_page(request: Request, viewer: PageViewer, models: ModelsDep) -> Response:
    return render(request, "caseworker/help.html", title="What the early-help indicator means",
                  help=early_help.workspace_help_for(viewer, models), context=early_help.CONTEXT)


def _household_page(request, viewer, runtime, models, processed, household: str, *, errors=None,
                    values=None, status_code: int = 200, recorded: str | None = None) -> Response:
    view = early_help.household_view(runtime.database, runtime.limits, viewer, household, models=models,
                                     processed=processed, served=runtime.served, today=runtime.today())
    return render(
        request, "caseworker/household.html", status_code=status_code,
        title=f"Household {reference(household)}", error_title=bool(errors), household=household,
        reference=reference(household), children=view.children, adults=view.adults, support=view.support, reviews=view.reviews,
        errors=errors or {}, values=values or {}, recorded=recorded, direction=DIRECTION, context=early_help.CONTEXT,
        decisions=early_help.DECISIONS, service_decisions=early_help.SERVICE_DECISIONS,
        service_name=lambda s: str(processed.services.at[s, "name"]) if s in processed.services.index else s,
    )


@router.get("/households/{household}", response_class=HTMLResponse)
def household_page(request: Request, household: str, viewer: PageViewer, runtime: RuntimeDep,
                   models: ModelsDep, processed: ProcessedDep, recorded: str | None = None) -> Response:
    known = recorded == "indicator" or recorded in processed.services.index
    return _household_page(request, viewer, runtime, models, processed, household,
                           recorded=recorded if known else None)


@router.post("/households/{household}/decisions")
def record_decision(request: Request, household: str, viewer: PageViewer, runtime: RuntimeDep,
                    models: ModelsDep, processed: ProcessedDep, form: Form) -> Response:
    child = form.get("child", "")
    service_id = form.get("service_id") or None
    field = f"decision-{child[:12]}-{service_id}" if service_id else f"disagree-{child[:12]}"
    decision = form.get("decision")
    reason = (form.get("reason") or "").strip()[:500]
    try:
        early_help.decide_for_child(runtime.database, runtime.limits, viewer, household, child,
                                    decision=decision, reason=reason or None, service_id=service_id,
                                    models=models, processed=processed, today=runtime.today())
    except Invalid as problem:
        errors = {f"{field}-reason" if "reason" in problem.detail else field: _sentence(problem.detail)}
        values = {"child": child, "service_id": service_id or "", "decision": decision, "reason": reason}
        return _household_page(request, viewer, runtime, models, processed, household, errors=errors,
                               values=values, status_code=400)
    recorded = service_id or "indicator"
    return redirect(f"/workspace/households/{household}?recorded={recorded}#main-content")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
