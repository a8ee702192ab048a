"""Errors as RFC 9457 problem details, no 5xx from any input, and a 500 that can be traced.

Issue 14's findings: an out-of-range `occurred_at` was a 500 (an OverflowError converting it to
UTC); that 500, like any unhandled error, had no security headers and request id `-`; error
bodies were `{detail, code}` (one 413 plain text) while the OpenAPI promised FastAPI's default
422 list and left 400, 413 and 414 out.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from http import HTTPStatus

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from serving.http.schemas import EventIn

from .conftest import Tokens, service_settings

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code"}


def assert_problem(response, status: int) -> dict:
    """The body is a problem for this request: RFC 9457 members, instance = the request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body = response.json()
    assert PROBLEM_FIELDS <= set(body), body
    assert body["status"] == status and body["title"] == HTTPStatus(status).phrase and body["type"] == "about:blank"
    assert body["detail"] and body["code"]
    assert body["instance"] == response.headers["x-request-id"] != "-"
    return body


# ------------------------------------------------------------------ timestamps ---------------

OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
EXTREME_MOMENTS = st.builds(
    datetime,
    year=st.sampled_from([1, 2, 1970, 2026, 9998, 9999]), month=st.integers(1, 12), day=st.integers(1, 28),
    hour=st.integers(0, 23), minute=st.integers(0, 59), second=st.integers(0, 59),
    tzinfo=st.one_of(st.none(), OFFSETS),
)


def converts_to_utc(moment: datetime) -> bool:
    try:
        (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)
    except OverflowError:
        return False
    return True


@given(moment=EXTREME_MOMENTS)
@example(moment=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
@example(moment=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(minutes=1))))
@settings(max_examples=300, deadline=None)
def test_every_timestamp_field_refuses_what_utc_cannot_hold(moment):
    """`occurred_at` (the one timestamp the API accepts) validates or names itself; never raises else."""
    event = {"event_id": "e-1", "source": "libraries", "person_id": "P1", "service_id": "S1",
             "occurred_at": moment.isoformat(), "event_type": "loan"}
    try:
        EventIn.model_validate(event)
    except ValidationError as error:
        assert not converts_to_utc(moment), error
        assert [problem["loc"] for problem in error.errors()] == [("occurred_at",)]
    else:
        assert converts_to_utc(moment)


@pytest.fixture
def admin_client(world, database_url, tmp_path):
    from serving.http.app import create_app

    app_settings = service_settings(world, database_url, tmp_path)
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as client:
        yield client, Tokens(app_settings)("admin", "admin-1")


@given(moment=EXTREME_MOMENTS)
@example(moment=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
@example(moment=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(minutes=1))))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_extreme_event_times_are_422_naming_the_field(admin_client, world, moment):
    client, admin = admin_client
    event = {"event_id": f"x-{moment.isoformat()}", "source": "council", "person_id": world.people.citizen,
             "service_id": "NOPE-1", "occurred_at": moment.isoformat(), "event_type": "loan"}
    response = client.post("/v1/events", headers=admin, json={"events": [event]})
    body = assert_problem(response, 422)  # an unknown service otherwise: 422 in every case
    if not converts_to_utc(moment):
        assert body["code"] == "invalid_request" and "occurred_at" in body["detail"]
        assert body["errors"][0]["loc"] == ["body", "events", "0", "occurred_at"]


# ------------------------------------------------------------------ a real 500 ---------------


