"""The recommendations answer as JSON bytes, put together from parts serialised once.

The API's hottest path. Building, validating and serialising a `RecommendationsOut` with its
ten suggestions costs more per request than the rest of the route's own work, yet the same
suggestion (service, rank, reason) recurs across thousands of people and the list's head
(model version, notice, ...) takes a handful of values. So each part is serialised by
pydantic once, from the schema itself, and a request only joins bytes (README, benchmark
section, "How it got here": one of the three changes of its last step, which together took a
recommendation from 324 to about 298 us of CPU). `tests/serving/test_flows.py::test_the_apis_json_is_the_models_own`
checks the bytes equal `recommendations_out(answer).model_dump_json()` for every kind of list.
"""

from __future__ import annotations

from serving.domain.recommendations import Recommendations, Suggestion
from serving.http.schemas import RecommendationsOut, SuggestionOut

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
