"""Event provenance (issue 14, point 4): who may post events under which source.

Before: a citizen's token posted `police` and `childrens_social_care` events (201), writing
concern indicators into their household's early-help features, and a clash with another
person's event id answered 409 "already has event_id … for a different event".
"""

from __future__ import annotations

import pandas as pd
import pytest

from features.early_help import indicator_sources
from signpost.errors import UserError
from signpost.settings import Settings

from .conftest import Tokens, running, service_settings

WHEN = "2026-11-01T10:00:00"


def _services(world) -> pd.DataFrame:
    return pd.read_parquet(world.county.processed / "services.parquet")


def self_reportable_services(world) -> list[str]:
    """Services a citizen may say they used: active, not sensitive, not an intervention, not an indicator."""
    services = _services(world)
    indicators = indicator_sources(Settings().sharing_policy)
    fit = services[services.active & ~services.sensitive & ~services.intervention & ~services.source.isin(indicators)]
    return sorted(fit.service_id.astype(str))


def self_reportable_service(world) -> str:
    return self_reportable_services(world)[0]


def indicator_service(world) -> str:
    """A service mostly recorded by the police (an early-help concern indicator)."""
    services = _services(world)
    return str(services[services.source == "police"].sort_values("service_id").service_id.iloc[0])


def event(person: str, service: str, *, source: str, event_id: str = "e-1", event_type: str = "enrolment") -> dict:
    return {"events": [{"event_id": event_id, "source": source, "person_id": person, "service_id": service,
                        "occurred_at": WHEN, "event_type": event_type}]}


def test_a_citizen_may_not_post_under_a_partner_source(service, world):
    client, tokens, _ = service
    me = tokens("citizen", world.people.citizen)
    service_id = self_reportable_service(world)
    for source in ("police", "childrens_social_care", "libraries"):
        answer = client.post("/v1/events", headers=me, json=event(world.people.citizen, service_id, source=source))
        assert answer.status_code == 403, answer.text  # was 201
        assert answer.json()["code"] == "source" and "portal" in answer.json()["detail"]


def test_a_citizen_may_not_self_report_an_indicator_or_a_sensitive_service(service, world):
    client, tokens, _ = service
    me = tokens("citizen", world.people.citizen)
    services = _services(world)
    not_reportable = [indicator_service(world),
                      str(services[services.sensitive].service_id.iloc[0]),
                      str(services[services.intervention].service_id.iloc[0])]
    for service_id in not_reportable:
        answer = client.post("/v1/events", headers=me, json=event(world.people.citizen, service_id, source="portal"))
        assert answer.status_code == 403, (service_id, answer.text)
        assert answer.json()["code"] == "not_self_reportable"
    allowed = client.post("/v1/events", headers=me,
                          json=event(world.people.citizen, self_reportable_service(world), source="portal"))
    assert allowed.status_code == 201, allowed.text


def test_citizens_event_ids_never_meet_and_each_sees_their_own(service, world):
    client, tokens, _ = service
    first, second = world.people.citizen, world.people.other_citizen
    service_id = self_reportable_service(world)
    for person in (first, second):  # the same id from two people: two events, no clash
        answer = client.post("/v1/events", headers=tokens("citizen", person),
                             json=event(person, service_id, source="portal", event_id="my-visit"))
        assert answer.status_code == 201 and answer.json() == {"received": 1, "duplicates": 0}, answer.text
    # the same id again with another content clashes only with the poster's own event
    clash = client.post("/v1/events", headers=tokens("citizen", first),
                        json=event(first, service_id, source="portal", event_id="my-visit", event_type="booking"))
    assert clash.status_code == 409
    again = client.post("/v1/events", headers=tokens("citizen", first),
                        json=event(first, service_id, source="portal", event_id="my-visit"))
    assert again.json() == {"received": 0, "duplicates": 1}
    data = client.get("/v1/citizens/me/data", headers=tokens("citizen", first)).json()
    assert [(e["source"], e["event_id"]) for e in data["events"]] == [("portal", "my-visit")]


def test_staff_ids_in_the_council_source_are_namespaced_per_member_of_staff(service, world):
    client, tokens, _ = service
    service_id = self_reportable_service(world)
    person = world.people.citizen
    for admin in ("admin-1", "admin-2"):
        answer = client.post("/v1/events", headers=tokens("admin", admin),
                             json=event(person, service_id, source="council", event_id="paper-7",
                                        event_type="booking" if admin == "admin-2" else "enrolment"))
        assert answer.status_code == 201, answer.text  # no 409 revealing the other's event
    refused = client.post("/v1/events", headers=tokens("admin", "admin-1"),
                          json=event(person, indicator_service(world), source="police"))
    assert refused.status_code == 403 and refused.json()["code"] == "source"


def test_a_partner_posts_only_under_its_own_source(service, world):
    client, tokens, _ = service
    police = tokens("partner", "police")
    person = world.people.citizen
    posted = client.post("/v1/events", headers=police,
                         json=event(person, indicator_service(world), source="police", event_type="referral"))
    assert posted.status_code == 201, posted.text
    other = client.post("/v1/events", headers=police,
                        json=event(person, indicator_service(world), source="schools", event_type="referral"))
    assert other.status_code == 403 and other.json()["code"] == "source"
    # a partner reads nothing individual
    assert client.get(f"/v1/citizens/{person}/recommendations", headers=police).status_code == 403
    assert client.get(f"/v1/citizens/{person}/data", headers=police).status_code == 403


def test_a_partner_token_names_a_source_of_the_sharing_policy(tmp_path):
    settings = Settings(data_dir=tmp_path, jwt_signing_key="k" * 32)
    with pytest.raises(UserError, match="SIGNPOST_SHARING_POLICY"):
        Tokens(settings)("partner", "portal")
    assert Tokens(settings)("partner", "police")["Authorization"].startswith("Bearer ")


# ------------------------------------------------------- tokens from the identity provider ------


@pytest.fixture(scope="module")
def identity_provider():
    from tests.oidc.local_provider import local_provider

    with local_provider() as provider:
        yield provider


def test_a_partners_client_credentials_token_posts_its_own_events(identity_provider, world, database_url, tmp_path):
    from tests.oidc.local_provider import API, AUDIENCE, GROUP_ROLES

    settings = service_settings(world, database_url, tmp_path, oidc_issuer=identity_provider.issuer,
                                oidc_audience=AUDIENCE, oidc_group_roles=GROUP_ROLES)
    police = {"Authorization": f"Bearer {identity_provider.client_credentials_token('police', API)}"}
    person = world.people.citizen
    with running(settings) as client:
        posted = client.post("/v1/events", headers=police,
                             json=event(person, indicator_service(world), source="police", event_type="referral"))
        assert posted.status_code == 201, posted.text
        schools = client.post("/v1/events", headers=police,
                              json=event(person, indicator_service(world), source="schools", event_type="referral"))
        assert schools.status_code == 403 and schools.json()["code"] == "source"
        citizen = Tokens(settings)("citizen", person)
        refused = client.post("/v1/events", headers=citizen,
                              json=event(person, indicator_service(world), source="police", event_type="referral"))
        assert refused.status_code == 403
        # Signpost's own tokens still work beside the provider's
        assert client.get("/v1/models", headers=Tokens(settings)("analyst", "analyst-1")).status_code == 200
        forged = client.get("/v1/models", headers={"Authorization": "Bearer " + police["Authorization"][7:-4] + "AAAA"})
        assert forged.status_code == 401
