"""The family's early-help section of the citizen portal: whether an indicator is held for their
children, what it is based on, who can see it; "ask for a review" (recorded, audited, shown in
the caseworker's workspace) and "object" (the early-intervention objection on the consent page).

The section is `citizen/_early_help.html`, included by "Your data" with `early_help=family_status(...)`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from serving.domain import early_help
from serving.domain.access import Action, Refused
from serving.domain.auth import Role
from serving.http.deps import MyselfDep, PageViewer, ProcessedDep, RuntimeDep
from serving.http.web.pages import PageRoute, checked_form, redirect

router = APIRouter(prefix="/portal/early-help", route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict[str, str], Depends(checked_form)]


def family_status(viewer, person, runtime, models, processed) -> early_help.FamilyView:
    """What "Your data" shows about early help (the domain call, audited)."""
    return early_help.family_view(runtime.database, viewer, person, models=models, processed=processed,
                                  today=runtime.today(), factors_shown=runtime.settings.early_help_family_factors)


@router.post("/review")
def ask_for_review(request: Request, viewer: PageViewer, person: MyselfDep, runtime: RuntimeDep,
                   processed: ProcessedDep, form: Form) -> Response:
    if viewer.role is not Role.citizen:
        raise Refused("this page is for citizens", action=Action.subject_access, code="role")
    note = (form.get("note") or "").strip()[:500] or None
    early_help.request_review(runtime.database, viewer, person, child_number=form.get("child", ""), note=note,
                              processed=processed, today=runtime.today())
    return redirect("/portal/data?review=asked#early-help")
