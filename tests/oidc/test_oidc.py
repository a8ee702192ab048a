"""Tokens from a real OpenID provider (npm's oidc-provider on loopback) are verified and mapped.

Every refusal a forger could aim for is tried against the real provider's keys: another key,
another audience, an expired token, `none`, HS256, a key of the wrong type, a bad issuer.
"""

from __future__ import annotations

import base64
import json
import re
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from features.pseudonym import pseudonymise
from serving.infra.oidc import (
    OpenIdProvider,
    PendingSignIn,
    ProviderUnavailable,
    SignedIn,
    TokenRefused,
)
from signpost.settings import Settings
from tests.oidc.local_provider import (
    API,
    API_ES256,
    API_HS256,
    API_SHORT_LIVED,
    AUDIENCE,
    GROUP_ROLES,
    OTHER_API,
    LocalProvider,
)

PSEUDONYM_KEY = "oidc-test-pseudonym-key-not-secret"


def settings_for(provider: LocalProvider, tmp_path, **overrides) -> Settings:
    values = {
        "oidc_issuer": provider.issuer,
        "oidc_audience": AUDIENCE,
        "oidc_group_roles": GROUP_ROLES,
        "oidc_client_id": "signpost-web",
        "oidc_client_secret": provider.web_secret,
        "oidc_scopes": ("openid", "signpost"),
        "oidc_leeway_seconds": 0,
        "pseudonym_key": PSEUDONYM_KEY,
        "data_dir": tmp_path,
    }
    return Settings(**(values | overrides))


@pytest.fixture
def idp(oidc_provider: LocalProvider, tmp_path) -> OpenIdProvider:
    verifier = OpenIdProvider(settings_for(oidc_provider, tmp_path))
    yield verifier
    verifier.close()


def refusal(verify, token: str) -> str:
    with pytest.raises(TokenRefused) as refused:
        verify(token)
    return refused.value.reason


def parts(token: str) -> tuple[dict, dict]:
    header, claims, _ = token.split(".")
    return json.loads(_unpadded(header)), json.loads(_unpadded(claims))


def _unpadded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ------------------------------------------------------------------ partner tokens ------


def test_a_partners_client_credentials_token_signs_in_the_partner_source(oidc_provider, idp) -> None:
    token = oidc_provider.client_credentials_token("police", API)
    assert parts(token)[0]["alg"] == "RS256"
    signed_in = idp.verify_access_token(token)
    assert (signed_in.role, signed_in.subject) == ("partner", "police")
    assert time.time() < signed_in.expires_at <= time.time() + 601
    assert signed_in.token_id  # the provider's jti, for revocation and audit


def test_es256_tokens_verify_too(oidc_provider, idp) -> None:
    token = oidc_provider.client_credentials_token("schools", API_ES256)
    assert parts(token)[0]["alg"] == "ES256"
    claims = parts(token)[1]
    assert idp.verify_access_token(token) == SignedIn("partner", "schools", claims["exp"], claims["jti"],
                                                      float(claims["iat"]))


def test_a_token_for_another_audience_is_refused(oidc_provider, idp) -> None:
    token = oidc_provider.client_credentials_token("police", OTHER_API)
    assert refusal(idp.verify_access_token, token) == "the token is meant for another audience"


def test_an_expired_token_is_refused(oidc_provider, idp) -> None:
    token = oidc_provider.client_credentials_token("police", API_SHORT_LIVED)
    claims = parts(token)[1]
    assert claims["exp"] - claims["iat"] == 1
    time.sleep(max(0.0, claims["exp"] - time.time()) + 1.1)
    assert refusal(idp.verify_access_token, token) == "the token has expired: sign in again"


def test_a_token_signed_by_another_key_is_refused(oidc_provider, idp) -> None:
    genuine = oidc_provider.client_credentials_token("police", API)
    header, claims = parts(genuine)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # The provider's own key id: the signature is checked against the provider's key and fails.
    forged = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": header["kid"], "typ": header["typ"]})
    assert refusal(idp.verify_access_token, forged) == (
        "the token's signature does not match the identity provider's key")
    # A key id the provider does not publish.
    unknown = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": "forger-1"})
    assert refusal(idp.verify_access_token, unknown) == (
        "the token names a signing key the identity provider does not publish")


def test_a_token_whose_algorithm_does_not_fit_its_key_is_refused(oidc_provider, idp) -> None:
    es256_kid = parts(oidc_provider.client_credentials_token("police", API_ES256))[0]["kid"]
    _, claims = parts(oidc_provider.client_credentials_token("police", API))
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": es256_kid})
    assert refusal(idp.verify_access_token, token) == "the token says RS256 but its key is for ES256"


