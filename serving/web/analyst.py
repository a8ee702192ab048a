"""The analyst view: registered model versions, their metrics, plots and model cards.

Aggregates only — these pages read the model registry and nothing else. An admin can also
promote a challenger here, through the same gates as `signpost promote` (see promotion.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markdown_it import MarkdownIt
from starlette.concurrency import run_in_threadpool

from serving import audit
from serving.access import Action, Refused
from serving.api.deps import RuntimeDep
from serving.auth import Role
from serving.errors import NotFound
from serving.web import promotion
from serving.web.deps import PageViewer
from serving.web.model_reports import KINDS, ModelReports
from serving.web.pages import PageRoute, checked_form, render

router = APIRouter(prefix="/analyst", route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict[str, str], Depends(checked_form)]

#: Model cards are Markdown written by training; raw HTML in them is not rendered.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

FIGURE_TEXT = {
    "reliability": "Calibration: predicted probability against the observed rate of early-help outcomes",
    "roc": "ROC curve: true-positive rate against false-positive rate",
    "pr": "Precision against recall, with caseworker capacity marked",
    "metrics_vs_k": "Hold-out ranking metrics against list length k, one line per model",
    "per_group_recall": "Recall@10 by group (age band, sex, ethnicity, disability, deprivation, area)",
}


def figure_text(file: str) -> str:
    stem = file.removesuffix(".png")
    if stem in FIGURE_TEXT:
        return FIGURE_TEXT[stem]
    if stem.startswith("groups_calibration_"):
        return f"Fairness: calibration by {stem.removeprefix('groups_calibration_').replace('_', ' ')}"
    if stem.startswith("groups_"):
        return f"Fairness: true- and false-positive rates by {stem.removeprefix('groups_').replace('_', ' ')}"
    return stem.replace("_", " ").capitalize()


def _staff_only(viewer) -> None:
    if viewer.role not in (Role.analyst, Role.admin):
        raise Refused("the model pages are for analysts and administrators", action=Action.models, code="role")


def _reports(request: Request) -> ModelReports:
    return request.app.state.web_reports


@router.get("", response_class=HTMLResponse)
def overview(request: Request, viewer: PageViewer) -> Response:
    _staff_only(viewer)
    models = _reports(request).overview()
    return render(request, "analyst/overview.html", title="Model versions", models=models,
                  is_admin=viewer.role is Role.admin)


@router.get("/models/{slug}/{version}", response_class=HTMLResponse)
def version_page(request: Request, slug: str, version: str, viewer: PageViewer) -> Response:
    _staff_only(viewer)
    detail = _reports(request).detail(slug, version)
    documents = {name: _markdown.render(text) for name, text in detail.documents.items()}
    return render(request, "analyst/version.html", title=f"{detail.title} version {detail.summary.version}",
                  detail=detail, documents=documents, figure_text=figure_text,
                  is_admin=viewer.role is Role.admin)


@router.get("/models/{slug}/{version}/figures/{file}")
def figure(request: Request, slug: str, version: str, file: str, viewer: PageViewer) -> Response:
    _staff_only(viewer)
    data = _reports(request).figure(slug, version, file)
    return Response(data, media_type="image/png", headers={"cache-control": "private, max-age=3600"})


@router.post("/models/{slug}/promote", response_class=HTMLResponse)
async def promote(request: Request, slug: str, viewer: PageViewer, runtime: RuntimeDep, form: Form) -> Response:
    if viewer.role is not Role.admin:
        raise Refused("only an administrator may promote a model", action=Action.models, code="role")
    if slug not in KINDS:
        raise NotFound(f"there is no model called {slug!r}")
    version = form.get("version", "")
    code, output = await run_in_threadpool(promotion.run_gates, slug)
    after = await run_in_threadpool(_reports(request).champion, slug)
    outcome = promotion.PromotionOutcome(slug, version, promoted=code == 0 and after == version,
                                         champion_after=after, output=output)

    def record() -> None:
        with runtime.database.write_session() as session:
            audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="model.promote",
                         subject=None, detail={"model": slug, "version": version, "promoted": outcome.promoted,
                                               "champion": after})

    await run_in_threadpool(record)
    if outcome.promoted:
        await run_in_threadpool(runtime.store.refresh)  # this worker serves the new champion at once; others within a poll
    return render(request, "analyst/promotion.html", status_code=200 if outcome.promoted else 409,
                  title="Promotion " + ("done" if outcome.promoted else "refused"), outcome=outcome,
                  model_title=KINDS[slug][1])
