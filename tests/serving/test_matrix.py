"""The authorisation matrix: every role × every endpoint × own / other subject, through the app.

The expected outcome is written out here by hand (not derived from serving.domain.access.RULES), so
a change to the rules that widens access fails this test.
"""

from __future__ import annotations

from .conftest import Tokens, running, service_settings

ROLES = ("citizen", "caseworker", "analyst", "admin")
Y, N = True, False

#: endpoint -> role -> (own, other). "own" is the viewer's own record for a citizen, a child on
#: the caseworker's open caseload for a caseworker, and the citizen for analyst and admin.
EXPECTED = {
    "recommendations": {"citizen": (Y, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (N, N)},
    "early_help": {"citizen": (N, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (N, N)},
    "consent_read": {"citizen": (Y, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (Y, Y)},
    "consent_change": {"citizen": (Y, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (Y, Y)},
    "subject_access": {"citizen": (Y, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y)},
    "events": {"citizen": (Y, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (Y, Y)},
    "feedback": {"citizen": (Y, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (N, N)},
    "erase": {"citizen": (N, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y)},
    # endpoints without a subject: (allowed, allowed)
    "caseload": {"citizen": (N, N), "caseworker": (Y, Y), "analyst": (N, N), "admin": (N, N)},
    "services": {r: (Y, Y) for r in ROLES},
    "similar": {r: (Y, Y) for r in ROLES},
    "models": {r: (Y, Y) for r in ROLES},
    "audit": {"citizen": (N, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y)},
    "sign_out": {r: (Y, Y) for r in ROLES},  # revokes the cell's own token, so each cell gets a fresh one
    "revoke": {"citizen": (N, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y)},
    "corrections": {"citizen": (N, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y)},
}


def _request(client, endpoint: str, person_id: str, headers: dict, *, role: str, service_id: str, n: int):
    base = f"/v1/citizens/{person_id}"
    if endpoint == "recommendations":
        return client.get(f"{base}/recommendations", headers=headers)
    if endpoint == "early_help":
        return client.get(f"{base}/early-help", headers=headers)
    if endpoint == "consent_read":
        return client.get(f"{base}/consent", headers=headers)
    if endpoint == "consent_change":
        return client.put(f"{base}/consent", headers=headers, json={"purpose": "research", "status": "granted"})
    if endpoint == "subject_access":
        return client.get(f"{base}/data", headers=headers)
    if endpoint == "erase":
        return client.delete(base, headers=headers)
    if endpoint == "events":
        return client.post("/v1/events", headers=headers, json={"events": [{
            "event_id": f"matrix-{role}-{n}", "source": "libraries", "person_id": person_id,
            "service_id": service_id, "occurred_at": "2026-11-01T10:00:00", "event_type": "loan"}]})
    if endpoint == "feedback":
        decision = {"citizen": "not_for_me", "caseworker": "declined"}.get(role, "useful")
        return client.post("/v1/feedback", headers=headers, json={
            "person_id": person_id, "service_id": service_id, "decision": decision, "reason": "matrix test"})
    if endpoint == "caseload":
        return client.get("/v1/caseload", headers=headers)
    if endpoint == "services":
        return client.get("/v1/services", headers=headers)
    if endpoint == "similar":
        return client.get(f"/v1/services/{service_id}/similar", headers=headers)
    if endpoint == "models":
        return client.get("/v1/models", headers=headers)
    if endpoint == "audit":
        return client.get("/v1/audit", headers=headers)
    if endpoint == "sign_out":
        return client.post("/v1/sign-out", headers=headers)
    if endpoint == "revoke":
        return client.post("/v1/revocations", headers=headers, json={"person_id": person_id})
    if endpoint == "corrections":
        return client.get("/v1/correction-requests", headers=headers)
    raise AssertionError(endpoint)


def test_authorisation_matrix(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path, refusals_per_minute=10_000)
    tokens = Tokens(settings)
    people = world.people
    subjects = {"citizen": people.citizen, "caseworker": people.caseworker, "analyst": "analyst-1", "admin": "admin-1"}
    own = {"citizen": people.citizen, "caseworker": people.on_caseload, "analyst": people.citizen,
           "admin": people.citizen}
    spare = iter(people.erasable)
    failures, refusals, n = [], 0, 0
    with running(settings) as client:
        service_id = client.get("/v1/services?limit=1", headers=tokens("analyst", "analyst-1")).json()[
            "services"][0]["service_id"]
        for endpoint, by_role in EXPECTED.items():
            for role in ROLES:
                for which, allowed in zip(("own", "other"), by_role[role], strict=True):
                    # a token per cell: one issued after a sign-out or a cut-off is not revoked
                    headers = tokens(role, subjects[role])
                    person = own[role] if which == "own" else people.other_citizen
                    if endpoint == "erase" and allowed:
                        person = next(spare)  # erase spare people, never the ones other cells use
                    n += 1
                    response = _request(client, endpoint, person, headers, role=role, service_id=service_id, n=n)
                    cell = f"{role:<10} {endpoint:<15} {which:<5} -> {response.status_code}"
                    if allowed and not 200 <= response.status_code < 300:
                        failures.append(f"{cell} expected 2xx: {response.text[:200]}")
                    if not allowed:
                        body = response.json()
                        if response.status_code != 403 or not body.get("detail") or not body.get("code"):
                            failures.append(f"{cell} expected 403 with a reason: {response.text[:200]}")
                        else:
                            refusals += 1
        audit_page = client.get("/v1/audit?limit=500", headers=tokens("admin", "admin-1")).json()
    assert not failures, "\n".join(failures)
    refused_entries = [e for e in audit_page["entries"] if e["action"] == "access.refused"]
    assert len(refused_entries) == refusals  # every refusal is on the record
