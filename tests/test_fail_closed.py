"""A careless deployment fails closed: loopback-only demo sign-in, long keys, no staff tokens.

The CLI cases run the real command in-process (typer's CliRunner) with the environment a
deployment would set.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from signpost.cli import app
from signpost.settings import MIN_SIGNING_KEY_BYTES, Settings, get_settings

runner = CliRunner()
LONG_KEY = "k" * MIN_SIGNING_KEY_BYTES
PRODUCTION = {
    "SIGNPOST_ENVIRONMENT": "production",
    "SIGNPOST_PSEUDONYM_KEY": "production-pseudonym-key-for-the-tests",
    "SIGNPOST_JWT_SIGNING_KEY": LONG_KEY,
    "SIGNPOST_DATABASE_URL": "postgresql+psycopg://signpost@127.0.0.1:5432/signpost",
}


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def one_line(output: str) -> str:
    return " ".join(output.split())


# ------------------------------------------------------------- development sign-in ------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_development_sign_in_is_allowed_on_loopback_without_an_environment(host, tmp_path) -> None:
    assert Settings(environment="local", data_dir=tmp_path).development_sign_in_allowed(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.20", "10.0.0.5", "signpost.council.example",
                                  "::ffff:10.0.0.1", "localhost.attacker.example"])
def test_development_sign_in_is_refused_wherever_others_can_reach(host, tmp_path) -> None:
    assert not Settings(environment="local", data_dir=tmp_path).development_sign_in_allowed(host)


@given(st.ip_addresses())
def test_only_loopback_addresses_allow_development_sign_in(address) -> None:
    settings = Settings(environment="local", data_dir="data")
    assert settings.development_sign_in_allowed(str(address)) == address.is_loopback
    assert not Settings(environment="production", **_production_fields()).development_sign_in_allowed(str(address))


def _production_fields() -> dict[str, str]:
    return {"pseudonym_key": "p" * 40, "jwt_signing_key": LONG_KEY, "database_url": PRODUCTION["SIGNPOST_DATABASE_URL"]}


def test_production_never_allows_development_sign_in() -> None:
    production = Settings(environment="production", **_production_fields())
    assert not production.development_sign_in_allowed("127.0.0.1")


# ------------------------------------------------------------------ signing keys ------


@pytest.mark.parametrize("length", [0, 5, MIN_SIGNING_KEY_BYTES - 1])
def test_production_refuses_a_short_signing_key(length) -> None:
    fields = _production_fields() | {"jwt_signing_key": "x" * length}
    with pytest.raises(ValidationError, match=f"SIGNPOST_JWT_SIGNING_KEY is {length} bytes; production needs at least 32"):
        Settings(environment="production", **fields)


def test_key_length_is_counted_in_bytes_not_characters() -> None:
    eleven_characters_33_bytes = "€" * 11
    Settings(environment="production", **(_production_fields() | {"jwt_signing_key": eleven_characters_33_bytes}))
    with pytest.raises(ValidationError, match="30 bytes"):
        Settings(environment="production", **(_production_fields() | {"jwt_signing_key": "€" * 10}))


def test_the_command_line_says_in_one_line_what_to_do_about_a_short_key() -> None:
    result = runner.invoke(app, ["token", "--role", "citizen", "--subject", "P000001"],
                           env=PRODUCTION | {"SIGNPOST_JWT_SIGNING_KEY": "abcde"})
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: settings: SIGNPOST_JWT_SIGNING_KEY is 5 bytes; production needs at least 32")
    assert "secrets.token_hex(32)" in lines[0]
    assert "Traceback" not in result.output


def test_a_short_key_file_is_refused_too(tmp_path) -> None:
    key_file = tmp_path / "jwt.key"
    key_file.write_text("short")
    key_file.chmod(0o600)
    result = runner.invoke(app, ["token", "--role", "analyst", "--subject", "an-1"],
                           env={"SIGNPOST_ENVIRONMENT": "local", "SIGNPOST_JWT_SIGNING_KEY_FILE": str(key_file),
                                "SIGNPOST_JWT_SIGNING_KEY": None})
    assert result.exit_code == 2
    assert "holds a key shorter than 32 characters" in one_line(result.output)


def test_production_needs_an_https_identity_provider() -> None:
    with pytest.raises(ValidationError, match="SIGNPOST_OIDC_ISSUER to be an https:// URL"):
        Settings(environment="production", oidc_issuer="http://idp.example", **_production_fields())


# ----------------------------------------------------------------- signpost token ------


@pytest.mark.parametrize("role", ["caseworker", "analyst", "admin"])
def test_production_refuses_to_mint_staff_and_admin_tokens(role) -> None:
    result = runner.invoke(app, ["token", "--role", role, "--subject", "someone"], env=PRODUCTION)
    assert result.exit_code == 2
    assert f"production refuses to mint {role} tokens from the command line" in one_line(result.output)
    assert "eyJ" not in result.output  # no token was printed


def test_production_still_mints_a_citizens_token_and_local_mints_staff_ones(tmp_path) -> None:
    citizen = runner.invoke(app, ["token", "--role", "citizen", "--subject", "P000001"], env=PRODUCTION)
    assert citizen.exit_code == 0, citizen.output
    assert citizen.output.startswith("eyJ")
    get_settings.cache_clear()
    local = runner.invoke(app, ["token", "--role", "admin", "--subject", "ad-1"],
                          env={"SIGNPOST_ENVIRONMENT": "local", "SIGNPOST_JWT_SIGNING_KEY": LONG_KEY})
    assert local.exit_code == 0, local.output
    assert local.output.startswith("eyJ")


def test_a_mistyped_environment_is_named_in_one_line() -> None:
    result = runner.invoke(app, ["token", "--role", "citizen", "--subject", "P000001"],
                           env={"SIGNPOST_ENVIRONMENT": "prod"})
    assert result.exit_code == 2
    assert result.output.strip() == "error: settings: SIGNPOST_ENVIRONMENT: Input should be 'local' or 'production'"
