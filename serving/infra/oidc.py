"""Sign-in through the council's OpenID Connect provider: discovery, keys, token checks.

Signpost trusts a token from the provider only after checking everything a forger could
choose: the signature against the provider's published keys (discovery's `jwks_uri`, cached
and re-fetched when an unknown key id appears, so key rotation needs no restart), the issuer,
the audience, expiry and not-before, and the algorithm. Only the asymmetric algorithms in
`SIGNPOST_OIDC_ALGORITHMS` are accepted: `none` and HS* never, since an HS* token could be
signed with anything the provider publishes.

What a token says is mapped to one of Signpost's roles by configuration, not code: the
provider's groups (`SIGNPOST_OIDC_ROLE_CLAIM`, mapped by `SIGNPOST_OIDC_GROUP_ROLES`), a
member of staff's id (`SIGNPOST_OIDC_STAFF_ID_CLAIM`) and a citizen's council reference
(`SIGNPOST_OIDC_CITIZEN_REFERENCE_CLAIM`), which is pseudonymised here, as soon as it is read,
so it never travels further. A partner system's client-credentials token names the partner
source as its subject (`police`, `schools`, …).

Staff sign in by the authorization-code flow: `start_sign_in` gives the URL to send the
browser to and what to remember until it returns (state, nonce, PKCE verifier);
`finish_sign_in` checks the state, exchanges the code for an ID token and verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from features.pseudonym import load_key, pseudonymiser
from signpost.settings import Settings

#: Roles a provider's group may map to (the partner role is for partner systems' tokens).
STAFF_ROLES = ("caseworker", "analyst", "admin", "data_steward")


class TokenRefused(Exception):
    """A token or sign-in Signpost will not accept; `reason` says why, without the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(Exception):
    """The identity provider could not be asked (discovery, keys or the token endpoint)."""


@dataclass(frozen=True)
class SignedIn:
    """Who a verified token signs in, in Signpost's terms.

    `subject` is what the rest of Signpost calls this viewer: a member of staff's id, a
    citizen's person pseudonym (never their council reference) or a partner's source name.
    """

    role: str
    subject: str
    expires_at: int  # the token's `exp`, seconds since the epoch
    token_id: str = ""  # the token's `jti`, when it has one
    issued_at: float = 0.0  # the token's `iat` (a cut-off of the subject refuses tokens issued before it)


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the provider's discovery document Signpost uses."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str
    token_endpoint: str


@dataclass(frozen=True)
class PendingSignIn:
    """What to remember (in a signed cookie) between sending the browser off and its return."""

    url: str  # where to send the browser
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str