def test_alg_none_and_hs256_are_refused_before_any_key_is_looked_at(oidc_provider, idp) -> None:
    _, claims = parts(oidc_provider.client_credentials_token("police", API))
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert refusal(idp.verify_access_token, unsigned) == "the token is signed with 'none'; only RS256, ES256 are accepted"
    # The provider itself can be made to sign with a shared secret; Signpost still refuses.
    hs256 = oidc_provider.client_credentials_token("police", API_HS256)
    assert parts(hs256)[0]["alg"] == "HS256"
    assert refusal(idp.verify_access_token, hs256) == (
        "the token is signed with 'HS256'; only RS256, ES256 are accepted")
    # The classic confusion: HS256 keyed with the provider's public key, which anyone can fetch.
    public_jwk = httpx.get(idp.metadata.jwks_uri).json()["keys"][0]
    public_pem = jwt.PyJWK(public_jwk).key.public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    confused = jwt.encode(claims, base64.b64encode(public_pem).decode(), algorithm="HS256",
                          headers={"kid": public_jwk["kid"]})
    assert refusal(idp.verify_access_token, confused).startswith("the token is signed with 'HS256'")


def test_an_algorithm_allow_list_of_one_refuses_the_other(oidc_provider, tmp_path) -> None:
    only_rs256 = OpenIdProvider(settings_for(oidc_provider, tmp_path, oidc_algorithms=("RS256",)))
    token = oidc_provider.client_credentials_token("police", API_ES256)
    assert refusal(only_rs256.verify_access_token, token) == "the token is signed with 'ES256'; only RS256 are accepted"


def test_symmetric_algorithms_cannot_be_configured(oidc_provider, tmp_path) -> None:
    with pytest.raises(ValueError, match="oidc_algorithms"):
        settings_for(oidc_provider, tmp_path, oidc_algorithms=("HS256",))


def test_a_partner_source_outside_the_sharing_policy_is_refused(oidc_provider, tmp_path) -> None:
    policy = Settings().sharing_policy
    without_schools = {source: purposes for source, purposes in policy.items() if source != "schools"}
    verifier = OpenIdProvider(settings_for(oidc_provider, tmp_path, sharing_policy=without_schools))
    token = oidc_provider.client_credentials_token("schools", API)
    assert refusal(verifier.verify_access_token, token) == (
        "the partner token's subject 'schools' is not a source in SIGNPOST_SHARING_POLICY")


def test_a_discovery_document_for_another_issuer_is_refused(oidc_provider, tmp_path) -> None:
    verifier = OpenIdProvider(settings_for(oidc_provider, tmp_path, oidc_issuer=oidc_provider.issuer + "/"))
    with pytest.raises(ProviderUnavailable, match="names issuer"):
        verifier.verify_access_token(oidc_provider.client_credentials_token("police", API))


def test_an_unreachable_provider_is_unavailable_not_a_crash(tmp_path) -> None:
    settings = Settings(oidc_issuer="http://127.0.0.1:9", oidc_audience=AUDIENCE, data_dir=tmp_path)
    with pytest.raises(ProviderUnavailable, match="discovery document"):
        OpenIdProvider(settings).verify_access_token("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")  # {"alg":"RS256"}.{}


# ------------------------------------------------------------- authorization code ------


def sign_in_through_the_provider(pending: PendingSignIn, login: str) -> dict[str, str]:
    """Drive the provider's development login and consent pages as a browser would."""
    with httpx.Client(timeout=10) as browser:
        response = browser.get(pending.url)
        for _ in range(10):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(pending.redirect_uri):
                    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
                response = browser.get(location)
                continue
            action = urljoin(str(response.url), re.search(r'<form[^>]*action="([^"]+)"', response.text)[1])
            if 'name="login"' in response.text:
                response = browser.post(action, data={"prompt": "login", "login": login, "password": "any"})
            else:
                response = browser.post(action, data={"prompt": "consent"})
        raise AssertionError(f"the sign-in never came back to {pending.redirect_uri}")


def test_a_caseworker_signs_in_by_authorization_code(oidc_provider, idp) -> None:
    pending = idp.start_sign_in(oidc_provider.redirect_uri)
    callback = sign_in_through_the_provider(pending, "caseworker-1")
    signed_in = idp.finish_sign_in(callback, pending)
    assert (signed_in.role, signed_in.subject) == ("caseworker", "cw-001")
    # A code is good once.
    with pytest.raises(TokenRefused, match=r"would not exchange the code \(invalid_grant\)"):
        idp.finish_sign_in(callback, pending)