class Collect(logging.Handler):
    """Log lines as the service writes them (formatted while the request's context is live)."""

    def __init__(self) -> None:
        super().__init__()
        from serving.http.logs import JsonFormatter

        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_an_unhandled_error_is_a_traceable_problem_with_security_headers(world, tmp_path):
    """A route that really raises, inside the real app and middleware: 500 problem, headers, id in the log."""
    from serving.http.app import create_app

    app = create_app(service_settings(world, f"sqlite:///{tmp_path / 'service.db'}", tmp_path))

    @app.get("/v1/explode")
    def explode() -> None:
        raise RuntimeError("a bug the tests planted")

    collect = Collect()
    logging.getLogger("signpost").addHandler(collect)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/v1/explode")
            healthy = client.get("/healthz")
    finally:
        logging.getLogger("signpost").removeHandler(collect)
    body = assert_problem(response, 500)
    assert body["code"] == "internal" and "a bug the tests planted" not in response.text
    assert body["instance"] in body["detail"]
    for header in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy",
                   "cache-control"):
        assert response.headers.get(header), header
    rid = body["instance"]
    errors = [line for line in collect.lines if line["msg"] == "unhandled error"]
    assert [line["request_id"] for line in errors] == [rid] and "RuntimeError" in errors[0]["error"]
    access = [line for line in collect.lines if line["msg"] == "request" and line["request_id"] == rid]
    assert [line["status"] for line in access] == [500]
    assert healthy.status_code == 200  # the app keeps serving


# ------------------------------------------------------------------ every error a problem ----


def test_every_api_error_is_a_problem(service, world):
    client, tokens, settings = service
    me = tokens("citizen", world.people.citizen)
    person = world.people.citizen
    assert_problem(client.get(f"/v1/citizens/{person}/recommendations"), 401)
    assert client.get(f"/v1/citizens/{person}/recommendations").headers["www-authenticate"] == "Bearer"
    assert_problem(client.get(f"/v1/citizens/{world.people.other_citizen}/consent", headers=me), 403)
    assert_problem(client.get("/v1/nowhere", headers=me), 404)
    assert_problem(client.get(f"/v1/citizens/{person}/recommendations?k=0", headers=me), 422)
    invalid = client.post("/v1/events", headers=me | {"content-type": "application/json"}, content=b"{nope")
    assert assert_problem(invalid, 422)["errors"]
    assert assert_problem(client.get("/v1/services/NOPE-1/similar", headers=me), 404)["code"] == "not_found"
    assert_problem(client.get("/v1/services?" + "x=1&" * 1000, headers=me), 414)
    for oversize in (b"[" + b"1," * 200_000 + b"1]", b"x" * (settings.max_body_bytes + 1)):
        assert_problem(client.post("/v1/events", headers=me | {"content-type": "application/json"},
                                   content=oversize), 413)
    assert_problem(client.put(f"/v1/citizens/{person}/consent", headers=me | {"content-type": "application/json"},
                              content=b" " * (settings.max_body_bytes + 1)), 413)
    chunked = iter([b" " * 65_536] * (settings.max_body_bytes // 65_536 + 2))  # no Content-Length
    assert_problem(client.post("/v1/events", headers=me | {"content-type": "application/json"}, content=chunked), 413)
    junk = {"Authorization": "Bearer junk"}
    statuses = [client.get("/v1/services", headers=junk) for _ in range(settings.auth_failures_per_minute + 1)]
    limited = assert_problem(statuses[-1], 429)
    assert limited["code"] == "rate_limited" and statuses[-1].headers["retry-after"]


def test_the_openapi_declares_a_problem_for_every_error_status(service):
    """Each route's error statuses are `application/problem+json` with the Problem schema, 422 included."""
    client, _, _ = service
    document = client.get("/openapi.json").json()
    problem = document["components"]["schemas"]["ErrorOut"]
    assert PROBLEM_FIELDS <= set(problem["properties"]) and "errors" in problem["properties"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    declared = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and not (path == "/readyz" and status == "503"):
                    assert list(response["content"]) == ["application/problem+json"], (path, method, status)
                    assert response["content"]["application/problem+json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorOut"}
            declared[(method, path)] = set(operation["responses"])
    assert {"401", "403", "404", "414", "422", "429", "500"} <= declared[("get", "/v1/citizens/{person_id}/consent")]
    assert {"409", "413", "422"} <= declared[("post", "/v1/events")]
    assert {"413"} <= declared[("put", "/v1/citizens/{person_id}/consent")]
