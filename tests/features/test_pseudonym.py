"""Pseudonyms: keyed, deterministic, namespaced, never the raw id; the key stays secret."""

from __future__ import annotations

import hmac
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.pseudonym import key_id, load_key, pseudonymise
from signpost.errors import UserError
from signpost.settings import Settings

ids = st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=20)
keys = st.binary(min_size=1, max_size=64)


@given(ids=ids, key=keys)
def test_deterministic_under_one_key(ids, key):
    assert pseudonymise(ids, key, "person") == pseudonymise(list(ids), key, "person")


@given(ids=ids, key=keys, other=keys)
def test_different_under_another_key(ids, key, other):
    if key == other:
        return
    first, second = pseudonymise(ids, key, "person"), pseudonymise(ids, other, "person")
    assert all(a != b for a, b in zip(first, second, strict=True))


@given(ids=ids, key=keys)
def test_never_the_input_and_always_64_hex(ids, key):
    for raw, pseudonym in zip(ids, pseudonymise(ids, key, "household"), strict=True):
        assert pseudonym != raw
        assert len(raw) < 8 or raw not in pseudonym
        assert len(pseudonym) == 64 and set(pseudonym) <= set("0123456789abcdef")


@given(ids=ids, key=keys)
def test_person_and_household_namespaces_differ(ids, key):
    people, households = pseudonymise(ids, key, "person"), pseudonymise(ids, key, "household")
    assert not set(people) & set(households)


@settings(max_examples=30)
@given(ids=st.lists(st.text(min_size=1, max_size=10), min_size=2, max_size=30, unique=True), key=keys)
def test_distinct_ids_get_distinct_pseudonyms(ids, key):
    assert len(set(pseudonymise(ids, key, "person"))) == len(ids)


@given(ids=ids, key=st.binary(min_size=1, max_size=200))
def test_is_hmac_sha256_of_kind_and_id(ids, key):
    expected = [hmac.new(key, f"household:{i}".encode(), "sha256").hexdigest() for i in ids]
    assert pseudonymise(ids, key, "household") == expected


def test_rejects_unknown_kind_and_empty_key():
    with pytest.raises(ValueError):
        pseudonymise(["P1"], b"k", "citizen")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        pseudonymise(["P1"], b"", "person")


def test_key_id_identifies_without_revealing():
    assert key_id(b"secret-one") == key_id(b"secret-one")
    assert key_id(b"secret-one") != key_id(b"secret-two")
    assert len(key_id(b"secret-one")) == 16 and "secret" not in key_id(b"secret-one")


def test_key_from_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNPOST_PSEUDONYM_KEY", "from-env")
    settings_ = Settings(pseudonym_key_file=tmp_path / "k")
    assert load_key(settings_) == b"from-env"
    assert not (tmp_path / "k").exists()


def test_key_file_is_created_0600_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("SIGNPOST_PSEUDONYM_KEY", raising=False)
    path = tmp_path / "keys" / ".pseudonym.key"
    settings_ = Settings(pseudonym_key=None, pseudonym_key_file=path)
    first = load_key(settings_)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64
    assert load_key(settings_) == first


def test_key_file_readable_by_others_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("SIGNPOST_PSEUDONYM_KEY", raising=False)
    path = tmp_path / ".pseudonym.key"
    path.write_text("abc\n")
    path.chmod(0o644)
    with pytest.raises(UserError, match="chmod 600"):
        load_key(Settings(pseudonym_key=None, pseudonym_key_file=path))


def test_missing_key_file_without_create_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("SIGNPOST_PSEUDONYM_KEY", raising=False)
    with pytest.raises(UserError, match="SIGNPOST_PSEUDONYM_KEY"):
        load_key(Settings(pseudonym_key=None, pseudonym_key_file=tmp_path / "none"), create=False)
