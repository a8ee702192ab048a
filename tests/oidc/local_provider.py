"""Start and stop the local OpenID provider (tests/oidc/provider.mjs, npm's oidc-provider).

Used by the fixtures of any test area that signs someone in through an identity provider;
see provider.mjs for its clients, accounts and resources.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.processes import free_port, stop

SCRIPT = Path(__file__).with_name("provider.mjs")
ROOT = SCRIPT.parents[2]

#: Resource indicators the provider understands (the access token's signing and audience).
API = "https://signpost.test/api"
API_ES256 = "https://signpost.test/api/es256"
API_HS256 = "https://signpost.test/api/hs256"
API_SHORT_LIVED = "https://signpost.test/api/short"
OTHER_API = "https://other.test/api"
AUDIENCE = "signpost-api"
#: Groups the provider puts people and partners in, as a council's directory would.
GROUP_ROLES = {
    "signpost-caseworkers": "caseworker",
    "signpost-analysts": "analyst",
    "signpost-citizens": "citizen",
    "signpost-partners": "partner",
}


@dataclass(frozen=True)
class LocalProvider:
    issuer: str
    partner_secret: str
    web_secret: str
    redirect_uri: str

    def client_credentials_token(self, client_id: str = "police", resource: str = API) -> str:
        """An access token for a partner client, made the way `resource` says."""
        response = httpx.post(f"{self.issuer}/token", auth=(client_id, self.partner_secret),
                              data={"grant_type": "client_credentials", "resource": resource})
        response.raise_for_status()
        return response.json()["access_token"]


@contextmanager
def local_provider(redirect_uri: str = "http://127.0.0.1:8000/auth/callback") -> Iterator[LocalProvider]:
    """Run the provider on a free loopback port until the block ends; ready when discovery answers."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("the OpenID provider needs Node.js and `npm ci` (run `make setup`)")
    port = free_port()
    provider = LocalProvider(f"http://127.0.0.1:{port}", secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                             redirect_uri)
    env = {**os.environ, "OIDC_PORT": str(port), "OIDC_PARTNER_SECRET": provider.partner_secret,
           "OIDC_WEB_SECRET": provider.web_secret, "OIDC_REDIRECT_URI": redirect_uri}
    # A file, not a pipe, for the provider's output: it never fills up and blocks node.
    with tempfile.TemporaryFile(mode="w+") as output:
        process = subprocess.Popen([node, str(SCRIPT)], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    output.seek(0)
                    raise RuntimeError(f"the OpenID provider stopped at start:\n{output.read()}")
                try:
                    if httpx.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the OpenID provider did not answer discovery within 30 s")
                time.sleep(0.1)
            yield provider
        finally:
            stop(process)
