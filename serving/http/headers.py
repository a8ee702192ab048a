"""Security headers on every response, and a strict Content-Security-Policy.

The pages, and the API documentation at `/docs` and `/redoc` (Swagger UI and Redoc vendored
into `/static/vendor/`, started by scripts in `/static/docs/`), load scripts and styles only
from this server's own `/static/` (no inline script or style, no CDN), so the policy can be
`'self'` everywhere and `'none'` for the rest. Images may also be `data:` URLs (Swagger UI's
icons). Redoc writes its styles into `<style>` elements: its page alone adds a nonce made for
that response (`content_security_policy(style_nonce=...)`).
"""

from __future__ import annotations


def content_security_policy(*, style_nonce: str | None = None) -> str:
    """The one policy; `style_nonce` also allows `<style>` elements carrying that nonce."""
    styles = "style-src 'self'" + (f" 'nonce-{style_nonce}'" if style_nonce else "")
    return CONTENT_SECURITY_POLICY.replace("style-src 'self'", styles)


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)

#: Pages send the referrer only to this site: with `no-referrer` (right for the API) a browser
#: sends `Origin: null` on form posts, which would defeat the pages' same-origin check.
PAGE_REFERRER = (b"referrer-policy", b"same-origin")
API_REFERRER = (b"referrer-policy", b"no-referrer")

NO_STORE = (b"cache-control", b"no-store")


def security_headers(path: str, scheme: str) -> tuple[tuple[bytes, bytes], ...]:
    """The headers every response to `path` carries unless it set them itself.

    Computed once per kind of path (API or page) and scheme: the request's middleware
    (`serving.http.middleware.RequestContext`) adds them to each response without re-building them.
    """
    return _HEADERS[(path.startswith("/v1/"), scheme == "https")]


def _headers(api: bool, https: bool) -> tuple[tuple[bytes, bytes], ...]:
    wanted = [*COMMON, API_REFERRER if api else PAGE_REFERRER]
    if api:
        wanted.append(NO_STORE)  # personal data: never kept by a browser or proxy
    wanted.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
    if https:
        wanted.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return tuple(wanted)


_HEADERS = {(api, https): _headers(api, https) for api in (False, True) for https in (False, True)}
