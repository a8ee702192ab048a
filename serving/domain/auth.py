"""OAuth2 bearer tokens with five roles: Signpost's own (JWT, HS256, the locally generated
signing key) and, when `SIGNPOST_OIDC_ISSUER` is set, the council identity provider's (RS256/ES256,
verified by serving/infra/oidc.py: partners' client-credentials tokens, people's access tokens).

A citizen's token carries their person pseudonym as `sub`, never the council's raw id; staff
tokens carry the staff id (caseworker ids match `caseloads.parquet`). Tokens are decoded
once and cached until they expire, so a busy portal pays for the signature check once.
A revoked token (signed out, or its subject cut off by an admin; see serving/domain/revocations.py) is
refused after the cache too: the check is two in-memory look-ups, never a database query.
"""

from __future__ import annotations

import math
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jwt

from serving.infra.oidc import OpenIdProvider, ProviderUnavailable, TokenRefused
from signpost.errors import UserError
from signpost.roles import Role
from signpost.settings import Settings

ISSUER = "signpost"
AUDIENCE = "signpost-api"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a role and a subject (pseudonym for a citizen, staff id otherwise)."""

    role: Role
    subject: str
    token_id: str = ""
    issued_at: float = 0.0  # the token's `iat` (seconds since the epoch, to the millisecond)
    expires_at: int = 0  # the token's `exp`


class AuthError(Exception):
    """A missing, malformed, expired, forged or revoked token (answered 401)."""


REVOKED = "the token was revoked: sign in again"


class Revoked(Protocol):
    """What a reader asks about each good token: whether it was revoked (in memory, no I/O)."""

    def refuses(self, viewer: Viewer) -> bool: ...


def signing_key(settings: Settings) -> str:
    """The configured key, else the key file, created (0600) with a fresh random key if absent."""
    if settings.jwt_signing_key is not None:
        return settings.jwt_signing_key.get_secret_value()
    return _key_file(settings.jwt_signing_key_file)


def _key_file(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    if path.stat().st_mode & 0o077:
        raise UserError(f"{path} is readable by other users; run `chmod 600 {path}`")
    key = path.read_text().strip()
    if len(key) < 32:
        raise UserError(f"{path} holds a key shorter than 32 characters; delete it to make a new one")
    return key


def issue(key: str, *, role: Role | str, subject: str, minutes: int) -> str:
    """A signed token for `subject` in `role`, valid for `minutes`.

    `iat` keeps milliseconds, so a token issued just after an admin's cut-off of its subject
    (serving/domain/revocations.py) is told apart from the ones issued before it.
    """
    now = time.time()
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "role": Role(role).value,
        "iat": math.floor(now * 1000) / 1000,
        "exp": int(now) + 60 * minutes,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


class TokenReader:
    """Verifies bearer tokens with one key, remembering good ones until they expire.

    `revoked` (optional) is asked about every token, cached or not, before it is accepted.
    """

    def __init__(self, key: str, cache_size: int = 50_000, *, revoked: Revoked | None = None,
                 provider: OpenIdProvider | None = None) -> None:
        self._key = key
        self._cache: dict[str, Viewer] = {}
        self._cache_size = cache_size
        self.revoked = revoked
        self.provider = provider

    def read(self, token: str) -> Viewer:
        viewer = self._cache.get(token)
        if viewer is None or time.time() >= viewer.expires_at:
            if viewer is not None:
                self._cache.pop(token, None)
            viewer = self._decode(token)
        if self.revoked is not None and self.revoked.refuses(viewer):
            raise AuthError(REVOKED)
        return viewer

    def _decode(self, token: str) -> Viewer:
        if self.provider is not None and _algorithm(token) != ALGORITHM:
            viewer = self._from_provider(token)
        else:
            viewer = self._own(token)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[token] = viewer
        return viewer

    def _from_provider(self, token: str) -> Viewer:
        """A token the council's identity provider signed (partners' client credentials, apps)."""
        assert self.provider is not None
        try:
            signed = self.provider.verify_access_token(token)
        except TokenRefused as refused:
            raise AuthError(f"the identity provider's token was refused: {refused.reason}") from None
        except ProviderUnavailable:
            raise AuthError("the identity provider cannot be reached to check this token; try again shortly") from None
        return Viewer(Role(signed.role), signed.subject, signed.token_id, signed.issued_at, signed.expires_at)

    def _own(self, token: str) -> Viewer:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "role", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired: ask for a new one") from None
        except jwt.InvalidTokenError as error:
            raise AuthError(f"the token is not valid ({_reason(error)})") from None
        try:
            return Viewer(Role(claims["role"]), str(claims["sub"]), str(claims.get("jti", "")),
                          float(claims["iat"]), int(claims["exp"]))
        except ValueError:
            raise AuthError("the token names an unknown role") from None


def _algorithm(token: str) -> str | None:
    try:
        return jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError:
        return None


def _reason(error: Exception) -> str:
    # pyjwt's messages never include the token or key; keep them short and generic.
    return type(error).__name__.replace("Error", "").lower() or "invalid"


def issue_for(settings: Settings, *, role: Role | str, subject: str, minutes: int | None = None) -> str:
    """A development token; a citizen's subject (their council id) becomes their pseudonym here,
    a partner's subject must be a source of the data-sharing policy (the source it posts under)."""
    role = Role(role)
    if role is Role.partner and subject not in settings.sharing_policy:
        raise UserError(f"a partner token's subject is its source, one of {', '.join(sorted(settings.sharing_policy))}; "
                        f"{subject!r} is not in SIGNPOST_SHARING_POLICY")
    if role is Role.citizen:
        from features.pseudonym import load_key, pseudonymise

        subject = pseudonymise([subject], load_key(settings, create=False), "person")[0]
    return issue(signing_key(settings), role=role, subject=subject,
                 minutes=minutes if minutes is not None else settings.jwt_lifetime_minutes)