def discover(issuer: str, http: httpx.Client) -> ProviderMetadata:
    """Read `issuer`'s discovery document; refuse one that names a different issuer."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = http.get(url)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ProviderUnavailable(f"could not read the identity provider's discovery document at {url}: "
                                  f"{type(error).__name__}") from None
    if document.get("issuer") != issuer:
        # OpenID Connect Discovery 1.0 section 4.3: the issuer must match exactly.
        raise ProviderUnavailable(
            f"the discovery document at {url} names issuer {document.get('issuer')!r}, "
            f"not {issuer!r}: set SIGNPOST_OIDC_ISSUER to the provider's exact issuer"
        )
    try:
        return ProviderMetadata(issuer, document["jwks_uri"], document["authorization_endpoint"],
                                document["token_endpoint"])
    except KeyError as missing:
        raise ProviderUnavailable(f"the discovery document at {url} has no {missing.args[0]}") from None


class OpenIdProvider:
    """The council's identity provider as Signpost sees it: one per app, safe across threads.

    Discovery happens on first use, not at construction, so the service starts even while
    the provider is briefly unreachable; tokens are refused (ProviderUnavailable) meanwhile.
    """

    def __init__(self, settings: Settings, *, http: httpx.Client | None = None) -> None:
        if settings.oidc_issuer is None:
            raise ValueError("SIGNPOST_OIDC_ISSUER is not set: sign-in through an identity provider is off")
        self.settings = settings
        self.issuer = settings.oidc_issuer
        self._http = http or httpx.Client(timeout=5.0)
        self._metadata: ProviderMetadata | None = None
        self._keys: jwt.PyJWKClient | None = None
        self._pseudonymise: Callable[[str], str] | None = None

    @property
    def metadata(self) -> ProviderMetadata:
        if self._metadata is None:
            self._metadata = discover(self.issuer, self._http)
        return self._metadata

    @property
    def keys(self) -> jwt.PyJWKClient:
        """The provider's published signing keys, cached for SIGNPOST_OIDC_JWKS_CACHE_SECONDS."""
        if self._keys is None:
            self._keys = jwt.PyJWKClient(self.metadata.jwks_uri, lifespan=self.settings.oidc_jwks_cache_seconds,
                                         timeout=5)
        return self._keys

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ tokens ----------

    def verify_access_token(self, token: str) -> SignedIn:
        """A bearer token sent to Signpost's API (a partner's, or a person's from an app)."""
        if self.settings.oidc_audience is None:
            raise TokenRefused("SIGNPOST_OIDC_AUDIENCE is not set, so no access token from the provider is accepted")
        return self.signed_in(self.verified_claims(token, audience=self.settings.oidc_audience))

    def verify_id_token(self, token: str, *, nonce: str) -> SignedIn:
        """An ID token from the authorization-code flow, for Signpost's own client."""
        client_id = self._client_id()
        claims = self.verified_claims(token, audience=client_id)
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise TokenRefused("the ID token's nonce is not the one this sign-in sent (a replayed token?)")
        if "azp" in claims and claims["azp"] != client_id:
            raise TokenRefused("the ID token was issued to another client (azp)")
        return self.signed_in(claims)

    def verified_claims(self, token: str, *, audience: str) -> dict[str, Any]:
        """The token's claims once signature, issuer, audience, time and algorithm all hold."""
        allowed = list(self.settings.oidc_algorithms)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRefused("the token is not a signed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in allowed:
            shown = repr(algorithm)[:20]  # the header is the sender's text: never echo much of it
            raise TokenRefused(f"the token is signed with {shown}; only {', '.join(allowed)} are accepted")
        try:
            key = self.keys.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise ProviderUnavailable("could not fetch the identity provider's signing keys") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError):
            raise TokenRefused("the token names a signing key the identity provider does not publish") from None
        if key.algorithm_name != algorithm:
            raise TokenRefused(f"the token says {algorithm} but its key is for {key.algorithm_name}")
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=audience,
                issuer=self.issuer,
                leeway=self.settings.oidc_leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as error:
            raise TokenRefused(_reason(error)) from None

    def signed_in(self, claims: Mapping[str, Any]) -> SignedIn:
        """Map verified claims to a role and Signpost's subject, as configured."""
        settings = self.settings
        role = self._role(claims)
        if role == "partner":
            subject = str(claims["sub"])
            if subject not in settings.sharing_policy:
                raise TokenRefused(f"the partner token's subject {subject!r} is not a source in "
                                   "SIGNPOST_SHARING_POLICY")
        elif role == "citizen":
            reference = claims.get(settings.oidc_citizen_reference_claim)
            if not isinstance(reference, str) or not reference:
                raise TokenRefused(f"the citizen's token has no {settings.oidc_citizen_reference_claim} claim")
            subject = self._person_pseudonym(reference)
        else:
            staff_id = claims.get(settings.oidc_staff_id_claim)
            if not isinstance(staff_id, str) or not staff_id:
                raise TokenRefused(f"the {role}'s token has no {settings.oidc_staff_id_claim} claim")
            subject = staff_id
        return SignedIn(role, subject, int(claims["exp"]), str(claims.get("jti", "")),
                        float(claims.get("iat", 0)))

    def _role(self, claims: Mapping[str, Any]) -> str:
        name = self.settings.oidc_role_claim
        groups = claims.get(name, [])
        groups = [groups] if isinstance(groups, str) else groups
        if not isinstance(groups, list):
            raise TokenRefused(f"the token's {name} claim is neither a string nor a list")
        mapping = self.settings.oidc_group_roles
        roles = sorted({mapping[group] for group in groups if isinstance(group, str) and group in mapping})
        if not roles:
            raise TokenRefused(f"none of the token's {name} is mapped to a Signpost role (SIGNPOST_OIDC_GROUP_ROLES)")
        if len(roles) > 1:
            raise TokenRefused(f"the token's {name} map to more than one role ({', '.join(roles)}); "
                               "the provider must put each person in one Signpost group")
        return roles[0]

    def _person_pseudonym(self, reference: str) -> str:
        if self._pseudonymise is None:
            self._pseudonymise = pseudonymiser(load_key(self.settings, create=False), "person")
        return self._pseudonymise(reference)

    # ------------------------------------------------------------ authorization code ----

    def start_sign_in(self, redirect_uri: str) -> PendingSignIn:
        """Where to send a person's browser to sign in, and what to keep until it returns."""
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({
            "response_type": "code",
            "client_id": self._client_id(),
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.settings.oidc_scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        })
        return PendingSignIn(f"{self.metadata.authorization_endpoint}?{query}", state, nonce, verifier, redirect_uri)

    def finish_sign_in(self, callback: Mapping[str, str], pending: PendingSignIn) -> SignedIn:
        """The redirect's query (`code`, `state` or `error`) → the signed-in person.

        Checks the state against the pending sign-in, exchanges the code at the token
        endpoint (client secret, PKCE verifier) and verifies the ID token it returns.
        """
        if "error" in callback:
            raise TokenRefused(f"the identity provider refused the sign-in ({_error_code(callback['error'])})")
        if not hmac.compare_digest(callback.get("state", ""), pending.state):
            raise TokenRefused("the sign-in's state does not match: start signing in again")
        if not callback.get("code"):
            raise TokenRefused("the identity provider returned no code")
        secret = self.settings.oidc_client_secret
        try:
            response = self._http.post(
                self.metadata.token_endpoint,
                data={"grant_type": "authorization_code", "code": callback["code"],
                      "redirect_uri": pending.redirect_uri, "code_verifier": pending.code_verifier},
                auth=(self._client_id(), secret.get_secret_value() if secret else ""),
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"could not reach the token endpoint: {type(error).__name__}") from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code != 200:
            code = _error_code(answer.get("error", f"HTTP {response.status_code}"))
            raise TokenRefused(f"the identity provider would not exchange the code ({code})")
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise TokenRefused("the identity provider's answer has no ID token")
        return self.verify_id_token(id_token, nonce=pending.nonce)

    def _client_id(self) -> str:
        if self.settings.oidc_client_id is None:
            raise TokenRefused("SIGNPOST_OIDC_CLIENT_ID is not set, so no one signs in through the provider")
        return self.settings.oidc_client_id


def _error_code(value: object) -> str:
    """An OAuth error code as sent (RFC 6749 codes are short ASCII words), or `unknown`."""
    text = str(value)
    return text if re.fullmatch(r"[A-Za-z0-9_ .-]{1,40}", text) else "unknown"


def _reason(error: jwt.InvalidTokenError) -> str:
    # pyjwt's messages never include the token or key, but ours say what to do.
    match error:
        case jwt.ExpiredSignatureError():
            return "the token has expired: sign in again"
        case jwt.ImmatureSignatureError():
            return "the token is not valid yet (nbf or iat is in the future)"
        case jwt.InvalidAudienceError():
            return "the token is meant for another audience"
        case jwt.InvalidIssuerError():
            return "the token was issued by another issuer"
        case jwt.InvalidSignatureError():
            return "the token's signature does not match the identity provider's key"
        case jwt.MissingRequiredClaimError():
            return f"the token has no {error.claim} claim"
        case _:
            return f"the token is not valid ({type(error).__name__})"
