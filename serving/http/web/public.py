"""Pages a council publishes for anyone, signed in or not: the privacy notice and the public
transparency record of each model in use (the accessibility statement is in `signin`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from serving.http.deps import OptionalViewer, RuntimeDep
from serving.http.web.analyst import render_markdown
from serving.http.web.citizen import SOURCES, WORDING
from serving.http.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: Each purpose's lawful basis, in plain English first and the legal reference after.
LAWFUL_BASES = {
    "personalisation": ("Your consent. We only do this if you say yes, and you can withdraw at any time.",
                        "UK GDPR Article 6(1)(a); for health-related services, Article 9(2)(a)"),
    "early_intervention": (("Our public duty to support children and families. You can object, and an objection "
                            "covers your household."),
                           ("UK GDPR Article 6(1)(e); Article 9(2)(g) with the Data Protection Act 2018, "
                            "Schedule 1; Children Act 1989 and 2004")),
    "research": (("Our public duty to plan services, with safeguards: only anonymous counts of at least 10 people "
                  "leave Signpost. You can ask to be left out."),
                 "UK GDPR Article 6(1)(e); Article 9(2)(j) and Article 89"),
}


@router.get("/privacy", response_class=HTMLResponse)
def privacy_notice(request: Request, viewer: OptionalViewer, runtime: RuntimeDep) -> Response:
    settings = runtime.settings
    policy = [(SOURCES.get(source, source), [WORDING[p]["title"] for p in purposes])
              for source, purposes in settings.sharing_policy.items()]
    return render(request, "privacy.html", title="Privacy notice", policy=policy, wording=WORDING,
                  bases=LAWFUL_BASES, retention_days=settings.served_retention_days)


@router.get("/transparency", response_class=HTMLResponse)
def transparency(request: Request, viewer: OptionalViewer) -> Response:
    records = request.app.state.web_reports.in_use()
    return render(request, "transparency.html", title="How the models work", records=records,
                  rendered={r.slug: render_markdown(r.text) for r in records if r.text})
