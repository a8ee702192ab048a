"""A resident's answers on the consent page, recorded as decisions.

Only answers that change what is allowed are decisions, with one exception: on the portal a
first answer that agrees with the default is a decision too: without a record the page would keep
saying "you have not told us" after the person told us. Kept apart from `consent` so that the
ledger's rules stay in one place and this holds only what the page's form means.
"""

from __future__ import annotations

from datetime import date

from serving.domain import access, consent, erasure
from serving.domain.access import Action, Person
from serving.domain.auth import Viewer
from serving.infra.db import Database
from signpost.settings import Settings


def record(database: Database, viewer: Viewer, person: Person, answers: dict[str, bool], *,
           settings: Settings, today: date) -> list[consent.Decision]:
    """Record each answer that changes what is allowed or that replaces a default, in one
    transaction; answers that repeat the person's own earlier decision record nothing."""
    with database.write_session() as session:
        access.check(session, viewer, Action.consent_change, person, today=today)
        erasure.require_present(session, person, yourself=True)
        for decision in consent.decisions(session, person.pseudonym, settings):
            wanted = answers.get(decision.purpose)
            if wanted is None or (wanted == decision.allowed and decision.status is not None):
                continue
            consent.change(session, pseudonym=person.pseudonym, purpose=decision.purpose,
                           status="granted" if wanted else consent.REFUSAL[decision.purpose], viewer=viewer)
        return consent.decisions(session, person.pseudonym, settings)
