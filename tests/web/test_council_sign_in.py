"""A caseworker signs in through the council's identity provider and reaches the workspace.

A real OpenID provider (npm's oidc-provider, tests/oidc/provider.mjs) runs on loopback with
Signpost's callback registered; a second `signpost serve` (the browser tests' data and models,
a database of its own) is configured to use it. Chromium follows the whole authorization-code
flow: Signpost's "Sign in with the council account", the provider's login and consent pages,
the callback, and lands signed in on `/workspace`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from tests.oidc.local_provider import AUDIENCE, GROUP_ROLES, local_provider

from .conftest import VIEWPORTS, Site, _chromium, _free_port, served


@pytest.fixture(scope="module")
def council_site(trained: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    folder = tmp_path_factory.mktemp("council_site")
    with local_provider(redirect_uri=f"{url}/auth/callback") as provider:
        env = trained | {
            "SIGNPOST_DATABASE_URL": f"sqlite:///{folder / 'signpost.db'}",
            "SIGNPOST_OIDC_ISSUER": provider.issuer,
            "SIGNPOST_OIDC_AUDIENCE": AUDIENCE,
            "SIGNPOST_OIDC_GROUP_ROLES": json.dumps(GROUP_ROLES),
            "SIGNPOST_OIDC_CLIENT_ID": "signpost-web",
            "SIGNPOST_OIDC_CLIENT_SECRET": provider.web_secret,
            "SIGNPOST_OIDC_SCOPES": json.dumps(["openid", "signpost"]),
        }
        with served(env, url, folder / "server.log") as site:
            yield site


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_caseworker_signs_in_with_the_council_account(playwright, council_site, viewport, shoot, request):
    context, profile = _chromium(playwright, council_site, viewport=VIEWPORTS[viewport])
    errors: list[str] = []
    try:
        tab = context.new_page()
        tab.viewport_name = viewport
        # Signpost's own pages must log no error (the provider's development pages are not ours)
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" and tab.url.startswith(
            council_site.url) else None)
        tab.goto("/workspace")
        assert "/sign-in" in tab.url  # not signed in yet: sent to sign in, then back
        button = tab.get_by_role("button", name="Sign in with the council account")
        shoot("council-sign-in", tab)
        if viewport == "phone":  # the narrowest screen the pages support, too
            tab.set_viewport_size({"width": 320, "height": 640})
            tab.viewport_name = "320"
            shoot("council-sign-in", tab)
            tab.set_viewport_size(VIEWPORTS[viewport])
            tab.viewport_name = viewport
        button.click()
        for _ in range(4):  # the provider's login, then its consent page
            tab.wait_for_load_state()
            if tab.url.startswith(council_site.url):
                break
            if tab.locator("input[name=login]").count():
                tab.fill("input[name=login]", "caseworker-1")
                tab.fill("input[name=password]", "any")
            tab.locator("button[type=submit]").first.click()
        tab.wait_for_url(f"{council_site.url}/workspace")
        assert tab.get_by_role("heading", level=1).first.is_visible()
        assert "Caseworker workspace" in tab.content()
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["signpost_session"]["httpOnly"] and "signpost_sign_in" not in cookies
        shoot("council-workspace", tab)
        assert not errors, errors
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


def test_a_tampered_or_missing_pending_sign_in_is_refused(council_site):
    import httpx

    answer = httpx.get(f"{council_site.url}/auth/callback?code=x&state=y", headers={"Accept": "text/html"},
                       cookies={"signpost_sign_in": "forged.value"})
    assert answer.status_code == 400 and "You are not signed in" in answer.text
    assert "signpost_session" not in answer.cookies
