"""Start page, sign-in, security headers and CSRF: what every visitor meets first."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect


def test_start_page(page, shoot, assert_accessible):
    page.goto("/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hampshire Signpost"
    for area in ("Services for you", "Caseworker workspace", "Models and fairness"):
        assert page.locator("main").get_by_role("link", name=area).is_visible()
    assert_accessible()
    shoot()


def test_sign_in_page_lists_demo_people(page, shoot, assert_accessible):
    page.goto("/sign-in")
    values = page.locator("input[name=persona]").evaluate_all("inputs => inputs.map(i => i.value)")
    assert values == ["citizen", "citizen-private", "caseworker", "analyst", "admin", "data_steward"]
    assert_accessible()
    shoot()


def test_sign_in_without_a_choice_shows_the_error(page, shoot, assert_accessible):
    page.goto("/sign-in")
    page.get_by_role("button", name="Sign in").click()
    summary = page.locator(".govuk-error-summary")
    assert "Select who you want to sign in as" in summary.inner_text()
    assert page.title().startswith("Error:")
    assert_accessible()
    shoot()


def test_a_page_needs_sign_in_and_returns_after_it(page):
    page.context.clear_cookies()
    page.goto("/portal/consent")
    assert "/sign-in?next=" in page.url
    page.check("input[name=persona][value='citizen']")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/portal/consent")


def test_sign_out(page, sign_in):
    sign_in("citizen")
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():  # on a phone the navigation is folded behind its menu button
        menu.click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"))  # back on the start page
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto("/portal")
    assert "/sign-in" in page.url


def test_every_page_has_a_strict_content_security_policy(site):
    for path in ("/", "/sign-in", "/accessibility", "/about-your-data", "/privacy", "/transparency"):
        response = httpx.get(site.url + path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        html = response.text
        # no inline script or style, no style attributes, nothing loaded from another host
        # (a link a reader may follow elsewhere, e.g. to the ICO, loads nothing)
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r'<(?!a\s)[a-z]+\s[^>]*(src|href)="(https?:)?//', html), path


def test_the_api_keeps_its_own_referrer_policy(site):
    assert httpx.get(site.url + "/v1/services").headers["referrer-policy"] == "no-referrer"


def test_forms_refuse_a_post_without_the_csrf_token(site):
    with httpx.Client(base_url=site.url) as client:
        client.get("/sign-in")  # sets the CSRF cookie
        refused = client.post("/sign-in", data={"persona": "citizen"})
        assert refused.status_code == 403
        assert "expired or was not sent from this service" in refused.text
        assert "signpost_session" not in client.cookies


def test_forms_refuse_a_post_from_another_site(site):
    with httpx.Client(base_url=site.url) as client:
        page = client.get("/sign-in").text
        token = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]{43})"', page).group(1)
        refused = client.post("/sign-in", data={"persona": "citizen", "csrf_token": token},
                              headers={"origin": "https://evil.example"})
        assert refused.status_code == 403
        assert "another website" in refused.text
        accepted = client.post("/sign-in", data={"persona": "citizen", "csrf_token": token})
        assert accepted.status_code == 303


def test_sign_in_does_not_redirect_off_site(site):
    with httpx.Client(base_url=site.url) as client:
        page = client.get("/sign-in?next=//evil.example/").text
        token = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]{43})"', page).group(1)
        answer = client.post("/sign-in", data={"persona": "analyst", "csrf_token": token,
                                               "next": "//evil.example/"})
        assert answer.status_code == 303 and answer.headers["location"] == "/analyst"


def test_the_session_cookie_is_http_only_and_not_for_the_api(site):
    with httpx.Client(base_url=site.url) as client:
        page = client.get("/sign-in").text
        token = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]{43})"', page).group(1)
        answer = client.post("/sign-in", data={"persona": "citizen", "csrf_token": token})
        cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("signpost_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        # the API reads bearer tokens only: a browser's cookie cannot drive it (no CSRF there)
        assert client.get("/v1/services").status_code == 401


def test_an_unknown_page_gets_a_page_not_json(page, site, shoot, assert_accessible):
    response = page.goto("/portal/no-such-page")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    assert_accessible()
    shoot()
    api = httpx.get(site.url + "/v1/no-such-endpoint", headers={"accept": "text/html,application/json"})
    assert api.status_code == 404 and api.json()["code"] == "not_found"  # the API always answers JSON
