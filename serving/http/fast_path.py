"""The recommendation route's fast path: the API's hottest route, without FastAPI's per-request
machinery, and its answer as JSON bytes joined from parts serialised once.

Both halves give exactly what the plain path gives; they only skip work that does not change
the answer (README, benchmark section, "This round" and "The change"):

- **The route** (`RecommendationsRoute`). `GET /v1/citizens/{person_id}/recommendations`
  declares its viewer, person and `k` as FastAPI dependencies like every other route, and that
  is the plain path. Solving them (seven dependency nodes, each with its parameter look-ups)
  and the rest of FastAPI's request handler cost about 150 us of CPU per request measured in
  process, more than the batched model call and a third of the whole request. So a request of the
  one shape that cannot fail validation — a `Bearer` token, a person id matching
  `PERSON_ID_PATTERN`, and a query of exactly `k=N` with N in range — calls the same functions
  the dependencies call (`deps.authenticate`, `deps.person_of`) and then the route's own
  function; any other request (no or odd token, a bad id, a bad or missing `k`, other query
  parameters) takes the plain path, so every error, 422 included, is FastAPI's own. Errors
  raised on the fast path (401, 403, 404, 410, 429, 503) go to the same exception handlers.
  `tests/serving/test_fast_path.py` checks both paths answer alike, byte for byte, for
  well-formed and malformed requests of every role.
- **The JSON** (`recommendations_json`). Building, validating and serialising a
  `RecommendationsOut` with its ten suggestions costs more per request than the rest of the
  route's own work, yet the same suggestion (service, rank, reason) recurs across thousands of
  people and the list's head (model version, notice, ...) takes a handful of values. So each
  part is serialised by pydantic once, from the schema itself, and a request only joins bytes.
  `tests/serving/test_flows.py::test_the_apis_json_is_the_models_own` checks the bytes equal
  `recommendations_out(answer).model_dump_json()` for every kind of list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from serving.domain.recommendations import Recommendations, Suggestion
from serving.http import deps
from serving.http.schemas import (
    MAX_SUGGESTIONS,
    PERSON_ID_PATTERN,
    RecommendationsOut,
    SuggestionOut,
)

_PERSON_ID = re.compile(PERSON_ID_PATTERN)
#: The query strings FastAPI is certain to accept for `k` (`k=1` ... `k=50`), and their value.
_K_QUERIES = {f"k={k}".encode(): k for k in range(1, MAX_SUGGESTIONS + 1)}


def fast_arguments(request: Request) -> tuple[str, str, int] | None:
    """(bearer token, person id, k) when the request is of the shape whose parameters cannot
    fail validation, else None (the plain path then answers it, with FastAPI's own errors)."""
    k = _K_QUERIES.get(request.scope["query_string"])
    if k is None:
        return None
    person_id = request.path_params.get("person_id")
    if not isinstance(person_id, str) or _PERSON_ID.fullmatch(person_id) is None:
        return None
    # what `deps.bearer` (HTTPBearer, auto_error off) hands `get_viewer`, for the "Bearer" spelling only
    scheme, _, credentials = (request.headers.get("authorization") or "").partition(" ")
    credentials = credentials.strip()
    if scheme != "Bearer" or not credentials:
        return None
    return credentials, person_id, k


class RecommendationsRoute(APIRoute):
    """The recommendation route with its fast path in front of FastAPI's request handler.

    `get_route_handler` is FastAPI's documented hook for a custom route class; the plain
    handler it wraps is FastAPI's own, used for every request `fast_arguments` declines.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        plain = super().get_route_handler()
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            arguments = fast_arguments(request)
            if arguments is None:
                return await plain(request)
            token, person_id, k = arguments
            viewer = deps.authenticate(request, token)  # as `ViewerDep`
            person = deps.person_of(request, viewer, person_id)  # as `PersonDep`
            return await endpoint(person=person, viewer=viewer, runtime=request.app.state.runtime, k=k)

        return handler


EMPTY_TAIL = b'"recommendations":[]}'
MEMO_SIZE = 100_000  # parts kept (a few MB); cleared when full

#: id(domain suggestion) -> (the suggestion, kept alive so its id stays its own; its JSON)
_suggestions: dict[int, tuple[Suggestion, bytes]] = {}
#: the answer's fields but the list -> its JSON up to and including `"recommendations":[`
_heads: dict[tuple, bytes] = {}


def suggestion_out(suggestion: Suggestion) -> SuggestionOut:
    return SuggestionOut(
        rank=suggestion.rank, service_id=suggestion.service_id, name=suggestion.name, category=suggestion.category,
        provider=suggestion.provider, reason=suggestion.reason, means_tested=suggestion.means_tested,
        eligibility_note=suggestion.eligibility_note, url=suggestion.url,
    )


def recommendations_out(answer: Recommendations) -> RecommendationsOut:
    """The plain path: the whole schema, built and validated."""
    return RecommendationsOut(
        model_version=answer.model_version, model=answer.model, personalised=answer.personalised,
        degraded=answer.degraded, notice=answer.notice,
        recommendations=[suggestion_out(s) for s in answer.recommendations],
    )


def recommendations_json(answer: Recommendations) -> bytes:
    """`recommendations_out(answer).model_dump_json()`, byte for byte, from memoised parts."""
    key = (answer.model_version, answer.model, answer.personalised, answer.degraded, answer.notice)
    head = _heads.get(key)
    if head is None:
        empty = RecommendationsOut(model_version=answer.model_version, model=answer.model,
                                   personalised=answer.personalised, degraded=answer.degraded,
                                   notice=answer.notice, recommendations=[])
        whole = empty.model_dump_json().encode()
        if not whole.endswith(EMPTY_TAIL):
            raise AssertionError("RecommendationsOut must serialise `recommendations` last")
        if len(_heads) >= MEMO_SIZE:
            _heads.clear()
        head = _heads[key] = whole[:-2]
    return b"".join((head, b",".join([_suggestion_json(s) for s in answer.recommendations]), b"]}"))


def _suggestion_json(suggestion: Suggestion) -> bytes:
    found = _suggestions.get(id(suggestion))
    if found is None or found[0] is not suggestion:
        if len(_suggestions) >= MEMO_SIZE:
            _suggestions.clear()
        out = suggestion_out(suggestion)
        found = _suggestions[id(suggestion)] = (suggestion, out.model_dump_json().encode())
    return found[1]
