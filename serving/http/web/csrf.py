"""CSRF protection for the pages' forms: a signed double-submit token.

Every browser gets a random `signpost_csrf` cookie (HttpOnly, SameSite=Strict); each form
carries `csrf_token = HMAC-SHA256(key, "csrf:" + cookie)`. A forged cross-site POST can make the
browser send the cookie (SameSite aside) but cannot read it, so it cannot compute the token;
an attacker who plants their own cookie cannot sign it without the key. The key is derived
from the service's JWT signing key, so there is nothing extra to configure. The JSON API is
not affected: it reads bearer tokens from the Authorization header, never cookies.

Twenty lines of stdlib were preferred over a dependency: the libraries on offer either need
sessions or wrap the same HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

COOKIE = "signpost_csrf"
FIELD = "csrf_token"


def derive_key(signing_key: str) -> bytes:
    """A key for CSRF tokens only, so a token can never double as anything else."""
    return hmac.new(signing_key.encode(), b"signpost web csrf v1", hashlib.sha256).digest()


def new_cookie_value() -> str:
    return secrets.token_urlsafe(32)


def token_for(key: bytes, cookie_value: str) -> str:
    """Base64url, 43 characters: never mistaken for a 64-hex pseudonym on a page."""
    digest = hmac.new(key, b"csrf:" + cookie_value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def valid(key: bytes, cookie_value: str | None, submitted: str | None) -> bool:
    """Whether the submitted form token matches the browser's cookie (constant time)."""
    if not cookie_value or not submitted or len(cookie_value) > 128 or len(submitted) != 43:
        return False
    return hmac.compare_digest(token_for(key, cookie_value), submitted)