def test_a_citizen_signs_in_under_their_pseudonym_never_their_reference(oidc_provider, idp) -> None:
    pending = idp.start_sign_in(oidc_provider.redirect_uri)
    signed_in = idp.finish_sign_in(sign_in_through_the_provider(pending, "citizen-1"), pending)
    assert signed_in.role == "citizen"
    assert signed_in.subject == pseudonymise(["P000001"], PSEUDONYM_KEY.encode(), "person")[0]
    assert "P000001" not in repr(signed_in)


def test_es256_id_tokens_sign_in_too(oidc_provider, tmp_path) -> None:
    verifier = OpenIdProvider(settings_for(oidc_provider, tmp_path, oidc_client_id="signpost-web-es256"))
    pending = verifier.start_sign_in(oidc_provider.redirect_uri)
    signed_in = verifier.finish_sign_in(sign_in_through_the_provider(pending, "analyst-1"), pending)
    assert (signed_in.role, signed_in.subject) == ("analyst", "an-001")


def test_a_callback_with_another_state_is_refused_before_the_code_is_used(oidc_provider, idp) -> None:
    pending = idp.start_sign_in(oidc_provider.redirect_uri)
    callback = sign_in_through_the_provider(pending, "caseworker-1")
    with pytest.raises(TokenRefused, match="state does not match"):
        idp.finish_sign_in(callback | {"state": "attacker"}, pending)
    assert idp.finish_sign_in(callback, pending).subject == "cw-001"  # the code was not spent


def test_an_id_token_from_another_sign_in_is_refused_by_its_nonce(oidc_provider, idp) -> None:
    first, second = idp.start_sign_in(oidc_provider.redirect_uri), idp.start_sign_in(oidc_provider.redirect_uri)
    callback = sign_in_through_the_provider(first, "caseworker-1")
    stolen = PendingSignIn(first.url, first.state, second.nonce, first.code_verifier, first.redirect_uri)
    with pytest.raises(TokenRefused, match="nonce"):
        idp.finish_sign_in(callback, stolen)


def test_a_provider_error_on_the_callback_is_refused(oidc_provider, idp) -> None:
    pending = idp.start_sign_in(oidc_provider.redirect_uri)
    with pytest.raises(TokenRefused, match=r"refused the sign-in \(access_denied\)"):
        idp.finish_sign_in({"error": "access_denied", "state": pending.state}, pending)
    # What the redirect carries is anyone's text: it is not repeated into messages and logs.
    with pytest.raises(TokenRefused, match=r"refused the sign-in \(unknown\)$"):
        idp.finish_sign_in({"error": "x\n<script>alert(1)</script>", "state": pending.state}, pending)


# ------------------------------------------------------------------- claim mapping ------


@pytest.fixture(scope="module")
def mapper(tmp_path_factory) -> OpenIdProvider:
    """Claim mapping needs no provider: it reads claims that were already verified."""
    settings = Settings(oidc_issuer="https://idp.example", oidc_group_roles=GROUP_ROLES,
                        pseudonym_key=PSEUDONYM_KEY, data_dir=tmp_path_factory.mktemp("mapper"))
    return OpenIdProvider(settings)


@given(groups=st.lists(st.sampled_from([*GROUP_ROLES, "all-staff", "signpost-unknown"]), max_size=4))
def test_a_token_signs_in_only_when_its_groups_name_exactly_one_role(mapper, groups) -> None:
    claims = {"sub": "police", "exp": 2_000_000_000, "groups": groups, "staff_id": "cw-9",
              "council_reference": "P000009"}
    roles = {GROUP_ROLES[group] for group in groups if group in GROUP_ROLES}
    if len(roles) == 1:
        assert mapper.signed_in(claims).role == roles.pop()
    else:
        with pytest.raises(TokenRefused, match="no(ne of the token's groups is mapped)?|more than one role"):
            mapper.signed_in(claims)


def test_staff_without_a_staff_id_and_citizens_without_a_reference_are_refused(mapper) -> None:
    with pytest.raises(TokenRefused, match="the caseworker's token has no staff_id claim"):
        mapper.signed_in({"sub": "x", "exp": 1, "groups": "signpost-caseworkers"})
    with pytest.raises(TokenRefused, match="the citizen's token has no council_reference claim"):
        mapper.signed_in({"sub": "x", "exp": 1, "groups": ["signpost-citizens"]})
    with pytest.raises(TokenRefused, match="neither a string nor a list"):
        mapper.signed_in({"sub": "x", "exp": 1, "groups": {"signpost-citizens": True}})


def test_an_es256_key_of_our_own_is_never_trusted(oidc_provider, idp) -> None:
    _, claims = parts(oidc_provider.client_credentials_token("police", API_ES256))
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                        headers={"kid": parts(oidc_provider.client_credentials_token("police", API_ES256))[0]["kid"]})
    assert refusal(idp.verify_access_token, forged) == (
        "the token's signature does not match the identity provider's key")
