"""What the service database holds about one person right now, read in one round trip.

The recommendation path needs four facts per request — consent per purpose, events received
since the build, services marked "not for me", and whether the person was erased — so they
come back from a single UNION query rather than four.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.orm import Session

from serving.db import Database
from signpost.settings import Purpose, Settings

_STATE = text(
    "SELECT 'c', purpose, status, NULL FROM consent_state WHERE pseudonym = :p "
    "UNION ALL SELECT 'e', service_id, event_type, source FROM events WHERE pseudonym = :p "
    "UNION ALL SELECT 'f', service_id, decision, NULL FROM feedback "
    "WHERE pseudonym = :p AND decision = 'not_for_me' "
    "UNION ALL SELECT 'x', NULL, NULL, NULL FROM erasures WHERE pseudonym = :p"
).bindparams(bindparam("p"))


@dataclass(frozen=True)
class CitizenState:
    consent: dict[str, str] = field(default_factory=dict)  # purpose -> latest status
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (service_id, event_type, source)
    not_for_me: list[str] = field(default_factory=list)
    erased: bool = False

    def allows(self, purpose: Purpose, settings: Settings) -> bool:
        status = self.consent.get(purpose)
        if status is None:
            return bool(settings.consent_defaults.get(purpose, False))
        return status == "granted"

    def extra_events(self, settings: Settings, purpose: Purpose = "personalisation") -> list[tuple[str, float]]:
        """New events as (service_id, weight), only from sources whose policy allows `purpose`."""
        weights = settings.event_weights
        out = []
        for service_id, event_type, source in self.events:
            weight = weights.get(event_type, 0.0)
            if weight > 0 and purpose in settings.sharing_policy.get(source, ()):
                out.append((service_id, weight))
        return out


def read(connection: Connection | Session | Database, pseudonym: str) -> CitizenState:
    """The person's state; given the Database itself, read on the fast autocommit path."""
    if isinstance(connection, Database):
        rows = connection.fetch(_STATE, {"p": pseudonym})
    else:
        rows = connection.execute(_STATE, {"p": pseudonym})
    consent: dict[str, str] = {}
    events: list[tuple[str, str, str]] = []
    not_for_me: list[str] = []
    erased = False
    for kind, a, b, c in rows:
        if kind == "c":
            consent[a] = b
        elif kind == "e":
            events.append((a, b, c))
        elif kind == "f":
            not_for_me.append(a)
        else:
            erased = True
    return CitizenState(consent, events, not_for_me, erased)
