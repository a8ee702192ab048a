"""Every staff read of a person's data is audited with their pseudonym; refusals name the target
(issue 14, point 5).

Before: a caseworker's reads of adults' recommendations (whose reasons may name services such
as a drug and alcohol recovery service) and of consent were not audited, and refusals were
audited with no subject at all.
"""

from __future__ import annotations

from features.pseudonym import load_key, pseudonymise


def pseudonym(settings, person_id: str) -> str:
    return pseudonymise([person_id], load_key(settings, create=False), "person")[0]


def entries(client, tokens) -> list[dict]:
    return client.get("/v1/audit?limit=500", headers=tokens("admin", "audit-reader")).json()["entries"]


def test_staff_reads_are_audited_with_the_persons_pseudonym(service, world):
    client, tokens, settings = service
    caseworker = tokens("caseworker", world.people.caseworker)
    person = world.people.on_caseload
    assert client.get(f"/v1/citizens/{person}/recommendations", headers=caseworker).status_code == 200
    assert client.get(f"/v1/citizens/{person}/consent", headers=caseworker).status_code == 200
    admin = tokens("admin", "admin-1")
    assert client.get(f"/v1/citizens/{world.people.citizen}/consent", headers=admin).status_code == 200
    assert client.get(f"/v1/citizens/{world.people.citizen}/data", headers=admin).status_code == 200

    reads = {(e["actor"], e["action"], e["subject"]) for e in entries(client, tokens)}
    assert (world.people.caseworker, "recommendations.view", pseudonym(settings, person)) in reads
    assert (world.people.caseworker, "consent.view", pseudonym(settings, person)) in reads
    assert ("admin-1", "consent.view", pseudonym(settings, world.people.citizen)) in reads
    assert ("admin-1", "subject_access", pseudonym(settings, world.people.citizen)) in reads
    assert not any(person in str(e) for e in entries(client, tokens))  # never the council's id


def test_a_citizens_own_reads_are_not_staff_reads(service, world):
    client, tokens, _ = service
    me = tokens("citizen", world.people.citizen)
    assert client.get("/v1/citizens/me/recommendations", headers=me).status_code == 200
    assert client.get("/v1/citizens/me/consent", headers=me).status_code == 200
    actions = [e["action"] for e in entries(client, tokens)]
    assert "recommendations.view" not in actions and "consent.view" not in actions


def test_refusals_name_the_target_pseudonym(service, world):
    client, tokens, settings = service
    caseworker = tokens("caseworker", world.people.caseworker)
    other = world.people.other_citizen
    assert client.get(f"/v1/citizens/{other}/recommendations", headers=caseworker).status_code == 403
    assert client.get(f"/v1/citizens/{other}/data", headers=tokens("analyst", "analyst-1")).status_code == 403
    refused = [e for e in entries(client, tokens) if e["action"] == "access.refused"]
    assert [(e["actor"], e["subject"], e["detail"]["code"]) for e in refused] == [
        (world.people.caseworker, pseudonym(settings, other), "not_on_caseload"),
        ("analyst-1", pseudonym(settings, other), "role"),
    ]
