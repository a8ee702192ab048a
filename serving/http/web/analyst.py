"""The analyst view: registered model versions, their metrics, plots and model cards.

Aggregates only — these pages read the model registry, and early help's disagreement and
override rates from caseworkers' decisions (groups, small cells suppressed; no person or household). An admin can also
promote a challenger here, through the same gates as `signpost promote` (serving/domain/promotion.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markdown_it import MarkdownIt

from serving.domain import early_help, promotion
from serving.domain.access import Action, Refused
from serving.domain.auth import Role
from serving.domain.model_reports import KINDS, ModelReports
from serving.http.deps import PageViewer, ProcessedDep, RuntimeDep
from serving.http.web.pages import PageRoute, checked_form, render

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


def render_markdown(text: str) -> str:
    """A document training wrote (model card, transparency record) as HTML, raw HTML not rendered."""
    return _markdown.render(text)


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


def _monitoring(viewer, runtime, processed) -> dict:
    """Early-help decision rates for the analyst pages (aggregates, small cells suppressed)."""
    k = runtime.settings.research_k_anonymity
    return {"monitoring": early_help.decision_rates_for(runtime.database, viewer, processed, k=k), "monitoring_k": k}


@router.get("", response_class=HTMLResponse)
def overview(request: Request, viewer: PageViewer, runtime: RuntimeDep, processed: ProcessedDep) -> Response:
    _staff_only(viewer)
    models = _reports(request).overview()
    return render(request, "analyst/overview.html", title="Model versions", models=models,
                  is_admin=viewer.role is Role.admin, **_monitoring(viewer, runtime, processed))


@router.get("/models/{slug}/{version}", response_class=HTMLResponse)
def version_page(request: Request, slug: str, version: str, viewer: PageViewer, runtime: RuntimeDep,
                 processed: ProcessedDep) -> Response:
    _staff_only(viewer)
    detail = _reports(request).detail(slug, version)
    documents = {name: render_markdown(text) for name, text in detail.documents.items()}
    return render(request, "analyst/version.html", title=f"{detail.title} version {detail.summary.version}",
                  detail=detail, documents=documents, figure_text=figure_text,
                  is_admin=viewer.role is Role.admin, **_monitoring(viewer, runtime, processed))


@router.get("/models/{slug}/{version}/figures/{file}")
def figure(request: Request, slug: str, version: str, file: str, viewer: PageViewer) -> Response:
    _staff_only(viewer)
    data = _reports(request).figure(slug, version, file)
    return Response(data, media_type="image/png", headers={"cache-control": "private, max-age=3600"})


@router.post("/models/{slug}/promote", response_class=HTMLResponse)
def promote(request: Request, slug: str, viewer: PageViewer, runtime: RuntimeDep, form: Form) -> Response:
    outcome = promotion.promote(runtime.database, runtime.store, viewer, slug, form.get("version", ""),
                                settings=runtime.settings)
    return render(request, "analyst/promotion.html", status_code=200 if outcome.promoted else 409,
                  title="Promotion " + ("done" if outcome.promoted else "refused"), outcome=outcome,
                  model_title=KINDS[slug][1])
