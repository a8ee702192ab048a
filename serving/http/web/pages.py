"""Rendering pages: the Jinja2 environment, the CSRF cookie, and HTML answers to refusals.

Page routes use `PageRoute`, so a refusal, a missing sign-in or a domain error raised by the
same domain functions the API calls becomes a GOV.UK-styled page with the reason (and the
right status code) instead of the API's JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from serving.domain.access import Refused
from serving.domain.auth import AuthError, Role, Viewer
from serving.domain.errors import ServiceError
from serving.http.deps import SignInNeeded
from serving.http.errors import record_refusal
from serving.http.web import csrf
from serving.infra.limits import RateLimited

templates = Jinja2Templates(directory=str(files("serving") / "templates"))
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def home_for(viewer: Viewer | None) -> str:
    """Where a role starts: the portal, the workspace or the models."""
    if viewer is None:
        return "/"
    return {Role.citizen: "/portal", Role.caseworker: "/workspace", Role.data_steward: "/steward"}.get(
        viewer.role, "/analyst")


def area_name(viewer: Viewer | None) -> str:
    if viewer is None:
        return "Signpost"
    return {Role.citizen: "Resident portal", Role.caseworker: "Caseworker workspace",
            Role.data_steward: "Linkage review"}.get(viewer.role, "Model registry")


#: The consent page's one name: menu, heading, title and every link to it say this.
CONSENT_PAGE = "Your choices about your data"


def navigation(viewer: Viewer | None) -> list[dict[str, str]]:
    """The service navigation for a role: only the areas that role may open."""
    if viewer is None:
        return [{"text": "Sign in", "href": "/sign-in"}]
    if viewer.role is Role.citizen:
        return [
            {"text": "Services for you", "href": "/portal"},
            {"text": "Find a service", "href": "/portal/services", "prefix": "/portal/services/"},
            {"text": "Saved services", "href": "/portal/saved"},
            {"text": CONSENT_PAGE, "href": "/portal/consent"},
            {"text": "Your data", "href": "/portal/data"},
        ]
    if viewer.role is Role.caseworker:
        return [{"text": "Your caseload", "href": "/workspace", "prefix": "/workspace/"}]
    if viewer.role is Role.data_steward:
        return [{"text": "Linkage review", "href": "/steward", "prefix": "/steward/"}]
    return [{"text": "Model versions", "href": "/analyst", "prefix": "/analyst/"}]


def long_date(value: object) -> str:
    """GOV.UK style dates: 5 May 2026."""
    from datetime import date, datetime

    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.date()
    return f"{value.day} {value:%B %Y}" if isinstance(value, date) else str(value)


def sentence_case(text: object) -> str:
    """The first letter upper case, the rest as written (Jinja's `capitalize` lowercases names)."""
    text = str(text)
    return text[:1].upper() + text[1:]


templates.env.filters["long_date"] = long_date
templates.env.filters["sentence"] = sentence_case
templates.env.globals.update(home_for=home_for, area_name=area_name, navigation=navigation,
                             consent_page=CONSENT_PAGE)

#: Personal pages must not be kept by the browser or any cache along the way.
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def csrf_cookie_value(request: Request) -> str:
    """The browser's CSRF cookie, or a new one that `render` will set."""
    value = request.cookies.get(csrf.COOKIE)
    if not value or len(value) > 128:
        value = getattr(request.state, "new_csrf_cookie", None) or csrf.new_cookie_value()
        request.state.new_csrf_cookie = value
    return value


def csrf_key(request: Request) -> bytes:
    return request.app.state.web_csrf_key


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page with the signed-in viewer, navigation and a CSRF token for its forms."""
    token = csrf.token_for(csrf_key(request), csrf_cookie_value(request))
    context.setdefault("viewer", getattr(request.state, "page_viewer", None))
    runtime = getattr(request.app.state, "runtime", None)
    context.setdefault("settings", getattr(runtime, "settings", None))
    response = templates.TemplateResponse(
        request, template, {"csrf_token": token, "csrf_field": csrf.FIELD, **context},
        status_code=status_code, headers=NO_STORE,
    )
    set_csrf_cookie(request, response)
    return response


def set_csrf_cookie(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf_cookie", None)
    if new:
        response.set_cookie(
            csrf.COOKIE, new, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
        )


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a POST the browser GETs the next page (no resubmission on reload)."""
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"/sign-in?next={quote(target, safe='')}")


class PageRoute(APIRoute):
    """An APIRoute whose refusals and domain errors are answered as HTML pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                return sign_in_redirect(request)
            except AuthError:
                return sign_in_redirect(request)
            except Refused as refusal:
                await record_refusal(request, refusal)  # the API's own counting, logging and audit
                return render(request, "error.html", status_code=403, title="You cannot see this page",
                              reason=_sentence(refusal.reason))
            except RateLimited as limited:
                response = render(request, "error.html", status_code=429, title="Too many requests",
                                  reason=_sentence(limited.reason))
                response.headers["retry-after"] = str(limited.retry_after)
                return response
            except ServiceError as error:
                return error_page(request, error.status, _sentence(error.detail))

        return page_handler


def _sentence(text: str) -> str:
    """Domain messages are lower-case clauses; a page shows them as sentences."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


_TITLES = {
    403: "Your form could not be sent",
    400: "Sorry, there is a problem with that request",
    404: "Page not found",
    405: "Sorry, there is a problem with that request",
    410: "This record has been erased",
    422: "Sorry, there is a problem with that request",
    503: "Sorry, the service is unavailable",
}


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API, not a static file): errors come back as HTML."""
    return not request.url.path.startswith(("/v1/", "/static/")) and "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, reason: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status,
                  title=_TITLES.get(status, "Sorry, there is a problem"), reason=reason)


class FormRejected(ServiceError):
    """A POST without a valid CSRF token, or from another site (answered 403)."""

    status, code = 403, "csrf"


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form's text fields, after the CSRF and same-origin checks."""
    origin = request.headers.get("origin")
    # "null" is what a browser sends when it withholds the origin; the token below still decides.
    if origin not in (None, "null") and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise FormRejected("the form was sent from another website, so it was not accepted")
    form = await request.form(max_files=0, max_fields=50, max_part_size=16_384)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if not csrf.valid(csrf_key(request), request.cookies.get(csrf.COOKIE), fields.get(csrf.FIELD)):
        raise FormRejected(
            "the form had expired or was not sent from this service: go back, reload the page and try again"
        )
    return fields
