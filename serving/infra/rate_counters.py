"""Rate-limit counters that every worker shares: Redis when configured, this process otherwise.

One interface, two stores. `hit` counts a request and says whether it is within the limit;
`peek` asks the same without counting (is this address already blocked?); `add_distinct`
counts different members of a set (the people one subject looked up this hour). Windows are
sliding over two fixed buckets, as serving/infra/limits.py has always counted: the estimate is this
bucket's count plus the previous bucket's, weighted by how much of it is still in the window.

With `SIGNPOST_REDIS_URL`, each operation is one Lua script run atomically by Redis, timed by
Redis's own clock, so N workers (or hosts) share one limit instead of getting N times it; the
keys expire two windows after their last use. Key names and members are hashed before they
reach Redis, so no client address, token or pseudonym is stored there. If Redis stops
answering, counting falls back to this process (logged once) rather than refusing everyone.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

from signpost.settings import Settings

log = logging.getLogger("signpost.rate_counters")


@dataclass(frozen=True)
class Count:
    """One answer of the counters: within the limit or not, and when to try again."""

    allowed: bool
    #: Seconds until the current bucket ends (the window has room again); at least 1.
    retry_after: int
    #: The estimated hits (distinct members for `add_distinct`) in the window, this one included.
    count: float


class RateCounters(Protocol):
    """What serving asks of a counter store; keys are free text (an address, a subject)."""

    def hit(self, key: str, limit: int, window: float) -> Count:
        """Count one hit on `key`; allowed while at most `limit` hits lie in the last `window` s."""
        ...

    def peek(self, key: str, limit: int, window: float) -> Count:
        """Whether `key` still has room (fewer than `limit` hits in the window), counting nothing."""
        ...

    def add_distinct(self, key: str, member: str, limit: int, window: float) -> Count:
        """Add `member` to `key`'s set for this window; refused (and not added) past `limit` members."""
        ...


def _retry_after(now: float, window: float) -> int:
    return max(1, math.ceil(window - (now % window)))


