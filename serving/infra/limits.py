"""Rate limits: repeated failed authentication and bulk scraping are answered 429.

Counters live in the worker process (sliding windows over two fixed buckets), so with N
workers a client gets up to N times the limit; that bounds scraping well enough for one
council's service, and a shared store can replace `SlidingWindow` without touching callers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from signpost.settings import Settings


class RateLimited(Exception):
    """Too many requests of one kind; `retry_after` seconds until the window has room again."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class SlidingWindow:
    """Approximate count of hits per key in the last `seconds` (current + weighted previous bucket)."""

    limit: int
    seconds: float
    _buckets: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # key -> (bucket, n, prev)

    def _state(self, key: str, now: float) -> tuple[int, int, int]:
        bucket = int(now // self.seconds)
        current = self._buckets.get(key)
        if current is None:
            return bucket, 0, 0
        old_bucket, count, previous = current
        if old_bucket == bucket:
            return bucket, count, previous
        if old_bucket == bucket - 1:
            return bucket, 0, count
        return bucket, 0, 0

    def estimate(self, key: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        bucket, count, previous = self._state(key, now)
        elapsed = (now / self.seconds) - bucket
        return count + previous * (1.0 - elapsed)

    def hit(self, key: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        bucket, count, previous = self._state(key, now)
        self._buckets[key] = (bucket, count + 1, previous)
        if len(self._buckets) > 100_000:
            self._prune(bucket)
        return self.estimate(key, now)

    def exceeded(self, key: str, now: float | None = None) -> bool:
        return self.estimate(key, now) >= self.limit

    def retry_after(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        return max(1, math.ceil(self.seconds - (now % self.seconds)))

    def _prune(self, bucket: int) -> None:
        self._buckets = {k: v for k, v in self._buckets.items() if v[0] >= bucket - 1}


@dataclass
class DistinctPeople:
    """How many different people one subject has looked up in the current hour."""

    limit: int
    seconds: float = 3600.0
    _seen: dict[str, tuple[int, set[str]]] = field(default_factory=dict)

    def add(self, subject: str, pseudonym: str, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        bucket = int(now // self.seconds)
        current = self._seen.get(subject)
        if current is None or current[0] != bucket:
            current = (bucket, set())
            self._seen[subject] = current
        people = current[1]
        if pseudonym not in people and len(people) >= self.limit:
            return len(people) + 1
        people.add(pseudonym)
        return len(people)


class Limits:
    """The service's limits, built from settings; one instance per app."""

    def __init__(self, settings: Settings) -> None:
        self.failed_auth = SlidingWindow(settings.auth_failures_per_minute, 60.0)
        self.requests = SlidingWindow(settings.requests_per_minute, 60.0)
        self.refusals = SlidingWindow(settings.refusals_per_minute, 60.0)
        self.people = DistinctPeople(settings.people_per_hour)

    def check_client(self, client: str) -> None:
        """Refuse a client address that has failed authentication too often lately."""
        if self.failed_auth.exceeded(client):
            raise RateLimited(
                "too many failed sign-in attempts from this address; wait before trying again",
                self.failed_auth.retry_after(),
            )

    def auth_failed(self, client: str) -> None:
        self.failed_auth.hit(client)

    def check_subject(self, subject: str) -> None:
        """Count one request by an authenticated subject; refuse floods and probing."""
        if self.refusals.exceeded(subject):
            raise RateLimited(
                "too many refused requests from this account; wait before trying again",
                self.refusals.retry_after(),
            )
        if self.requests.hit(subject) > self.requests.limit:
            raise RateLimited("too many requests from this account; slow down", self.requests.retry_after())

    def refused(self, subject: str) -> None:
        self.refusals.hit(subject)

    def check_person(self, subject: str, pseudonym: str) -> None:
        """Refuse looking up more distinct people per hour than any caseload needs (scraping)."""
        if subject == pseudonym:
            return
        if self.people.add(subject, pseudonym) > self.people.limit:
            raise RateLimited(
                "this account has looked up more people this hour than the limit allows; "
                "bulk access goes through the analyst exports",
                int(self.people.seconds - (time.monotonic() % self.people.seconds)) + 1,
            )
