"""Rate limits: failed sign-ins per address, requests and refusals per subject, distinct people."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serving.infra.limits import DistinctPeople, Limits, RateLimited, SlidingWindow
from signpost.settings import Settings


@given(st.lists(st.floats(min_value=0, max_value=59.9), min_size=1, max_size=200))
def test_window_never_undercounts_hits_in_the_same_bucket(times):
    window = SlidingWindow(limit=1_000, seconds=60.0)
    for i, t in enumerate(sorted(times), start=1):
        assert window.hit("k", now=t) >= i - 1e-9


def test_window_forgets_after_two_periods():
    window = SlidingWindow(limit=3, seconds=60.0)
    for t in (1, 2, 3):
        window.hit("k", now=t)
    assert window.exceeded("k", now=4)
    assert not window.exceeded("k", now=125)


def test_failed_auth_blocks_the_address_only():
    limits = Limits(Settings(auth_failures_per_minute=3))
    for _ in range(3):
        limits.check_client("10.0.0.1")
        limits.auth_failed("10.0.0.1")
    with pytest.raises(RateLimited, match="failed sign-in"):
        limits.check_client("10.0.0.1")
    limits.check_client("10.0.0.2")


def test_refusals_then_everything_refused():
    limits = Limits(Settings(refusals_per_minute=2))
    limits.refused("cw-1")
    limits.check_subject("cw-1")
    limits.refused("cw-1")
    with pytest.raises(RateLimited) as caught:
        limits.check_subject("cw-1")
    assert caught.value.retry_after >= 1


def test_distinct_people_limit_allows_revisits():
    people = DistinctPeople(limit=2)
    assert people.add("cw", "a", now=0) == 1
    assert people.add("cw", "b", now=1) == 2
    assert people.add("cw", "a", now=2) == 2
    assert people.add("cw", "c", now=3) == 3  # over the limit: refused by Limits


def test_self_lookups_never_count_as_scraping():
    limits = Limits(Settings(people_per_hour=1))
    for _ in range(10):
        limits.check_person("p1", "p1")
    limits.check_person("cw", "x")
    with pytest.raises(RateLimited, match="looked up more people"):
        limits.check_person("cw", "y")
