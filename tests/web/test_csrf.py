"""The CSRF token scheme on its own: no server or browser needed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from serving.http.web import csrf

KEY = csrf.derive_key("a-signing-key-for-tests-only-0123456789")


@given(st.text(min_size=1, max_size=100))
def test_a_token_is_valid_only_for_its_own_cookie(cookie):
    token = csrf.token_for(KEY, cookie)
    assert csrf.valid(KEY, cookie, token)
    assert not csrf.valid(KEY, cookie + "x", token)
    assert not csrf.valid(csrf.derive_key("another-key-0123456789-0123456789"), cookie, token)


def test_missing_or_malformed_values_are_refused():
    cookie = csrf.new_cookie_value()
    token = csrf.token_for(KEY, cookie)
    assert len(token) == 43 and len(set(token) - set("0123456789abcdef")) > 0  # never a 64-hex pseudonym
    for submitted in (None, "", token[:-1], token + "A", "0" * 64):
        assert not csrf.valid(KEY, cookie, submitted)
    assert not csrf.valid(KEY, None, token)
    assert not csrf.valid(KEY, "x" * 200, csrf.token_for(KEY, "x" * 200))


def test_cookie_values_are_fresh():
    assert len({csrf.new_cookie_value() for _ in range(1000)}) == 1000
