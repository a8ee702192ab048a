"""Rate-limit counters: one behaviour in memory and in Redis, shared by workers through Redis.

The in-memory counters are checked against the estimate worked out by hand from the raw hit
times (hypothesis). The Redis ones run
against the real Redis on 127.0.0.1:6379 under a key prefix of their own, deleted afterwards.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from serving.infra.rate_counters import InMemoryCounters, RedisCounters, rate_counters
from signpost.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not answering on 127.0.0.1:6379")
    prefix = f"signpost-test-{uuid.uuid4().hex}"
    yield prefix
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["memory", "redis"])
def counters(request) -> Iterator[InMemoryCounters | RedisCounters]:
    if request.param == "memory":
        yield InMemoryCounters()
    else:
        shared = RedisCounters.from_url(REDIS_URL, request.getfixturevalue("redis_prefix"))
        yield shared
        shared.close()


def test_hits_are_allowed_up_to_the_limit_then_refused(counters) -> None:
    answers = [counters.hit("subject-a", limit=5, window=60) for _ in range(7)]
    assert [answer.allowed for answer in answers] == [True] * 5 + [False] * 2
    assert all(1 <= answer.retry_after <= 60 for answer in answers)
    assert answers[-1].count == pytest.approx(7, abs=1e-6)
    assert counters.hit("subject-b", limit=5, window=60).allowed  # keys are counted apart


def test_peek_counts_nothing_and_refuses_once_the_limit_is_reached(counters) -> None:
    for _ in range(3):
        assert counters.peek("10.0.0.1", limit=3, window=60).allowed
    for _ in range(3):
        counters.hit("10.0.0.1", limit=3, window=60)
    peeked = counters.peek("10.0.0.1", limit=3, window=60)
    assert not peeked.allowed and peeked.count == pytest.approx(3, abs=1e-6)


def test_the_same_key_in_two_windows_is_two_counts(counters) -> None:
    for _ in range(2):
        counters.hit("k", limit=2, window=60)
    assert not counters.hit("k", limit=2, window=60).allowed
    assert counters.hit("k", limit=2, window=3600).allowed


def test_distinct_members_up_to_the_limit_and_revisits_always(counters) -> None:
    assert [counters.add_distinct("cw-1", person, limit=2, window=3600).count for person in "aba"] == [1, 2, 2]
    refused = counters.add_distinct("cw-1", "c", limit=2, window=3600)
    assert (refused.allowed, refused.count) == (False, 3)
    assert counters.add_distinct("cw-1", "a", limit=2, window=3600).allowed  # c was not added
    assert counters.add_distinct("cw-2", "c", limit=2, window=3600).allowed


def test_the_window_slides_forward() -> None:
    clock = Clock(0.0)
    counters = InMemoryCounters(clock)
    for _ in range(4):
        counters.hit("k", limit=4, window=60)
    clock.now = 90.0  # half the previous bucket still counts: 4 * 0.5
    assert counters.peek("k", limit=4, window=60).count == pytest.approx(2.0)
    clock.now = 200.0
    assert counters.peek("k", limit=4, window=60).count == 0


operations = st.lists(
    st.tuples(st.floats(min_value=0, max_value=50), st.sampled_from(["hit", "peek"]), st.sampled_from("ab")),
    max_size=60,
)


def _by_hand(hits: list[float], now: float, window: float) -> float:
    """The sliding-window estimate from the raw hit times: this bucket's hits plus the previous
    bucket's, weighted by how much of that bucket is still inside the window."""
    bucket = now // window
    current = sum(1 for t in hits if t // window == bucket)
    previous = sum(1 for t in hits if t // window == bucket - 1)
    return current + previous * (1.0 - (now / window - bucket))


@given(operations)
def test_in_memory_counters_equal_the_estimate_worked_out_by_hand(steps) -> None:
    clock, limit, window = Clock(0.0), 4, 60.0
    counters, hits = InMemoryCounters(clock), {"a": [], "b": []}
    for advance, operation, key in steps:
        clock.now += advance
        if operation == "hit":
            hits[key].append(clock.now)
            answer = counters.hit(key, limit, window)
            assert answer.allowed == (_by_hand(hits[key], clock.now, window) <= limit)
        else:
            answer = counters.peek(key, limit, window)
            assert answer.allowed == (_by_hand(hits[key], clock.now, window) < limit)
        assert answer.count == pytest.approx(_by_hand(hits[key], clock.now, window))
        assert answer.retry_after == max(1, math.ceil(window - clock.now % window))


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=2_000), st.sampled_from("abcd")), max_size=40))
def test_in_memory_distinct_members_are_counted_per_hour_up_to_the_limit(steps) -> None:
    clock, limit = Clock(0.0), 2
    counters, seen = InMemoryCounters(clock), {}
    for advance, person in steps:
        clock.now += advance
        members = seen.setdefault(int(clock.now // 3600), set())
        answer = counters.add_distinct("cw", person, limit, 3600.0)
        if person in members or len(members) < limit:
            members.add(person)
            assert (answer.allowed, answer.count) == (True, len(members))
        else:
            assert (answer.allowed, answer.count) == (False, len(members) + 1)


# ----------------------------------------------------------------------------- Redis ------


def test_two_workers_share_one_limit_through_redis(redis_prefix) -> None:
    first, second = (RedisCounters(redis.Redis.from_url(REDIS_URL), redis_prefix) for _ in range(2))
    answers = [(first if i % 2 else second).hit("cw-7", limit=10, window=60).allowed for i in range(16)]
    assert answers == [True] * 10 + [False] * 6
    assert not first.peek("cw-7", limit=10, window=60).allowed
    assert not second.add_distinct("cw-7", "p", limit=0, window=3600).allowed
    first.close()
    second.close()


def test_concurrent_hits_from_many_workers_never_exceed_the_limit(redis_prefix) -> None:
    workers = [RedisCounters(redis.Redis.from_url(REDIS_URL), redis_prefix) for _ in range(4)]
    allowed: list[bool] = []

    def hammer(counters: RedisCounters) -> None:
        for _ in range(50):
            allowed.append(counters.hit("flood", limit=100, window=60).allowed)

    threads = [threading.Thread(target=hammer, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 100 and len(allowed) == 200
    for worker in workers:
        worker.close()


def test_redis_keys_expire_and_hold_no_address_subject_or_pseudonym(redis_prefix) -> None:
    counters = RedisCounters.from_url(REDIS_URL, redis_prefix)
    counters.hit("203.0.113.9", limit=5, window=60)
    counters.add_distinct("cw-secret-id", "pseudonym-of-someone", limit=5, window=3600)
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{redis_prefix}:*"))
    assert len(keys) == 2
    stored = b" ".join(keys + [member for key in keys if client.type(key) == b"set" for member in client.smembers(key)])
    for raw in (b"203.0.113.9", b"cw-secret-id", b"pseudonym-of-someone"):
        assert raw not in stored
    ttls = {client.type(key): client.pttl(key) for key in keys}
    assert 0 < ttls[b"string"] <= 120_000 and 0 < ttls[b"set"] <= 3_601_000
    client.close()
    counters.close()


def test_redis_counts_by_its_own_clock_across_windows(redis_prefix) -> None:
    counters = RedisCounters.from_url(REDIS_URL, redis_prefix)
    assert counters.hit("k", limit=1, window=1).allowed
    time.sleep(2.1)  # two whole windows later, nothing is left of the first hit
    assert counters.peek("k", limit=1, window=1).count == 0
    counters.close()


def test_an_unreachable_redis_falls_back_to_counting_in_this_worker(caplog) -> None:
    counters = RedisCounters.from_url("redis://127.0.0.1:9/0", "signpost-test")
    with caplog.at_level(logging.WARNING, logger="signpost.rate_counters"):
        answers = [counters.hit("k", limit=2, window=60).allowed for _ in range(3)]
        assert counters.add_distinct("cw", "a", limit=1, window=60).allowed
    assert answers == [True, True, False]
    assert len(caplog.records) == 1 and "Redis is not answering" in caplog.records[0].getMessage()


def test_settings_choose_the_store(tmp_path) -> None:
    assert isinstance(rate_counters(Settings(data_dir=tmp_path, redis_url=None)), InMemoryCounters)
    shared = rate_counters(Settings(data_dir=tmp_path, redis_url=REDIS_URL, redis_key_prefix="p"))
    assert isinstance(shared, RedisCounters)
    shared.close()
