"""Start page, development sign-in and sign-out, and the two short public pages."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from serving.domain import personas, revocations
from serving.domain.auth import AuthError, Viewer, issue, signing_key
from serving.domain.errors import NotFound
from serving.http.deps import SESSION_COOKIE, OptionalViewer, RuntimeDep
from serving.http.web.pages import PageRoute, checked_form, home_for, redirect, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict[str, str], Depends(checked_form)]


def _personas(request: Request, runtime) -> list[personas.Persona]:
    """The demo people, chosen once per process (the build does not change while serving)."""
    chosen = getattr(request.app.state, "web_personas", None)
    if chosen is None:
        with runtime.database.reading() as session:
            chosen = personas.choose(runtime.require_processed(), session, runtime.today())
        request.app.state.web_personas = chosen
    return chosen


def _development_only(request: Request) -> None:
    """Only where `serving.http.app.create_app` found the listening address safe for it."""
    if not request.app.state.development_sign_in:
        raise NotFound("development sign-in is switched off here: sign in through the council's identity service")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, host or protocol-relative `//`): no open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/", response_class=HTMLResponse)
def start(request: Request, viewer: OptionalViewer) -> Response:
    return render(request, "home.html", title="Hampshire Signpost")


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, runtime: RuntimeDep, viewer: OptionalViewer, next: str | None = None) -> Response:
    _development_only(request)
    return render(request, "sign_in.html", title="Sign in", personas=_personas(request, runtime),
                  next=_safe_next(next) or "")


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, runtime: RuntimeDep, form: Form) -> Response:
    _development_only(request)
    people = {p.key: p for p in _personas(request, runtime)}
    persona = people.get(form.get("persona", ""))
    if persona is None:
        return render(request, "sign_in.html", status_code=400, title="Sign in", error_title=True,
                      personas=list(people.values()), next=_safe_next(form.get("next")) or "",
                      error="Select who you want to sign in as")
    settings = runtime.settings
    token = issue(signing_key(settings), role=persona.role, subject=persona.subject,
                  minutes=settings.jwt_lifetime_minutes)
    response = redirect(_safe_next(form.get("next")) or home_for_role(persona))
    response.set_cookie(
        SESSION_COOKIE, token, max_age=60 * settings.jwt_lifetime_minutes, httponly=True, samesite="lax",
        secure=request.url.scheme == "https" or settings.environment == "production", path="/",
    )
    return response


def home_for_role(persona: personas.Persona) -> str:
    return home_for(Viewer(persona.role, persona.subject))


@router.post("/sign-out")
def sign_out(request: Request, runtime: RuntimeDep, form: Form) -> Response:
    """Revoke the session's token (a copied cookie stops working too), then forget the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with suppress(AuthError):  # expired, forged or already revoked: nothing left to revoke
            revocations.sign_out(runtime.revocations, runtime.tokens.read(token))
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/about-your-data", response_class=HTMLResponse)
def about_your_data(request: Request, viewer: OptionalViewer) -> Response:
    return render(request, "about_your_data.html", title="How Signpost uses data")


@router.get("/accessibility", response_class=HTMLResponse)
def accessibility(request: Request, viewer: OptionalViewer) -> Response:
    return render(request, "accessibility.html", title="Accessibility statement")
