"""The recommendation route's fast path (serving/http/fast_path.py) answers exactly as the plain
path, FastAPI's dependencies, does: the same status, headers and bytes for every request.

A request whose token is spelled `bearer` (HTTPBearer reads the scheme case-blind) always
takes the plain path, so each request is sent twice, once in each spelling, to the real app on
a real database; `fast_arguments` is checked to take the `Bearer` spelling of well-formed
requests, so the pairs really do compare the two paths.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.requests import Request

from serving.http.fast_path import fast_arguments
from serving.http.schemas import MAX_SUGGESTIONS

from .conftest import Tokens, running, service_settings

#: Headers that differ between any two requests, whichever path answers.
PER_REQUEST = {"x-request-id"}


@pytest.fixture
def lenient(world, database_url, tmp_path):
    """The service with refusal and failure limits out of the way (a pair must not straddle one)."""
    settings = service_settings(world, database_url, tmp_path, refusals_per_minute=10**6,
                                auth_failures_per_minute=10**6)
    with running(settings) as client:
        yield client, Tokens(settings)


def both_ways(client, path: str, token: str | None):
    """(fast-shaped answer, plain answer) of one request, each as (status, headers, body)."""
    def answer(scheme: str):
        headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
        response = client.get(path, headers=headers)
        body = response.content
        per_request = PER_REQUEST
        if response.headers.get("content-type") == "application/problem+json":
            problem = response.json()
            assert problem.pop("instance") == response.headers["x-request-id"]
            body = problem
            # the body carries the request id, whose length varies, so its length does too
            per_request = PER_REQUEST | {"content-length"}
        kept = {k: v for k, v in response.headers.items() if k not in per_request}
        return response.status_code, kept, body

    return answer("Bearer"), answer("bearer")


def request_for(path: str, query: str, authorization: str | None) -> Request:
    """A request as the route sees it: `path_params` filled in by routing."""
    headers = [(b"authorization", authorization.encode())] if authorization is not None else []
    return Request({"type": "http", "method": "GET", "path": path, "query_string": query.encode(),
                    "headers": headers, "path_params": {"person_id": path.split("/")[3]}})


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_well_formed_requests_take_the_fast_path_and_nothing_else_does():
    path = "/v1/citizens/P000123/recommendations"
    assert fast_arguments(request_for(path, "k=10", "Bearer abc")) == ("abc", "P000123", 10)
    assert fast_arguments(request_for(path, f"k={MAX_SUGGESTIONS}", "Bearer abc"))[2] == MAX_SUGGESTIONS
    assert fast_arguments(request_for("/v1/citizens/me/recommendations", "k=1", "Bearer abc")) == ("abc", "me", 1)
    for query in ["", "k=0", f"k={MAX_SUGGESTIONS + 1}", "k=-1", "k=05", "k=+5", "k=5.0", "k=abc", "k=5&k=6",
                  "k=5&x=1", "x=1&k=5", "k=%35"]:
        assert fast_arguments(request_for(path, query, "Bearer abc")) is None, query
    for authorization in [None, "", "Bearer", "Bearer ", "bearer abc", "Basic abc", "abc"]:
        assert fast_arguments(request_for(path, "k=10", authorization)) is None, authorization
    for person_id in ["-P1", ".P1", "P 1", "P1\n", "P" * 65, "P1%2F", ""]:
        request = request_for(path, "k=10", "Bearer abc")
        request.scope["path_params"] = {"person_id": person_id}
        assert fast_arguments(request) is None, person_id


def test_both_paths_answer_every_role_alike(service, world):
    client, tokens, _ = service
    people = world.people
    own, other = people.citizen, people.other_citizen
    erased = people.erasable[0]
    assert client.delete(f"/v1/citizens/{erased}", headers=tokens("admin", "admin-1")).status_code == 200
    citizen, caseworker = token_of(tokens("citizen", own)), token_of(tokens("caseworker", people.caseworker))
    cases = [
        (f"/v1/citizens/{own}/recommendations?k=10", citizen, 200),
        (f"/v1/citizens/{own}/recommendations?k=1", citizen, 200),
        (f"/v1/citizens/{own}/recommendations?k={MAX_SUGGESTIONS}", citizen, 200),
        ("/v1/citizens/me/recommendations?k=3", citizen, 200),
        (f"/v1/citizens/{other}/recommendations?k=10", citizen, 403),
        (f"/v1/citizens/{people.on_caseload}/recommendations?k=5", caseworker, 200),
        (f"/v1/citizens/{other}/recommendations?k=5", caseworker, 403),
        ("/v1/citizens/me/recommendations?k=5", caseworker, 404),
        (f"/v1/citizens/{own}/recommendations?k=10", token_of(tokens("analyst", "analyst-1")), 403),
        (f"/v1/citizens/{own}/recommendations?k=10", token_of(tokens("partner", "libraries")), 403),
        (f"/v1/citizens/{erased}/recommendations?k=10", token_of(tokens("citizen", erased)), 410),
        ("/v1/citizens/NOSUCHPERSON1/recommendations?k=10", token_of(tokens("citizen", "NOSUCHPERSON1")), 404),
        (f"/v1/citizens/{own}/recommendations?k=10", citizen[:-4] + "AAAA", 401),
        (f"/v1/citizens/{own}/recommendations?k=10", "not-a-token", 401),
        # not well-formed: the plain path answers both (FastAPI's own 422s, or the default k)
        (f"/v1/citizens/{own}/recommendations?k=0", citizen, 422),
        (f"/v1/citizens/{own}/recommendations", citizen, 200),
        ("/v1/citizens/-bad/recommendations?k=10", citizen, 422),
    ]
    for path, token, status in cases:
        fast, plain = both_ways(client, path, token)
        assert fast == plain, path
        assert fast[0] == status, (path, fast)


def test_both_paths_refuse_alike_past_the_request_limit(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path, requests_per_minute=2)
    own = world.people.citizen
    with running(settings) as client:
        token = token_of(Tokens(settings)("citizen", own))
        answers = [both_ways(client, f"/v1/citizens/{own}/recommendations?k=10", token) for _ in range(3)]
    assert [(fast[0], plain[0]) for fast, plain in answers] == [(200, 200), (429, 429), (429, 429)]
    for fast, plain in answers[1:]:
        assert fast[2] == plain[2] and fast[1].keys() == plain[1].keys() and "retry-after" in fast[1]


queries = st.one_of(
    st.integers(-3, MAX_SUGGESTIONS + 3).map(lambda k: f"k={k}"),
    st.text(alphabet="k=0123456789+-.&x%", max_size=8),
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries, who=st.sampled_from(["own", "me", "other", "unknown", "malformed"]))
def test_both_paths_answer_any_request_alike(lenient, world, query, who):
    client, tokens = lenient
    own = world.people.citizen
    person_id = {"own": own, "me": "me", "other": world.people.other_citizen, "unknown": "NOSUCHPERSON2",
                 "malformed": "-P1"}[who]
    fast, plain = both_ways(client, f"/v1/citizens/{person_id}/recommendations?{query}",
                            token_of(tokens("citizen", own)))
    assert fast == plain
