"""The API's documentation pages: Swagger UI at `/docs` and Redoc at `/redoc`, from the copies
vendored into `/static/vendor/` and started by scripts in `/static/docs/` — no CDN, no inline
script, the same Content-Security-Policy as every page (Redoc's `<style>` elements carry a nonce
made for the response)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from serving.http.headers import content_security_policy

router = APIRouter(include_in_schema=False)

OPENAPI_URL = "/openapi.json"

SWAGGER_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Signpost API — Swagger UI</title>
<link rel="icon" href="/static/img/signpost.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{OPENAPI_URL}"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/docs/swagger-init.js"></script>
</body>
</html>
"""

REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Signpost API — Redoc</title>
<link rel="icon" href="/static/img/signpost.svg" type="image/svg+xml">
</head>
<body>
<div id="redoc" data-openapi-url="{openapi_url}" data-nonce="{nonce}"></div>
<script src="/static/docs/redoc-nonce.js"></script>
<script src="/static/vendor/redoc/redoc.standalone.js"></script>
<script src="/static/docs/redoc-init.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui() -> HTMLResponse:
    return HTMLResponse(SWAGGER_PAGE)


@router.get("/redoc", response_class=HTMLResponse)
def redoc() -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    return HTMLResponse(REDOC_PAGE.format(openapi_url=OPENAPI_URL, nonce=nonce),
                        headers={"Content-Security-Policy": content_security_policy(style_nonce=nonce)})
