"""Bearer tokens: issued and read back; forged, expired and malformed ones refused."""

from __future__ import annotations

import os
import time

import jwt
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from serving.domain.auth import AUDIENCE, ISSUER, AuthError, Role, TokenReader, issue, signing_key
from signpost.errors import UserError
from signpost.settings import Settings

KEY = "k" * 64


@pytest.mark.parametrize("role", list(Role))
def test_round_trip(role):
    token = issue(KEY, role=role, subject="S-1", minutes=5)
    viewer = TokenReader(KEY).read(token)
    assert viewer.role is role and viewer.subject == "S-1" and viewer.token_id


def test_wrong_key_is_refused():
    token = issue("x" * 64, role="admin", subject="A", minutes=5)
    with pytest.raises(AuthError, match="not valid"):
        TokenReader(KEY).read(token)


def test_expired_is_refused():
    now = int(time.time())
    token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "A", "role": "admin", "iat": now - 100,
                        "exp": now - 10}, KEY, algorithm="HS256")
    with pytest.raises(AuthError, match="expired"):
        TokenReader(KEY).read(token)


@pytest.mark.parametrize("claims", [
    {"aud": "someone-else"}, {"iss": "someone-else"}, {"role": "superuser"}, {"sub": None},
])
def test_bad_claims_are_refused(claims):
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "A", "role": "admin", "iat": now, "exp": now + 60}
    base.update(claims)
    base = {k: v for k, v in base.items() if v is not None}
    with pytest.raises(AuthError):
        TokenReader(KEY).read(jwt.encode(base, KEY, algorithm="HS256"))


def test_unsigned_token_is_refused():
    now = int(time.time())
    token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "A", "role": "admin", "iat": now,
                        "exp": now + 60}, None, algorithm="none")
    with pytest.raises(AuthError):
        TokenReader(KEY).read(token)


@hsettings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_garbage_never_passes_and_never_crashes(garbage):
    with pytest.raises(AuthError):
        TokenReader(KEY).read(garbage)


def test_cached_token_still_expires():
    reader = TokenReader(KEY)
    now = int(time.time())
    token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "A", "role": "admin", "iat": now, "exp": now + 1},
                       KEY, algorithm="HS256")
    assert reader.read(token).subject == "A"
    time.sleep(1.1)
    with pytest.raises(AuthError):
        reader.read(token)


def test_key_file_is_created_private_and_reused(tmp_path):
    settings = Settings(jwt_signing_key_file=tmp_path / "keys" / "jwt.key")
    first = signing_key(settings)
    assert len(first) >= 32
    assert os.stat(settings.jwt_signing_key_file).st_mode & 0o777 == 0o600
    assert signing_key(settings) == first


def test_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "jwt.key"
    path.write_text("z" * 64)
    path.chmod(0o644)
    with pytest.raises(UserError, match="chmod 600"):
        signing_key(Settings(jwt_signing_key_file=path))


def test_configured_key_wins(tmp_path):
    settings = Settings(jwt_signing_key="c" * 40, jwt_signing_key_file=tmp_path / "absent.key")
    assert signing_key(settings) == "c" * 40
    assert not (tmp_path / "absent.key").exists()
