"""End-to-end flows through the real app and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging

from serving.http.schemas import PERSON_ID_PATTERN

from .conftest import Tokens, running, service_settings
from .test_provenance import self_reportable_service, self_reportable_services


def recs(client, person_id, headers, k=10):
    response = client.get(f"/v1/citizens/{person_id}/recommendations?k={k}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_withdrawal_applies_to_the_very_next_request(service, world):
    client, tokens, _ = service
    me = tokens("citizen", world.people.citizen)
    before = recs(client, world.people.citizen, me)
    assert before["personalised"] is True and before["degraded"] is False
    assert before["model_version"] == world.recommender_version
    changed = client.put(f"/v1/citizens/{world.people.citizen}/consent", headers=me,
                         json={"purpose": "personalisation", "status": "withdrawn"})
    assert changed.status_code == 200, changed.text
    state = {p["purpose"]: p for p in changed.json()["purposes"]}
    assert state["personalisation"] == {**state["personalisation"], "allowed": False, "status": "withdrawn"}
    after = recs(client, world.people.citizen, me)
    assert after["personalised"] is False
    assert "not agreed to personalisation" in after["notice"]
    assert all("Because you use" not in r["reason"] for r in after["recommendations"])
    # granting again restores personalisation, again with no retraining
    client.put(f"/v1/citizens/{world.people.citizen}/consent", headers=me,
               json={"purpose": "personalisation", "status": "granted"})
    assert recs(client, world.people.citizen, me)["personalised"] is True
    trail = client.get("/v1/audit", headers=tokens("admin", "admin-1")).json()["entries"]
    assert [e["detail"]["to"] for e in trail if e["action"] == "consent.change"] == ["withdrawn", "granted"]


def test_new_events_fold_into_the_next_recommendations(service, world):
    client, tokens, _ = service
    me = tokens("citizen", world.people.citizen)
    first = recs(client, world.people.citizen, me, k=5)["recommendations"]
    reportable = set(self_reportable_services(world))
    used = next(r["service_id"] for r in first if r["service_id"] in reportable)  # one they may report
    posted = client.post("/v1/events", headers=me, json={"events": [{
        "event_id": "flow-1", "source": "portal", "person_id": world.people.citizen, "service_id": used,
        "occurred_at": "2026-11-20T10:00:00", "event_type": "enrolment"}]})
    assert posted.status_code == 201, posted.text
    assert posted.json() == {"received": 1, "duplicates": 0}
    again = client.post("/v1/events", headers=me, json={"events": [{
        "event_id": "flow-1", "source": "portal", "person_id": world.people.citizen, "service_id": used,
        "occurred_at": "2026-11-20T10:00:00", "event_type": "enrolment"}]})
    assert again.json() == {"received": 0, "duplicates": 1}  # a retry is harmless
    after = recs(client, world.people.citizen, me, k=5)["recommendations"]
    assert used not in [r["service_id"] for r in after]  # now in their history: not suggested again
    assert [r["service_id"] for r in after] != [r["service_id"] for r in first]


def test_events_are_validated_per_the_contract(service, world):
    client, tokens, _ = service
    admin = tokens("admin", "admin-1")
    good = {"event_id": "v-1", "source": "council", "person_id": world.people.citizen,
            "service_id": client.get("/v1/services?limit=1", headers=admin).json()["services"][0]["service_id"],
            "occurred_at": "2026-11-01T09:00:00", "event_type": "loan"}
    cases = {
        "future": ({**good, "occurred_at": "2099-01-01T00:00:00"}, 422, "in the future"),
        "service": ({**good, "service_id": "NOPE-1"}, 422, "not in the catalogue"),
        "source": ({**good, "source": "astrology"}, 403, "under the 'council' source"),
        "type": ({**good, "event_type": "liked"}, 422, "event_type"),
        "person": ({**good, "person_id": "NOBODY-999999"}, 422, "not in the current build"),
        "date": ({**good, "occurred_at": "2026/11/01"}, 422, "occurred_at"),
        "extra": ({**good, "colour": "red"}, 422, "colour"),
    }
    for name, (event, status, words) in cases.items():
        response = client.post("/v1/events", headers=admin, json={"events": [event]})
        assert response.status_code == status, (name, response.text)
        assert words in response.json()["detail"] or words in json.dumps(response.json()), (name, response.text)
    # one bad event rejects the whole batch: nothing stored
    mixed = client.post("/v1/events", headers=admin, json={"events": [good, cases["future"][0] | {"event_id": "v-2"}]})
    assert mixed.status_code == 422 and "events[1]" in mixed.json()["detail"]
    assert client.post("/v1/events", headers=admin, json={"events": [good]}).json()["received"] == 1


def test_not_for_me_removes_the_service(service, world):
    client, tokens, _ = service
    me = tokens("citizen", world.people.citizen)
    top = recs(client, world.people.citizen, me)["recommendations"][0]["service_id"]
    response = client.post("/v1/feedback", headers=me, json={
        "person_id": world.people.citizen, "service_id": top, "decision": "not_for_me"})
    assert response.status_code == 201, response.text
    assert top not in [r["service_id"] for r in recs(client, world.people.citizen, me)["recommendations"]]


def test_caseworker_decision_needs_a_reason(service, world):
    client, tokens, _ = service
    cw = tokens("caseworker", world.people.caseworker)
    service_id = client.get("/v1/services?limit=1", headers=cw).json()["services"][0]["service_id"]
    body = {"person_id": world.people.on_caseload, "service_id": service_id, "decision": "declined"}
    missing = client.post("/v1/feedback", headers=cw, json=body)
    assert missing.status_code == 422 and "reason" in missing.json()["detail"]
    assert client.post("/v1/feedback", headers=cw, json=body | {"reason": "family declined"}).status_code == 201
    wrong = client.post("/v1/feedback", headers=cw, json=body | {"decision": "useful"})
    assert wrong.status_code == 422


def test_erasure_then_requests(service, world):
    client, tokens, _ = service
    person = world.people.erasable[0]
    me = tokens("citizen", person)
    admin = tokens("admin", "admin-1")
    recs(client, person, me)
    client.put(f"/v1/citizens/{person}/consent", headers=me, json={"purpose": "research", "status": "withdrawn"})
    client.post("/v1/events", headers=me, json={"events": [{
        "event_id": "erase-1", "source": "portal", "person_id": person, "service_id": self_reportable_service(world),
        "occurred_at": "2026-11-02T10:00:00", "event_type": "booking"}]})
    before = client.get(f"/v1/citizens/{person}/data", headers=me).json()
    assert before["events"] and before["consents"] and before["suggestions"]

    erased = client.delete(f"/v1/citizens/{person}", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["removed"]["events"] == 1 and erased.json()["removed"]["suggestions"] >= 1

    for method, path in (("get", "recommendations"), ("get", "consent"), ("get", "data")):
        response = getattr(client, method)(f"/v1/citizens/{person}/{path}", headers=me)
        assert response.status_code == 410, (path, response.text)
    assert client.put(f"/v1/citizens/{person}/consent", headers=me,
                      json={"purpose": "research", "status": "granted"}).status_code == 410
    assert client.delete(f"/v1/citizens/{person}", headers=admin).status_code == 410
    trail = client.get("/v1/audit?limit=500", headers=admin).json()["entries"]
    erasures = [e for e in trail if e["action"] == "erasure"]
    pseudonym = before["pseudonym"]
    assert len(erasures) == 1 and erasures[0]["subject"] == pseudonym  # the fact and the pseudonym remain


def test_subject_access_lists_what_is_held(service, world):
    client, tokens, _ = service
    me = tokens("citizen", world.people.citizen)
    shown = recs(client, world.people.citizen, me)
    data = client.get(f"/v1/citizens/{world.people.citizen}/data", headers=me)
    assert data.status_code == 200, data.text
    body = data.json()
    assert body["record"]["age_band"] and body["history"] and body["sources"]
    assert body["suggestions"][-1]["service_ids"] == [r["service_id"] for r in shown["recommendations"]]
    assert world.people.citizen not in data.text  # the raw id is never echoed back


def test_early_help_for_the_caseworker_is_audited(service, world):
    client, tokens, _ = service
    cw = tokens("caseworker", world.people.caseworker)
    response = client.get(f"/v1/citizens/{world.people.on_caseload}/early-help", headers=cw)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["available"] is True and body["band"] in ("low", "medium", "high")
    assert 0.0 <= body["probability"] <= 1.0 and body["model_version"] == world.early_help_version
    assert "audit trail" in body["notice"]
    # household composition and age: context without a direction, never a factor (issue 15)
    assert body["context"] and any(c.startswith("aged ") for c in body["context"])
    assert not set(body["context"]) & {f["text"] for f in body["factors"]}
    caseload = client.get("/v1/caseload", headers=cw).json()
    assert caseload["households"] and [h["priority"] for h in caseload["households"]] == list(
        range(1, len(caseload["households"]) + 1))
    trail = client.get("/v1/audit", headers=tokens("admin", "admin-1")).json()["entries"]
    assert {"early_help.view", "caseload.view"} <= {e["action"] for e in trail}


def test_family_objection_hides_the_indicator(service, world):
    client, tokens, _ = service
    if world.people.household_member is None:
        return
    cw = tokens("caseworker", world.people.caseworker)
    admin = tokens("admin", "admin-1")
    objected = client.put(f"/v1/citizens/{world.people.household_member}/consent", headers=admin,
                          json={"purpose": "early_intervention", "status": "objected", "method": "paper",
                                "note": "letter of objection received"})
    assert objected.status_code == 200, objected.text
    body = client.get(f"/v1/citizens/{world.people.on_caseload}/early-help", headers=cw).json()
    assert body["available"] is False and body["band"] is None and "objected" in body["notice"]


def test_unauthenticated_and_malformed_requests(service, world):
    client, tokens, _ = service
    assert client.get(f"/v1/citizens/{world.people.citizen}/recommendations").status_code == 401
    bad = client.get(f"/v1/citizens/{world.people.citizen}/recommendations",
                     headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    me = tokens("citizen", world.people.citizen)
    for path in (f"/v1/citizens/{world.people.citizen}/recommendations?k=0",
                 f"/v1/citizens/{world.people.citizen}/recommendations?k=51",
                 f"/v1/citizens/{world.people.citizen}/recommendations?k=ten",
                 "/v1/citizens/bad%20id/recommendations",
                 "/v1/services?limit=100000"):
        response = client.get(path, headers=me)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"] and response.json()["code"] == "invalid_request"
    assert client.get("/v1/services?" + "x=1&" * 1000, headers=me).status_code == 414
    big = client.post("/v1/events", headers=me | {"content-type": "application/json"},
                      content=b"[" + b"1," * 200_000 + b"1]")
    assert big.status_code == 413, big.text
    broken = client.post("/v1/events", headers=me | {"content-type": "application/json"}, content=b"{nope")
    assert broken.status_code == 422
    assert client.get("/v1/nowhere", headers=me).status_code == 404


def test_recommendation_parameters_are_validated_together_and_documented(service, world):
    """The route reads its parameters without FastAPI's resolver: same 422s, same OpenAPI."""
    client, tokens, _ = service
    me = tokens("citizen", world.people.citizen)
    both = client.get("/v1/citizens/bad%20id/recommendations?k=0", headers=me)
    assert both.status_code == 422, both.text
    assert [e["loc"] for e in both.json()["errors"]] == [["path", "person_id"], ["query", "k"]]
    assert both.json()["detail"].startswith("person_id: String should match pattern")
    assert client.get("/v1/citizens/bad%20id/recommendations?k=0").status_code == 401  # the token comes first
    assert len(client.get(f"/v1/citizens/{world.people.citizen}/recommendations?k=2", headers=me)
               .json()["recommendations"]) <= 2
    operation = client.get("/openapi.json").json()["paths"]["/v1/citizens/{person_id}/recommendations"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["person_id"]["in"] == "path" and params["person_id"]["required"]
    assert params["person_id"]["schema"]["pattern"] == PERSON_ID_PATTERN
    assert params["k"]["in"] == "query" and not params["k"]["required"]
    assert {key: params["k"]["schema"][key] for key in ("type", "minimum", "maximum", "default")} == {
        "type": "integer", "minimum": 1, "maximum": 50, "default": 10}
    assert {"401", "403", "422", "429"} <= set(operation["responses"])


def test_failed_sign_ins_are_rate_limited(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path, auth_failures_per_minute=5)
    with running(settings) as client:
        codes = [client.get("/v1/services", headers={"Authorization": "Bearer nope"}).status_code for _ in range(8)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
        blocked = client.get("/v1/services", headers={"Authorization": "Bearer nope"})
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
        good = Tokens(settings)("admin", "admin-1")  # never locked out by someone else's failures
        assert client.get("/v1/services", headers=good).status_code == 200


def test_scraping_is_rate_limited(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path, people_per_hour=3, refusals_per_minute=1000)
    with running(settings) as client:
        cw = Tokens(settings)("caseworker", world.people.caseworker)
        codes = [client.get(f"/v1/citizens/{p}/recommendations", headers=cw).status_code
                 for p in world.people.erasable[:6]]
        assert codes[:3] == [403] * 3 and set(codes[3:]) == {429}


def test_logs_hold_no_raw_ids_or_tokens(service, world, caplog):
    client, tokens, _ = service
    me = tokens("citizen", world.people.citizen)
    caplog.set_level(logging.INFO, logger="signpost")
    for logger in ("signpost", "signpost.access", "signpost.api"):
        logging.getLogger(logger).propagate = True
    try:
        recs(client, world.people.citizen, me)
        client.get(f"/v1/citizens/{world.people.other_citizen}/recommendations", headers=me)
        client.get(f"/v1/citizens/{world.people.citizen}/recommendations", headers={"Authorization": "Bearer junk"})
    finally:
        logging.getLogger("signpost").propagate = False
    from serving.http.logs import JsonFormatter

    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert '"route": "/v1/citizens/{person_id}/recommendations"' in text
    assert '"msg": "refused"' in text
    for secret in (world.people.citizen, world.people.other_citizen, me["Authorization"].split()[1], "junk",
                   world.county.key):
        assert secret not in text


def test_health_ready_metrics(service):
    client, _, _ = service
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True and ready.json()["degraded"] is False
    assert client.get("/metrics").status_code == 404  # off without SIGNPOST_METRICS_TOKEN (tests/serving/test_problems.py)
    assert client.get("/healthz").headers["x-request-id"]


def test_degraded_without_a_registry(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path,
                                mlflow_tracking_uri=f"sqlite:///{tmp_path / 'no-registry' / 'mlflow.db'}")
    with running(settings) as client:
        ready = client.get("/readyz").json()
        assert ready["ready"] is True and ready["degraded"] is True
        assert any("no MLflow registry" in reason for reason in ready["reasons"])
        me = Tokens(settings)("citizen", world.people.citizen)
        body = recs(client, world.people.citizen, me)
        assert body["degraded"] is True and body["personalised"] is False and body["recommendations"]
        assert body["model_version"] == "popularity-fallback"
        eh = client.get(f"/v1/citizens/{world.people.on_caseload}/early-help",
                        headers=Tokens(settings)("caseworker", world.people.caseworker)).json()
        assert eh["available"] is False
    assert not (tmp_path / "no-registry").exists()  # polling never creates a registry


def test_openapi_documents_auth_examples_and_errors(service):
    client, _, _ = service
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["bearerFormat"] == "JWT"
    recs_op = spec["paths"]["/v1/citizens/{person_id}/recommendations"]["get"]
    assert {"200", "401", "403", "404", "410", "422", "429"} <= set(recs_op["responses"])
    schemas = spec["components"]["schemas"]
    for name in ("RecommendationsOut", "EventsIn", "ConsentChange", "FeedbackIn", "EarlyHelpOut", "ErrorOut"):
        assert schemas[name].get("examples"), name
    person = next(p for p in recs_op["parameters"] if p["name"] == "person_id")
    assert person["schema"]["pattern"] and person.get("examples") or person["schema"].get("examples")


def test_requests_answered_together_match_each_answered_alone(service, world):
    """Concurrent requests share one ledger query and one model call; each answer must be
    exactly what that person gets alone, whatever the others' consent, feedback or erasure."""
    import asyncio

    import httpx
    import pandas as pd

    from serving.infra import metrics

    client, tokens, _ = service
    raw = pd.read_csv(world.county.raw / "citizens.csv", dtype=str)["person_id"].dropna()
    people = [p for p in raw.drop_duplicates(keep=False).tolist() if p not in world.people.erasable][:30]
    withdrawn, picky, erased = people[0], people[1], world.people.erasable[-1]
    client.put(f"/v1/citizens/{withdrawn}/consent", headers=tokens("citizen", withdrawn),
               json={"purpose": "personalisation", "status": "withdrawn"})
    first = client.get(f"/v1/citizens/{picky}/recommendations", headers=tokens("citizen", picky)).json()
    if first.get("recommendations"):
        assert client.post("/v1/feedback", headers=tokens("citizen", picky), json={
            "person_id": picky, "service_id": first["recommendations"][0]["service_id"],
            "decision": "not_for_me"}).status_code == 201
    assert client.delete(f"/v1/citizens/{erased}", headers=tokens("admin", "admin-1")).status_code == 200
    asked = [*people, erased, "NOT-A-RESIDENT-1"]

    def strip(response):  # without a problem's `instance`: the request id differs by request
        return response.status_code, {k: v for k, v in response.json().items() if k != "instance"}

    alone = [strip(client.get(f"/v1/citizens/{p}/recommendations?k=5", headers=tokens("citizen", p)))
             for p in asked]

    async def together():
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as concurrent:
            return await asyncio.gather(*(
                concurrent.get(f"/v1/citizens/{p}/recommendations?k=5", headers=tokens("citizen", p)) for p in asked
            ))

    def model_calls() -> float:
        return next(s.value for s in metrics.BATCH.collect()[0].samples if s.name.endswith("_count"))

    calls_before = model_calls()
    answers = [strip(r) for r in asyncio.run(together())]
    assert answers == alone
    statuses = [status for status, _ in answers]
    assert statuses.count(200) == len(people) and statuses[-2:] == [410, 404]
    assert answers[0][1]["personalised"] is False and "not agreed" in answers[0][1]["notice"]
    batches = model_calls() - calls_before
    assert batches < len(asked) / 4, f"{len(asked)} concurrent requests took {batches} model calls"


def test_the_apis_json_is_the_models_own(service, world):
    """The API puts its JSON together from parts serialised once per build; it must be exactly
    `RecommendationsOut` serialised whole, as the plain path builds it, for every kind of list."""
    import asyncio

    import pandas as pd

    from serving.domain.recommendations import Batcher
    from serving.http.fast_path import recommendations_json, recommendations_out
    from serving.http.schemas import RecommendationsOut

    client, tokens, _ = service
    runtime = client.app.state.runtime
    raw = pd.read_csv(world.county.raw / "citizens.csv", dtype=str)["person_id"].dropna()
    people = [p for p in raw.drop_duplicates(keep=False).tolist() if p not in world.people.erasable][:25]
    withdrawn, picky = people[0], people[1]
    client.put(f"/v1/citizens/{withdrawn}/consent", headers=tokens("citizen", withdrawn),
               json={"purpose": "personalisation", "status": "withdrawn"})
    top = recs(client, picky, tokens("citizen", picky))["recommendations"]
    if top:
        client.post("/v1/feedback", headers=tokens("citizen", picky), json={
            "person_id": picky, "service_id": top[0]["service_id"], "decision": "not_for_me"})
    kinds = set()
    plain = Batcher(runtime.database, runtime.settings)  # the same answer path, off the server's loop
    for person_id, k in zip(people, [1, 3, 5, 10, 50] * 5, strict=True):
        response = client.get(f"/v1/citizens/{person_id}/recommendations?k={k}", headers=tokens("citizen", person_id))
        assert response.status_code == 200, response.text
        person = runtime.person(runtime.person_pseudonym(person_id))
        answer = asyncio.run(plain.answer(person, models=runtime.store.current, processed=runtime.require_processed(),
                                          served=None, k=k))
        whole = recommendations_out(answer)
        assert response.content == whole.model_dump_json().encode()
        assert response.content == recommendations_json(answer)
        assert RecommendationsOut.model_validate_json(response.content) == whole
        kinds.add((whole.personalised, whole.notice, len(whole.recommendations) > 0))
    assert {personalised for personalised, _, _ in kinds} == {True, False}, kinds


def test_a_citizen_may_name_themselves_me(service, world):
    """A citizen's app needs no council id: `me` is whoever the token names."""
    client, tokens, _ = service
    own = world.people.citizen
    me = tokens("citizen", own)
    assert recs(client, "me", me) == recs(client, own, me)
    assert client.get("/v1/citizens/me/consent", headers=me).json() == \
        client.get(f"/v1/citizens/{own}/consent", headers=me).json()
    first = recs(client, "me", me)["recommendations"][0]["service_id"]
    assert client.post("/v1/feedback", headers=me, json={
        "person_id": "me", "service_id": first, "decision": "not_for_me"}).status_code == 201
    assert first not in [r["service_id"] for r in recs(client, own, me)["recommendations"]]
    staff = client.get("/v1/citizens/me/recommendations", headers=tokens("caseworker", world.people.caseworker))
    assert staff.status_code == 404 and "staff use the person's id" in staff.json()["detail"]
