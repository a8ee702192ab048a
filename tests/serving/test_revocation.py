"""Revocation through the real app and database: sign-out ends the session, an admin cuts off."""

from __future__ import annotations

import re
import time

from serving.domain.auth import issue_for
from serving.http.deps import SESSION_COOKIE
from serving.http.web import csrf

from .conftest import Tokens, running, service_settings

REVOKED = "the token was revoked: sign in again"


def _revoked(response) -> bool:
    return response.status_code == 401 and response.json()["detail"] == REVOKED


def _trail(client, tokens, action: str) -> list[dict]:
    entries = client.get("/v1/audit?limit=500", headers=tokens("admin", "audit-reader")).json()["entries"]
    return [e for e in entries if e["action"] == action]


def test_sign_out_revokes_the_token_it_is_sent_with(service, world):
    client, tokens, _ = service
    me, other_session = tokens("citizen", world.people.citizen), tokens("citizen", world.people.citizen)
    path = f"/v1/citizens/{world.people.citizen}/recommendations"
    assert client.get(path, headers=me).status_code == 200  # decoded and cached: the check is after the cache
    out = client.post("/v1/sign-out", headers=me)
    assert out.status_code == 200, out.text
    assert out.json()["revoked"] is True and out.json()["scope"] == "token"
    assert _revoked(client.get(path, headers=me))
    assert _revoked(client.post("/v1/sign-out", headers=me))
    assert client.get(path, headers=other_session).status_code == 200  # only that token
    [entry] = _trail(client, tokens, "sign_out")
    assert entry["actor_role"] == "citizen" and entry["detail"] == {"scope": "token"}
    token = me["Authorization"].removeprefix("Bearer ")
    assert token not in str(entry) and world.people.citizen not in str(entry)


def test_web_sign_out_revokes_the_cookie(service, world):
    client, _, settings = service
    token = issue_for(settings, role="citizen", subject=world.people.citizen)
    client.cookies.set(SESSION_COOKIE, token)
    page = client.get("/portal", follow_redirects=False)
    assert page.status_code == 200
    [form_token] = set(re.findall(rf'name="{csrf.FIELD}" value="([^"]+)"', page.text))  # the page's sign-out form
    signed_out = client.post("/sign-out", data={csrf.FIELD: form_token}, follow_redirects=False)
    assert signed_out.status_code in (302, 303), signed_out.text
    client.cookies.set(SESSION_COOKIE, token)  # a copy of the cookie kept after sign-out
    page = client.get("/portal", follow_redirects=False)
    assert page.status_code in (302, 303) and "/sign-in" in page.headers["location"]
    client.cookies.clear()
    api = client.get(f"/v1/citizens/{world.people.citizen}/consent", headers={"Authorization": f"Bearer {token}"})
    assert _revoked(api)


def test_admin_cuts_off_a_caseworker(service, world):
    client, tokens, _ = service
    caseworker = world.people.caseworker
    old = tokens("caseworker", caseworker)
    assert client.get("/v1/caseload", headers=old).status_code == 200
    cut = client.post("/v1/revocations", headers=tokens("admin", "admin-1"), json={"staff_id": caseworker})
    assert cut.status_code == 200, cut.text
    assert cut.json()["scope"] == "subject"
    assert _revoked(client.get("/v1/caseload", headers=old))
    time.sleep(0.002)  # a token issued after the cut-off (iat has millisecond resolution)
    assert client.get("/v1/caseload", headers=tokens("caseworker", caseworker)).status_code == 200
    [entry] = _trail(client, tokens, "revocation")
    assert entry["actor"] == "admin-1" and entry["detail"] == {"scope": "subject", "kind": "staff",
                                                                "staff_id": caseworker}


def test_admin_cuts_off_a_citizen_by_person_id(service, world):
    client, tokens, _ = service
    citizen = world.people.citizen
    old = tokens("citizen", citizen)
    path = "/v1/citizens/me/consent"
    assert client.get(path, headers=old).status_code == 200
    cut = client.post("/v1/revocations", headers=tokens("admin", "admin-1"), json={"person_id": citizen})
    assert cut.status_code == 200, cut.text
    assert citizen not in cut.text
    assert _revoked(client.get(path, headers=old))
    time.sleep(0.002)
    assert client.get(path, headers=tokens("citizen", citizen)).status_code == 200
    [entry] = _trail(client, tokens, "revocation")
    assert entry["subject"] and entry["subject"] != citizen and citizen not in str(entry)  # the pseudonym only


def test_revocation_body_needs_exactly_one_subject(service):
    client, tokens, _ = service
    admin = tokens("admin", "admin-1")
    for body in ({}, {"staff_id": "CW-1", "person_id": "P000001"}, {"staff_id": ""}):
        response = client.post("/v1/revocations", headers=admin, json=body)
        assert response.status_code == 422 and response.json()["detail"], response.text


def test_other_roles_may_not_cut_anyone_off(service, world):
    client, tokens, _ = service
    for role, subject in (("citizen", world.people.citizen), ("caseworker", world.people.caseworker),
                          ("analyst", "analyst-1")):
        response = client.post("/v1/revocations", headers=tokens(role, subject), json={"staff_id": "admin-1"})
        assert response.status_code == 403 and response.json()["code"] == "role", response.text
    assert client.get("/v1/audit", headers=tokens("admin", "admin-1")).status_code == 200


def test_another_worker_sees_a_revocation_within_the_poll_interval(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path, revocation_poll_seconds=0.1,
                                auth_failures_per_minute=10_000)
    tokens = Tokens(settings)
    signed_out, cut_off = tokens("analyst", "analyst-1"), tokens("caseworker", world.people.caseworker)
    with running(settings) as first, running(settings) as second:
        assert second.get("/v1/models", headers=signed_out).status_code == 200  # cached in the second
        assert second.get("/v1/caseload", headers=cut_off).status_code == 200
        assert first.post("/v1/sign-out", headers=signed_out).status_code == 200
        cut = first.post("/v1/revocations", headers=tokens("admin", "admin-1"),
                         json={"staff_id": world.people.caseworker})
        assert cut.status_code == 200, cut.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (_revoked(second.get("/v1/models", headers=signed_out))
                    and _revoked(second.get("/v1/caseload", headers=cut_off))):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the second worker still accepts the revoked tokens")


def test_a_restarted_service_still_refuses_revoked_tokens(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path)
    headers = Tokens(settings)("analyst", "analyst-1")
    with running(settings) as client:
        assert client.post("/v1/sign-out", headers=headers).status_code == 200
    with running(settings) as client:
        assert _revoked(client.get("/v1/models", headers=headers))
