"""Property-based requests generated from the OpenAPI schema: no answer is ever a 5xx.

Bounded (a few examples per operation, several roles) so it runs in a couple of minutes.
The app is started once (lifespan: migrations, seeding, models) and schemathesis calls it
in process.
"""

from __future__ import annotations

import hashlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import Tokens, running, service_settings

ROLES = ("citizen", "caseworker", "analyst", "admin")


@pytest.fixture(scope="module")
def started(world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schemathesis")
    app_settings = service_settings(
        world, f"sqlite:///{tmp / 'service.db'}", tmp, requests_per_minute=10**6,
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


def test_no_server_errors(started):
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
            response = case.call(headers=tokens(role, subjects[role]) if fresh else headers[role])
            seen[(case.method, response.status_code)] = seen.get((case.method, response.status_code), 0) + 1
            where = f"{case.method} {case.formatted_path} as {role} -> {response.status_code}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.text[:300]}")
            elif response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                if not response.json().get("detail"):
                    failures.append(f"{where}: error without a message: {response.text[:300]}")

        check()
    assert operations >= 15
    assert any(200 <= status < 300 for _, status in seen)  # the requests got past authentication
    assert not failures, "\n".join(sorted(set(failures))[:30])
