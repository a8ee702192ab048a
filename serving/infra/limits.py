"""Rate limits: repeated failed authentication and bulk scraping are answered 429.

Every limit is counted by `serving/infra/rate_counters.py` (`rate_counters(settings)`): in
Redis when `SIGNPOST_REDIS_URL` is set, so N workers share one limit, otherwise in this worker.

| limit | key | counter | setting |
|---|---|---|---|
| failed authentication | client address + digest of the credential presented (or none) | `peek` before, `hit` on failure, 60 s | `SIGNPOST_AUTH_FAILURES_PER_MINUTE` |
| requests | authenticated subject | `hit`, 60 s | `SIGNPOST_REQUESTS_PER_MINUTE` |
| refusals (403s) | authenticated subject | `hit` on refusal, `peek` before each request, 60 s | `SIGNPOST_REFUSALS_PER_MINUTE` |
| distinct people looked up | authenticated subject | `add_distinct`, 3600 s | `SIGNPOST_PEOPLE_PER_HOUR` |

Failures are counted only after a credential has failed, and a valid credential is never
checked against them: a stranger behind the same address (or one proxy, or one library's
shared connection) who sends garbage can lock out only that garbage, never someone who signs
in properly. The other limits count per subject, so one account's flood slows only that account.
"""

from __future__ import annotations

import hashlib

from serving.infra.rate_counters import RateCounters, rate_counters
from signpost.settings import Settings

MINUTE = 60.0
HOUR = 3600.0


class RateLimited(Exception):
    """Too many requests of one kind; `retry_after` seconds until the window has room again."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def credential_key(client: str, credential: str | None) -> str:
    """The failure counter's key: the address and a digest of what was presented (never the token)."""
    presented = hashlib.blake2b(credential.encode(), digest_size=16).hexdigest() if credential else "none"
    return f"auth-failed:{client}:{presented}"


class Limits:
    """The service's limits, built from settings; one instance per app (per worker)."""

    def __init__(self, settings: Settings, counters: RateCounters | None = None) -> None:
        self.counters = counters if counters is not None else rate_counters(settings)
        self.auth_failures_per_minute = settings.auth_failures_per_minute
        self.requests_per_minute = settings.requests_per_minute
        self.refusals_per_minute = settings.refusals_per_minute
        self.people_per_hour = settings.people_per_hour

    def check_failures(self, client: str, credential: str | None) -> None:
        """Refuse a credential that has failed too often lately from this address."""
        count = self.counters.peek(credential_key(client, credential), self.auth_failures_per_minute, MINUTE)
        if not count.allowed:
            raise RateLimited("too many failed sign-in attempts from this address with this credential; "
                              "wait before trying again, or sign in afresh", count.retry_after)

    def auth_failed(self, client: str, credential: str | None) -> None:
        self.counters.hit(credential_key(client, credential), self.auth_failures_per_minute, MINUTE)

    def check_subject(self, subject: str) -> None:
        """Count one request by an authenticated subject; refuse floods and probing."""
        refusals = self.counters.peek(f"refused:{subject}", self.refusals_per_minute, MINUTE)
        if not refusals.allowed:
            raise RateLimited("too many refused requests from this account; wait before trying again",
                              refusals.retry_after)
        requests = self.counters.hit(f"requests:{subject}", self.requests_per_minute, MINUTE)
        if not requests.allowed:
            raise RateLimited("too many requests from this account; slow down", requests.retry_after)

    def refused(self, subject: str) -> None:
        self.counters.hit(f"refused:{subject}", self.refusals_per_minute, MINUTE)

    def check_person(self, subject: str, pseudonym: str) -> None:
        """Refuse looking up more distinct people per hour than any caseload needs (scraping)."""
        if subject == pseudonym:
            return
        people = self.counters.add_distinct(f"people:{subject}", pseudonym, self.people_per_hour, HOUR)
        if not people.allowed:
            raise RateLimited(
                "this account has looked up more people this hour than the limit allows; "
                "bulk access goes through the analyst exports",
                people.retry_after,
            )
