"""Property-based requests generated from the OpenAPI schema: no answer is ever a 5xx, and every
answer keeps the schema's promises — a documented status code, a documented content type, and a
body that validates against the response schema (RFC 9457 problems for every error).

Bounded (a few examples per operation, several roles) so it runs in a couple of minutes per
database. The app is started once per database (lifespan: migrations, seeding, models) and
schemathesis calls it in process.
"""

from __future__ import annotations

import hashlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import Tokens, _empty_postgres, running, service_settings

ROLES = ("citizen", "caseworker", "analyst", "admin")
#: The pinned schemathesis's own checks: no 5xx, and conformance to the schema's responses.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def started(world, tmp_path_factory, request):
    tmp = tmp_path_factory.mktemp("schemathesis")
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp / 'service.db'}"
    else:
        database_url = request.getfixturevalue("postgres_database")
        _empty_postgres(database_url)
    app_settings = service_settings(
        world, database_url, tmp, requests_per_minute=10**6,
        refusals_per_minute=10**6, people_per_hour=10**6, auth_failures_per_minute=10**6,
    )
    with running(app_settings) as client:
        tokens = Tokens(app_settings)
        people = world.people
        subjects = {"citizen": people.citizen, "caseworker": people.caseworker, "analyst": "analyst-1",
                    "admin": "admin-1"}
        headers = {role: tokens(role, subject) for role, subject in subjects.items()}
        yield client.app, headers, tokens, subjects


#: Operations that revoke the token they are sent with: each case gets a fresh one, so the
#: shared tokens stay good for every other operation.
REVOKING = {("POST", "/v1/sign-out")}


def test_every_answer_conforms_to_the_schema(started):
    """Every operation, a bounded number of generated requests each, spread over the roles."""
    app, headers, tokens, subjects = started
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    seen: dict = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            key = repr((case.path_parameters, case.query, case.body)).encode()
            role = ROLES[int(hashlib.sha256(key).hexdigest(), 16) % len(ROLES)]
            fresh = (case.method, case.path) in REVOKING
            sent = tokens(role, subjects[role]) if fresh else headers[role]
            response = case.call(headers=sent)
            seen[(case.method, response.status_code)] = seen.get((case.method, response.status_code), 0) + 1
            where = f"{case.method} {case.formatted_path} as {role} -> {response.status_code}"
            try:
                case.validate_response(response, checks=CHECKS, headers=sent)
            except FailureGroup as failed:
                failures.append(f"{where}: {'; '.join(f'{f.title}: {f.message[:300]}' for f in failed.exceptions)}")
            if response.status_code >= 400 and not (
                response.headers.get("content-type") == ["application/problem+json"] and response.json().get("detail")
            ):
                failures.append(f"{where}: an error that is not a problem with a detail: {response.text[:300]}")

        check()
    assert operations >= 15
    assert any(200 <= status < 300 for _, status in seen)  # the requests got past authentication
    assert not failures, "\n".join(sorted(set(failures))[:30])
