"""The authorisation matrix: every role × every endpoint × own / other subject, through the app.

The expected outcome is written out here by hand (not derived from serving.domain.access.RULES), so
a change to the rules that widens access fails this test.
"""

from __future__ import annotations

from .conftest import Tokens, running, service_settings
from .test_provenance import self_reportable_service

ROLES = ("citizen", "caseworker", "analyst", "admin", "partner", "data_steward")
#: Where each role posts events: citizens report their own use, staff record the council's,
#: a partner system posts under its own source (its token's subject).
SOURCE = {"citizen": "portal", "caseworker": "council", "analyst": "council", "admin": "council",
          "partner": "libraries", "data_steward": "council"}
Y, N = True, False

#: endpoint -> role -> (own, other). "own" is the viewer's own record for a citizen, a child on
#: the caseworker's open caseload for a caseworker, and the citizen for analyst, admin and partner.
EXPECTED = {
    "recommendations": {"citizen": (Y, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (N, N), "partner": (N, N)},
    "early_help": {"citizen": (N, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (N, N), "partner": (N, N)},
    "consent_read": {"citizen": (Y, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (Y, Y), "partner": (N, N)},
    "consent_change": {"citizen": (Y, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (Y, Y), "partner": (N, N)},
    "consent_override": {"citizen": (N, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y), "partner": (N, N)},
    "subject_access": {"citizen": (Y, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y), "partner": (N, N)},
    "events": {"citizen": (Y, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (Y, Y), "partner": (Y, Y)},
    "feedback": {"citizen": (Y, N), "caseworker": (Y, N), "analyst": (N, N), "admin": (N, N), "partner": (N, N)},
    "erase": {"citizen": (N, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y), "partner": (N, N)},
    # endpoints without a subject: (allowed, allowed)
    "caseload": {"citizen": (N, N), "caseworker": (Y, Y), "analyst": (N, N), "admin": (N, N), "partner": (N, N)},
    "services": {r: (Y, Y) for r in ROLES},
    "similar": {r: (Y, Y) for r in ROLES},
    "models": {r: (Y, Y) for r in ROLES},
    "audit": {"citizen": (N, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y), "partner": (N, N)},
    "sign_out": {r: (Y, Y) for r in ROLES},  # revokes the cell's own token, so each cell gets a fresh one
    "revoke": {"citizen": (N, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y), "partner": (N, N)},
    "corrections": {"citizen": (N, N), "caseworker": (N, N), "analyst": (N, N), "admin": (Y, Y), "partner": (N, N)},
    "linkage_review": {"citizen": (N, N), "caseworker": (N, N), "analyst": (N, N), "admin": (N, N),
                       "partner": (N, N), "data_steward": (Y, Y)},
}
#: A data steward reviews uncertain partner-record links and nothing else: refused every other
#: row that does not name it (the open rows above already include it through ROLES).
for _by_role in EXPECTED.values():
    _by_role.setdefault("data_steward", (N, N))


def _request(client, endpoint: str, person_id: str, headers: dict, *, role: str, service_id: str, n: int):
    base = f"/v1/citizens/{person_id}"
    if endpoint == "recommendations":
        return client.get(f"{base}/recommendations", headers=headers)
    if endpoint == "early_help":
        return client.get(f"{base}/early-help", headers=headers)
    if endpoint == "consent_read":
        return client.get(f"{base}/consent", headers=headers)
    if endpoint == "consent_change":
        change = {"purpose": "research", "status": "granted"} if role == "citizen" else {
            "purpose": "research", "status": "withdrawn", "method": "phone", "note": "matrix test"}
        return client.put(f"{base}/consent", headers=headers, json=change)
    if endpoint == "consent_override":
        return client.post(f"{base}/consent/overrides", headers=headers, json={
            "purpose": "early_intervention", "reason": "matrix test: compelling legitimate grounds"})
    if endpoint == "subject_access":
        return client.get(f"{base}/data", headers=headers)
    if endpoint == "erase":
        return client.delete(base, headers=headers)
    if endpoint == "events":
        return client.post("/v1/events", headers=headers, json={"events": [{
            "event_id": f"matrix-{role}-{n}", "source": SOURCE[role], "person_id": person_id,
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
    if endpoint == "linkage_review":
        return client.get("/v1/linkage/review", headers=headers)
    raise AssertionError(endpoint)


def test_authorisation_matrix(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path, refusals_per_minute=10_000)
    tokens = Tokens(settings)
    people = world.people
    subjects = {"citizen": people.citizen, "caseworker": people.caseworker, "analyst": "analyst-1", "admin": "admin-1",
                "partner": SOURCE["partner"], "data_steward": "steward-1"}
    own = {"citizen": people.citizen, "caseworker": people.on_caseload, "analyst": people.citizen,
           "admin": people.citizen, "partner": people.citizen, "data_steward": people.citizen}
    spare = iter(people.erasable)
    failures, refusals, n = [], 0, 0
    with running(settings) as client:
        service_id = self_reportable_service(world)  # one a citizen may report, so events differ only by role
        for objector in (people.citizen, people.other_citizen):  # an objection for the admins to override
            assert client.put(f"/v1/citizens/{objector}/consent", headers=tokens("citizen", objector), json={
                "purpose": "early_intervention", "status": "objected"}).status_code == 200
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


#: Staff consent changes, by hand: (who, whose, request, expected status, expected code or None).
#: "child" is on the caseworker's open caseload; "other" is not; every step runs in this order.
STAFF_CONSENT = [
    ("citizen", "self", ("put", {"purpose": "early_intervention", "status": "objected"}), 200, None),
    ("citizen", "self", ("put", {"purpose": "research", "status": "granted", "method": "phone"}), 422, None),
    ("citizen", "other", ("put", {"purpose": "research", "status": "granted"}), 403, "not_self"),
    ("caseworker", "child", ("put", {"purpose": "early_intervention", "status": "objected", "method": "phone",
                                     "note": "parent phoned to object"}), 200, None),
    ("caseworker", "child", ("put", {"purpose": "early_intervention", "status": "granted", "method": "portal"}),
     422, None),
    ("caseworker", "child", ("put", {"purpose": "early_intervention", "status": "granted", "method": "caseworker",
                                     "note": "I think it is for the best"}), 409, "objection_stands"),
    ("caseworker", "child", ("put", {"purpose": "research", "status": "withdrawn", "method": "paper"}), 422, None),
    ("caseworker", "other", ("put", {"purpose": "research", "status": "withdrawn", "method": "paper",
                                     "note": "letter"}), 403, "not_on_caseload"),
    ("caseworker", "child", ("override", {"purpose": "early_intervention",
                                          "reason": "the caseworker would like to continue"}), 403, "role"),
    ("citizen", "self", ("override", {"purpose": "early_intervention",
                                      "reason": "I would like to override myself"}), 403, "role"),
    ("analyst", "child", ("override", {"purpose": "early_intervention",
                                       "reason": "an analyst would like to continue"}), 403, "role"),
    ("admin", "child", ("put", {"purpose": "early_intervention", "status": "granted", "method": "paper",
                                "note": "form signed by the caseworker"}), 409, "objection_stands"),
    ("admin", "child", ("override", {"purpose": "early_intervention",
                                     "reason": "early-help panel: the child's safety outweighs the objection"}),
     201, None),
    ("admin", "child", ("override", {"purpose": "early_intervention",
                                     "reason": "early-help panel: the child's safety outweighs the objection"}),
     409, "conflict"),
    ("admin", "self", ("override", {"purpose": "research", "reason": "research is not a public task here"}),
     422, None),
]


def test_staff_consent_changes(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path, refusals_per_minute=10_000)
    tokens = Tokens(settings)
    people = world.people
    subjects = {"citizen": people.citizen, "caseworker": people.caseworker, "analyst": "analyst-1", "admin": "admin-1"}
    whose = {"self": people.citizen, "child": people.on_caseload, "other": people.other_citizen}
    failures = []
    with running(settings) as client:
        for n, (role, target, (kind, body), status, code) in enumerate(STAFF_CONSENT):
            path = f"/v1/citizens/{whose[target]}/consent"
            headers = tokens(role, subjects[role])
            response = (client.put(path, headers=headers, json=body) if kind == "put"
                        else client.post(f"{path}/overrides", headers=headers, json=body))
            if response.status_code != status or (code and response.json().get("code") != code):
                failures.append(f"{n}: {role} {kind} {target} -> {response.status_code} {response.text[:200]}")
        child = client.get(f"/v1/citizens/{people.on_caseload}/consent", headers=tokens("admin", "admin-1")).json()
        trail = client.get("/v1/audit?limit=500", headers=tokens("admin", "admin-1")).json()["entries"]
    assert not failures, "\n".join(failures)
    [early] = [p for p in child["purposes"] if p["purpose"] == "early_intervention"]
    assert early["status"] == "objected" and early["allowed"] and early["override"]["decided_by"] == "admin-1"
    changes = [e for e in trail if e["action"] in ("consent.change", "consent.override")]
    assert [(e["action"], e["actor_role"]) for e in changes] == [
        ("consent.change", "citizen"), ("consent.change", "caseworker"), ("consent.override", "admin")]
