"""The data steward's page: one uncertain partner-record link at a time, accepted or rejected.

The page shows only what decides the pair (serving/domain/linkage_review.py) and is audited on
every view; decisions go through the same domain function as `POST /v1/linkage/decisions`.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from serving.domain import linkage_review
from serving.domain.errors import Invalid
from serving.http.deps import PageViewer, RuntimeDep
from serving.http.web.pages import PageRoute, checked_form, redirect, render

router = APIRouter(prefix="/steward", route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict[str, str], Depends(checked_form)]

DONE = {"accept": "Link accepted", "reject": "Link rejected"}
LEVEL_TEXT = {"agrees": "Agrees", "differs": "Differs", "blank": "Blank: not compared"}


def bits(value: float) -> str:
    return "no other candidate" if not math.isfinite(value) else f"{value:.1f} bits"


def _page(request: Request, viewer, runtime, *, done: str | None = None, errors=None, values=None,
          status_code: int = 200) -> Response:
    review = linkage_review.next_pair(runtime.database, viewer, runtime.settings.review_queue_path)
    return render(request, "steward/review.html", status_code=status_code, title="Linkage review",
                  error_title=bool(errors), review=review, pair=review.pair, done=DONE.get(done or ""),
                  errors=errors or {}, values=values or {}, level_text=LEVEL_TEXT, bits=bits,
                  note_limit=linkage_review.NOTE_LIMIT)


@router.get("", response_class=HTMLResponse)
def review_page(request: Request, viewer: PageViewer, runtime: RuntimeDep, done: str | None = None) -> Response:
    return _page(request, viewer, runtime, done=done)


@router.post("/decisions")
def record_decision(request: Request, viewer: PageViewer, runtime: RuntimeDep, form: Form) -> Response:
    decision = form.get("decision", "")
    note = (form.get("note") or "").strip()
    try:
        linkage_review.decide(runtime.database, viewer, runtime.settings.review_queue_path,
                              partner_record=form.get("partner_record", ""), person=form.get("person", ""),
                              decision=decision, note=note or None)
    except Invalid as problem:
        field = "note" if "note" in problem.detail else "decision"
        message = ("Choose whether these are the same person" if field == "decision"
                   else f"The note must be {linkage_review.NOTE_LIMIT} characters or fewer")
        return _page(request, viewer, runtime, errors={field: message},
                     values={"decision": decision, "note": note}, status_code=400)
    return redirect(f"/steward?done={decision}#main-content")
