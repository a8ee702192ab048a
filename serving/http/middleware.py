"""The request's plain-ASGI middleware: request id, size limits, security headers, metrics and
the access log — no per-request task or body copy.

It also answers an error nothing else handled: Starlette's own last resort sits outside every
middleware, so its 500 would carry neither the security headers nor the request id. And it
limits the body's size here, as a problem like any other error (FastAPI's own limit answers
plain text from outside every middleware).

The access log line carries the route *template*, never the raw path, which holds the
council's person id.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.http import logs
from serving.http.errors import problem, unexpected_error
from serving.http.headers import security_headers
from serving.infra import metrics

access_log = logging.getLogger("signpost.access")
log = logging.getLogger("signpost.api")

MAX_PATH = 512
MAX_QUERY = 2048
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
# Request ids made here: random per process, then counted (unique without a syscall each)
_PROCESS_ID = secrets.token_hex(8)
_REQUEST_COUNT = itertools.count(1)


class RequestContext:
    """Request id, size limits, security headers, metrics and the access log, in plain ASGI.

    `max_body_bytes`: a larger body is answered 413 — at once when `Content-Length` says so, else
    as soon as the bytes received pass it (the route's body reading ends in the 413 problem).
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.too_large = f"the request body is larger than {max_body_bytes} bytes (SIGNPOST_MAX_BODY_BYTES)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = _request_id(scope)
        token = logs.request_id.set(rid)
        status = 500
        started_response = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = security_headers(scope["path"], scope.get("scheme", "http"))
                headers.extend(h for h in wanted if h[0] not in present)
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        limit = self.max_body_bytes
        declared = _content_length(scope) if limit is not None else None
        try:
            if len(scope.get("raw_path") or b"") > MAX_PATH or len(scope.get("query_string", b"")) > MAX_QUERY:
                response = problem(
                    414, f"the path or query string is too long (limits {MAX_PATH} and {MAX_QUERY} bytes)", "too_long")
                await response(scope, receive, send_wrapper)
            elif declared is not None and declared > limit:
                await problem(413, self.too_large, "too_large")(scope, receive, send_wrapper)
            elif limit is not None and declared is None:  # no Content-Length: count what arrives
                await self.app(scope, self._within_limit(receive, limit), send_wrapper)
            else:  # the server holds the body to its Content-Length
                await self.app(scope, receive, send_wrapper)
        except Exception as error:
            log.error("unhandled error", exc_info=error)
            if started_response:
                raise  # part of an answer is sent: the connection is closed instead
            await unexpected_error()(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            template = _route_template(scope)
            metrics.REQUESTS.labels(template, scope["method"], str(status)).inc()
            metrics.LATENCY.labels(template).observe(elapsed)
            state = scope.get("state") or {}
            viewer = state.get("viewer")
            access_log.info(
                "request",
                extra={
                    "method": scope["method"], "route": template, "status": status,
                    "ms": round(elapsed * 1000, 2),
                    "role": viewer.role.value if viewer else None,
                    "actor": viewer.subject if viewer else None,
                },
            )
            logs.request_id.reset(token)

    def _within_limit(self, receive: Receive, limit: int) -> Receive:
        """`receive`, raising the 413 once the body's bytes pass `limit`."""
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, self.too_large)
            return message

        return receive_within_limit


def _route_template(scope: Scope) -> str:
    """The matched route's full template (with the /v1 prefix), never the raw path."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(context, "path_format", None)
    if template:
        return template
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _REQUEST_ID.match(candidate):
                return candidate
            break
    return f"{_PROCESS_ID}-{next(_REQUEST_COUNT):x}"
