"""Subject access: everything the service holds about one person, as JSON.

What the build holds (the generalised record and the services in their history with the
partner source behind each), the consent ledger, the suggestions made, feedback and events
received since, and the family's early-help status (whether an indicator is held for the
children of their household, what it is based on, who can see it, and the family's review and
objection requests with where each stands). The request itself is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.domain import (
    access,
    audit,
    consent,
    corrections,
    early_help,
    preferences,
    saved_services,
)
from serving.domain.access import Action, Person
from serving.domain.auth import Viewer
from serving.domain.errors import Gone, NotFound
from serving.domain.events import shown_event_id
from serving.infra.db import Database
from serving.infra.processed import ProcessedData
from serving.infra.registry import Models
from serving.infra.served import ServedLog
from serving.infra.tables import Erasure, Event, Feedback, Suggestion

RECORD_FIELDS = ("age_band", "postcode_district", "local_authority", "sex", "ethnicity", "disability",
                 "imd_decile", "household", "consent_personalisation", "consent_early_intervention",
                 "consent_research")


@dataclass(frozen=True)
class SubjectData:
    """Everything held about one person; suggestions only within the retention period."""

    pseudonym: str
    record: dict[str, Any]
    sources: list[str]
    history: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    events: list[dict[str, Any]]
    # Art. 21 overrides of the person's objections (`consent.overrides`): who decided, when, why.
    overrides: list[dict[str, Any]] = field(default_factory=list)
    preferences: dict[str, Any] | None = None  # the portal settings, when the person changed any
    saved_services: list[dict[str, Any]] = field(default_factory=list)
    correction_requests: list[dict[str, Any]] = field(default_factory=list)
    #: `early_help.FamilyView.as_record()`: None when nothing is held about a household.
    early_help: dict[str, Any] | None = None


def _plain(value):
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def report(session: Session, person: Person, *, viewer: Viewer, processed: ProcessedData, models: Models,
           family_factors: str) -> SubjectData:
    """The report; flush the served log *before* opening `session` so it lists the latest lists.

    `family_factors` is `Settings.early_help_family_factors` (how much of each factor the family sees).
    """
    if session.get(Erasure, person.pseudonym) is not None:
        raise Gone("this person's data was erased at their request; only the fact of erasure is kept")
    p = person.pseudonym
    record, history, sources = {}, [], set()
    if processed.knows(p):
        row = processed.citizens.loc[p]
        record = {f: _plain(row[f]) for f in RECORD_FIELDS if f in row.index}
        record["in_build_as_of"] = processed.manifest.get("as_of")
        for service_id, weight in processed.history(p):
            source = _plain(processed.services.at[service_id, "source"]) if "source" in processed.services else None
            history.append({"service_id": service_id, "name": str(processed.services.at[service_id, "name"]),
                            "source": source, "weight": round(weight, 4)})
            if source:
                sources.add(source)
        if processed.early_help is not None and p in processed.early_help.index:
            record["early_help_indicator"] = "computed for your caseworker from early-intervention sources"
    status = None
    if person.household and processed.knows(p):
        status = early_help.family_status(session, person, models=models, processed=processed,
                                          factors_shown=family_factors).as_record()
    events = [
        {"source": e.source, "event_id": shown_event_id(e.source, e.event_id), "service_id": e.service_id,
         "event_type": e.event_type,
         "occurred_at": e.occurred_at.isoformat(), "received_at": e.received_at.isoformat()}
        for e in session.scalars(select(Event).where(Event.pseudonym == p).order_by(Event.id))
    ]
    sources.update(e["source"] for e in events)
    consents = [
        {"purpose": r.purpose, "status": r.status, "recorded_at": r.recorded_at.isoformat(), "method": r.method,
         "origin": r.origin, "recorded_by": r.actor_role, "staff_id": r.actor, "note": r.note}
        for r in consent.history(session, p)
    ]
    overrides = consent.overrides(session, p)
    suggestions = [
        {"served_at": s.served_at.isoformat(), "kind": s.kind, "model_version": s.model_version,
         "personalised": s.personalised, "service_ids": json.loads(s.service_ids)}
        for s in session.scalars(select(Suggestion).where(Suggestion.pseudonym == p).order_by(Suggestion.id))
    ]
    feedback = [
        {"service_id": f.service_id, "decision": f.decision, "reason": f.reason, "by": f.actor_role,
         "recorded_at": f.recorded_at.isoformat()}
        for f in session.scalars(select(Feedback).where(Feedback.pseudonym == p).order_by(Feedback.id))
    ]
    settings = preferences.read(session, p)
    chosen = None if settings.updated_at is None else {
        "sensitive_suggestions": settings.sensitive_suggestions, "updated_at": settings.updated_at.isoformat()}
    saved = [{"service_id": s.service_id, "saved_at": s.saved_at.isoformat()}
             for s in saved_services.read(session, p)]
    asked = [{"about": c.about, "message": c.message, "recorded_at": c.recorded_at.isoformat()}
             for c in corrections.read(session, p)]
    if not (record or events or consents or suggestions or feedback or chosen or saved or asked):
        raise NotFound("nothing is held about this person")
    audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="subject_access",
                 subject=p, detail={})
    return SubjectData(pseudonym=p, record=record, sources=sorted(sources), history=history,
                          consents=consents, suggestions=suggestions, feedback=feedback, events=events,
                          overrides=overrides, preferences=chosen, saved_services=saved,
                          correction_requests=asked, early_help=status)


def for_person(database: Database, viewer: Viewer, person: Person, *, served: ServedLog, processed: ProcessedData,
               models: Models, family_factors: str, today: date) -> SubjectData:
    """Everything held about `person`, if `viewer` may see it (audited), including the lists
    served a moment ago (the served log is flushed first)."""
    served.flush()  # outside the write transaction below: it takes the write lock itself
    with database.write_session() as session:
        access.check(session, viewer, Action.subject_access, person, today=today)
        return report(session, person, viewer=viewer, processed=processed, models=models,
                      family_factors=family_factors)