class InMemoryCounters:
    """Counters of this process only: with N workers a client gets up to N times each limit."""

    #: Keys kept before buckets that have left every window are pruned.
    PRUNE_AT = 100_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # (key, window) -> (bucket, hits in it, hits in the bucket before)
        self._windows: dict[tuple[str, float], tuple[int, int, int]] = {}
        # (key, window) -> (bucket, members seen in it)
        self._sets: dict[tuple[str, float], tuple[int, set[str]]] = {}

    def hit(self, key: str, limit: int, window: float) -> Count:
        return self._count(key, limit, window, counting=True)

    def peek(self, key: str, limit: int, window: float) -> Count:
        return self._count(key, limit, window, counting=False)

    def add_distinct(self, key: str, member: str, limit: int, window: float) -> Count:
        now = self._clock()
        bucket = int(now // window)
        with self._lock:
            current = self._sets.get((key, window))
            if current is None or current[0] != bucket:
                current = (bucket, set())
                self._sets[(key, window)] = current
                if len(self._sets) > self.PRUNE_AT:
                    self._sets = {k: v for k, v in self._sets.items() if v[0] == int(now // k[1])}
            members = current[1]
            if member not in members and len(members) >= limit:
                return Count(False, _retry_after(now, window), len(members) + 1)
            members.add(member)
            return Count(True, _retry_after(now, window), len(members))

    def _count(self, key: str, limit: int, window: float, *, counting: bool) -> Count:
        now = self._clock()
        bucket = int(now // window)
        with self._lock:
            stored = self._windows.get((key, window))
            if stored is None or stored[0] < bucket - 1:
                hits, previous = 0, 0
            elif stored[0] == bucket - 1:
                hits, previous = 0, stored[1]
            else:
                hits, previous = stored[1], stored[2]
            if counting:
                hits += 1
                self._windows[(key, window)] = (bucket, hits, previous)
                if len(self._windows) > self.PRUNE_AT:
                    self._windows = {k: v for k, v in self._windows.items() if v[0] >= int(now // k[1]) - 1}
        estimate = hits + previous * (1.0 - (now / window - bucket))
        allowed = estimate <= limit if counting else estimate < limit
        return Count(allowed, _retry_after(now, window), estimate)


# KEYS[1]: the key's base name; ARGV: window (s), counting (1/0). Returns {estimate, retry_after}.
_SLIDING_WINDOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local window = tonumber(ARGV[1])
local bucket = math.floor(now / window)
local current_key = KEYS[1] .. ':' .. string.format('%d', bucket)
local previous_key = KEYS[1] .. ':' .. string.format('%d', bucket - 1)
local hits
if ARGV[2] == '1' then
  hits = redis.call('INCR', current_key)
  if hits == 1 then redis.call('PEXPIRE', current_key, math.ceil(window * 2000)) end
else
  hits = tonumber(redis.call('GET', current_key) or '0')
end
local previous = tonumber(redis.call('GET', previous_key) or '0')
local estimate = hits + previous * (1 - (now / window - bucket))
return {tostring(estimate), math.ceil(window - (now % window))}
"""

# KEYS[1]: the set's base name; ARGV: window (s), limit, member. Returns {added or known (1/0),
# members, retry_after}.
_DISTINCT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local key = KEYS[1] .. ':' .. string.format('%d', math.floor(now / window))
local retry = math.ceil(window - (now % window))
local members = redis.call('SCARD', key)
if redis.call('SISMEMBER', key, ARGV[3]) == 1 then return {1, members, retry} end
if members >= limit then return {0, members + 1, retry} end
redis.call('SADD', key, ARGV[3])
if members == 0 then redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000) end
return {1, members + 1, retry}
"""


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class RedisCounters:
    """Counters shared by every worker through one Redis; each call is one atomic script."""

    def __init__(self, client: redis.Redis, prefix: str = "signpost") -> None:
        self._client = client
        self._prefix = prefix
        self._sliding = client.register_script(_SLIDING_WINDOW)
        self._distinct = client.register_script(_DISTINCT)
        self._fallback = InMemoryCounters()
        self._warned = False

    @classmethod
    def from_url(cls, url: str, prefix: str = "signpost") -> RedisCounters:
        # Short timeouts: a rate limit must never hold a request up for long.
        return cls(redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5), prefix)

    def _key(self, kind: str, key: str, window: float) -> str:
        # The digest in braces is a Redis Cluster hash tag: a key's buckets share one slot.
        return f"{self._prefix}:{kind}:{{{_digest(key)}}}:{window:g}"

    def hit(self, key: str, limit: int, window: float) -> Count:
        return self._count(key, limit, window, counting=True)

    def peek(self, key: str, limit: int, window: float) -> Count:
        return self._count(key, limit, window, counting=False)

    def _count(self, key: str, limit: int, window: float, *, counting: bool) -> Count:
        try:
            estimate, retry = self._sliding(keys=[self._key("rate", key, window)],
                                            args=[repr(float(window)), "1" if counting else "0"])
        except (redis.ConnectionError, redis.TimeoutError):
            self._warn()
            return self._fallback.hit(key, limit, window) if counting else self._fallback.peek(key, limit, window)
        estimate = float(estimate)
        allowed = estimate <= limit if counting else estimate < limit
        return Count(allowed, max(1, int(retry)), estimate)

    def add_distinct(self, key: str, member: str, limit: int, window: float) -> Count:
        try:
            known, members, retry = self._distinct(keys=[self._key("distinct", key, window)],
                                                   args=[repr(float(window)), limit, _digest(member)])
        except (redis.ConnectionError, redis.TimeoutError):
            self._warn()
            return self._fallback.add_distinct(key, member, limit, window)
        return Count(bool(known), max(1, int(retry)), float(members))

    def _warn(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning("Redis is not answering: rate limits are counted by this worker alone until it does")

    def close(self) -> None:
        self._client.close()


def rate_counters(settings: Settings) -> RateCounters:
    """The counters the service uses: shared through Redis if `SIGNPOST_REDIS_URL` is set."""
    if settings.redis_url is None:
        return InMemoryCounters()
    return RedisCounters.from_url(settings.redis_url.get_secret_value(), settings.redis_key_prefix)
