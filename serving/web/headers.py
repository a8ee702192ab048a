"""Security headers on every response, and a strict Content-Security-Policy.

The pages load scripts and styles only from this server's own `/static/` (no inline script or
style, no CDN), so the policy can be `'self'` everywhere and `'none'` for the rest. The only
exception is FastAPI's interactive API docs, which bring their own inline bootstrap script:
they get the same headers without the CSP, and carry no personal data.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
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

#: Paths whose HTML needs inline script (FastAPI's Swagger UI / ReDoc pages).
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """Pure ASGI middleware (no body buffering): adds headers the response has not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        wanted = list(COMMON)
        is_api = path.startswith("/v1/")
        replace = {} if is_api else {PAGE_REFERRER[0]: PAGE_REFERRER[1]}
        wanted.append(API_REFERRER if is_api else PAGE_REFERRER)
        if not path.startswith(DOCS_PATHS):
            wanted.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
        if scope.get("scheme") == "https":
            wanted.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(n, replace.get(n.lower(), v)) for n, v in message.get("headers", [])]
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in wanted if name not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
