"""Start page, sign-in (the council's identity provider, and development sign-in), sign-out,
and the two short public pages.

Signing in through the council's OpenID Connect provider (when `SIGNPOST_OIDC_ISSUER` is set):
`/sign-in/council` sends the browser to the provider (authorization code with PKCE and a
nonce, `serving/infra/oidc.py`), remembering state, nonce and verifier in a signed cookie that
lives ten minutes and is sent only to `/auth/callback`; the callback checks it, lets the
provider's ID token be verified, and issues the same session cookie as development sign-in,
so every page and limit after it is the same.
"""

from __future__ import annotations

import time
from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from serving.domain import personas, revocations
from serving.domain.auth import AuthError, Role, Viewer, issue, signing_key
from serving.domain.errors import NotFound
from serving.http.deps import SESSION_COOKIE, OptionalViewer, RuntimeDep
from serving.http.web.pages import PageRoute, checked_form, home_for, redirect, render
from serving.infra.oidc import OpenIdProvider, PendingSignIn, ProviderUnavailable, TokenRefused

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


#: The signed cookie that remembers a sign-in in progress (state, nonce, PKCE verifier, next page).
PENDING_COOKIE = "signpost_sign_in"
PENDING_SECONDS = 600
CALLBACK_PATH = "/auth/callback"


def _development_allowed(request: Request) -> bool:
    """Only where `serving.http.app.create_app` found the listening address safe for it."""
    return bool(request.app.state.development_sign_in)


def _development_only(request: Request) -> None:
    if not _development_allowed(request):
        raise NotFound("development sign-in is switched off here: sign in through the council's identity service")


def _identity_provider(runtime) -> OpenIdProvider:
    provider = runtime.tokens.provider
    if provider is None or runtime.settings.oidc_client_id is None:
        raise NotFound("sign-in through the council's identity service is not set up here")
    return provider


def _pending_signer(runtime) -> URLSafeTimedSerializer:
    """Signs the pending sign-in with a key of its own, derived (by salt) from the JWT signing key."""
    return URLSafeTimedSerializer(signing_key(runtime.settings), salt="signpost council sign-in v1")


def _start_session(request: Request, runtime, response: Response, *, role: Role, subject: str,
                   minutes: int) -> Response:
    """The session cookie every page reads: Signpost's own token for this person, HttpOnly."""
    settings = runtime.settings
    token = issue(signing_key(settings), role=role, subject=subject, minutes=minutes)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=60 * minutes, httponly=True, samesite="lax",
        secure=request.url.scheme == "https" or settings.environment == "production", path="/",
    )
    return response


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
    council = runtime.tokens.provider is not None and runtime.settings.oidc_client_id is not None
    if not council:
        _development_only(request)
    return render(request, "sign_in.html", title="Sign in", council=council, next=_safe_next(next) or "",
                  personas=_personas(request, runtime) if _development_allowed(request) else [])


@router.get("/sign-in/council")
def council_sign_in(request: Request, runtime: RuntimeDep, next: str | None = None) -> Response:
    """Send the browser to the council's identity provider; remember what it must bring back."""
    provider = _identity_provider(runtime)
    try:
        pending = provider.start_sign_in(str(request.url_for("council_sign_in_callback")))
    except ProviderUnavailable:
        return render(request, "error.html", status_code=503, title="Sign-in is not available right now",
                      reason="The council's sign-in service cannot be reached. Try again in a few minutes.")
    remembered = {"state": pending.state, "nonce": pending.nonce, "verifier": pending.code_verifier,
                  "redirect_uri": pending.redirect_uri, "next": _safe_next(next) or ""}
    response = redirect(pending.url)
    response.set_cookie(
        PENDING_COOKIE, _pending_signer(runtime).dumps(remembered), max_age=PENDING_SECONDS, httponly=True,
        samesite="lax", secure=request.url.scheme == "https" or runtime.settings.environment == "production",
        path=CALLBACK_PATH,
    )
    return response


@router.get(CALLBACK_PATH, name="council_sign_in_callback")
def council_sign_in_callback(request: Request, runtime: RuntimeDep) -> Response:
    """The provider's redirect back: check it against the pending sign-in, then start a session."""
    provider = _identity_provider(runtime)
    try:
        remembered = _pending_signer(runtime).loads(request.cookies.get(PENDING_COOKIE, ""), max_age=PENDING_SECONDS)
        pending = PendingSignIn(url="", state=remembered["state"], nonce=remembered["nonce"],
                                code_verifier=remembered["verifier"], redirect_uri=remembered["redirect_uri"])
        signed_in = provider.finish_sign_in(dict(request.query_params), pending)
        role = Role(signed_in.role)
        if role is Role.partner:
            raise TokenRefused("partner systems use the API with their own credentials, not the pages")
    except (BadSignature, KeyError, TypeError):
        return _sign_in_failed(request, "The sign-in took too long or was started in another browser.")
    except TokenRefused as refused:
        return _sign_in_failed(request, f"The council's sign-in service did not sign you in: {refused.reason}.")
    except ProviderUnavailable:
        return render(request, "error.html", status_code=503, title="Sign-in is not available right now",
                      reason="The council's sign-in service cannot be reached. Try again in a few minutes.")
    minutes = max(1, min(runtime.settings.jwt_lifetime_minutes, (signed_in.expires_at - int(time.time())) // 60))
    response = redirect(_safe_next(remembered.get("next")) or home_for(Viewer(role, signed_in.subject)))
    response.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH)
    return _start_session(request, runtime, response, role=role, subject=signed_in.subject, minutes=minutes)


def _sign_in_failed(request: Request, reason: str) -> Response:
    response = render(request, "error.html", status_code=400, title="You are not signed in", reason=reason)
    response.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH)
    return response


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, runtime: RuntimeDep, form: Form) -> Response:
    _development_only(request)
    people = {p.key: p for p in _personas(request, runtime)}
    persona = people.get(form.get("persona", ""))
    if persona is None:
        return render(request, "sign_in.html", status_code=400, title="Sign in", error_title=True,
                      personas=list(people.values()), next=_safe_next(form.get("next")) or "",
                      error="Select who you want to sign in as")
    response = redirect(_safe_next(form.get("next")) or home_for_role(persona))
    return _start_session(request, runtime, response, role=persona.role, subject=persona.subject,
                          minutes=runtime.settings.jwt_lifetime_minutes)


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
