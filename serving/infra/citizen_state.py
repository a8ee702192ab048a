"""What the service database holds about one person right now, read in one round trip.

The recommendation path needs four facts per request — consent per purpose, events received
since the build, services marked "not for me", and whether the person was erased — so they
come back from a single UNION query rather than four, for a whole batch of people at once
(`serving.domain.recommendations` answers requests that arrive together in one batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import Connection, TextClause, text
from sqlalchemy.orm import Session

from serving.infra.db import Database

MAX_BATCH = 64  # people per query; larger batches are read in several


@lru_cache(maxsize=MAX_BATCH)
def _statement(n: int) -> TextClause:
    """The four look-ups for `n` people as one UNION ALL (one statement per n, compiled once)."""
    people = ", ".join(f":p{i}" for i in range(n))
    return text(
        f"SELECT pseudonym, 'c', purpose, status, NULL FROM consent_state WHERE pseudonym IN ({people}) "
        f"UNION ALL SELECT pseudonym, 'e', service_id, event_type, source FROM events WHERE pseudonym IN ({people}) "
        f"UNION ALL SELECT pseudonym, 'f', service_id, decision, NULL FROM feedback "
        f"WHERE pseudonym IN ({people}) AND decision = 'not_for_me' "
        f"UNION ALL SELECT pseudonym, 'x', NULL, NULL, NULL FROM erasures WHERE pseudonym IN ({people})"
    )


@dataclass(frozen=True)
class CitizenState:
    """The facts as stored; what they allow is decided in `serving.domain` (consent, recommendations)."""

    consent: dict[str, str] = field(default_factory=dict)  # purpose -> latest status
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (service_id, event_type, source)
    not_for_me: list[str] = field(default_factory=list)
    erased: bool = False


def read_many(connection: Connection | Session | Database, pseudonyms: Sequence[str]) -> list[CitizenState]:
    """Each person's state, in the order given, in one round trip per `MAX_BATCH` people."""
    people = list(dict.fromkeys(pseudonyms))
    found: dict[str, tuple[dict, list, list, list]] = {p: ({}, [], [], []) for p in people}
    for start in range(0, len(people), MAX_BATCH):
        chunk = people[start : start + MAX_BATCH]
        statement, params = _statement(len(chunk)), {f"p{i}": p for i, p in enumerate(chunk)}
        if isinstance(connection, Database):
            rows = connection.fetch(statement, params)
        else:
            rows = connection.execute(statement, params)
        for pseudonym, kind, a, b, c in rows:
            consent, events, not_for_me, erased = found[pseudonym]
            if kind == "c":
                consent[a] = b
            elif kind == "e":
                events.append((a, b, c))
            elif kind == "f":
                not_for_me.append(a)
            else:
                erased.append(True)
    states = {p: CitizenState(consent, events, not_for_me, bool(erased))
              for p, (consent, events, not_for_me, erased) in found.items()}
    return [states[p] for p in pseudonyms]
