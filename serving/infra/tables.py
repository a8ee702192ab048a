"""The service database (SQLAlchemy 2 ORM): consent ledger, audit trail, feedback, events.

No raw person or household id is ever stored: every person column is a pseudonym
(64 lowercase hex characters). Staff ids (caseworkers, admins) are not personal data of
citizens and are stored as issued.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PSEUDONYM = 64
# BIGINT on PostgreSQL, INTEGER (the rowid alias, so it autoincrements) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class ConsentRecord(Base):
    """One consent decision; the ledger is append-only (erasure aside)."""

    __tablename__ = "consent_records"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM))
    purpose: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    method: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))  # "extract" (seeded) or "api"
    actor_role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Who recorded it when it was not the person themself: the staff id, and their note of how
    # and when the person gave the decision (both empty for the person's own and the extract's).
    actor: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (Index("ix_consent_records_person", "pseudonym", "purpose", "recorded_at"),)


class ConsentState(Base):
    """The latest decision per person and purpose: what every request reads."""

    __tablename__ = "consent_state"
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    method: Mapped[str] = mapped_column(String(16))


class ConsentOverride(Base):
    """An admin's decision to continue despite a person's objection (UK GDPR Art. 21: compelling
    legitimate grounds). It stands while it is the latest word on the purpose: the person's next
    decision for it (recorded at a later time) ends it. See serving/domain/consent.py."""

    __tablename__ = "consent_overrides"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM))
    purpose: Mapped[str] = mapped_column(String(32))
    overridden_status: Mapped[str] = mapped_column(String(16))  # the objection it answered
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str] = mapped_column(String(128))  # the admin's staff id
    reason: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_consent_overrides_person", "pseudonym", "purpose", "decided_at"),)


class Seed(Base):
    """Which processed file has been loaded into a table, so start-up seeds only once."""

    __tablename__ = "seeds"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    rows: Mapped[int] = mapped_column(Integer)
    seeded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Caseload(Base):
    """A household on a caseworker's caseload (mirrors caseloads.parquet)."""

    __tablename__ = "caseloads"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    caseworker_id: Mapped[str] = mapped_column(String(128))
    household: Mapped[str] = mapped_column(String(PSEUDONYM))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    __table_args__ = (Index("ix_caseloads_caseworker", "caseworker_id", "household"),)


class Event(Base):
    """A usage event received through the API after the last build."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(128))
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM))
    service_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_type: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_events_source_event_id"),
        Index("ix_events_person", "pseudonym"),
    )


class Feedback(Base):
    """A citizen's reaction to a suggestion, or a caseworker's decision on it."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM))
    service_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_feedback_person", "pseudonym"),)


class Suggestion(Base):
    """What was shown to whom: the answer to "which suggestions were made" (subject access)."""

    __tablename__ = "suggestions"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM))
    served_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))  # "services" or "early_help"
    model_version: Mapped[str] = mapped_column(String(64))
    personalised: Mapped[bool] = mapped_column(Boolean)
    service_ids: Mapped[str] = mapped_column(Text)  # JSON list, in rank order
    __table_args__ = (Index("ix_suggestions_person", "pseudonym"), Index("ix_suggestions_served_at", "served_at"))


class CitizenPreference(Base):
    """A resident's own settings on the portal (one row per person; no row: every default)."""

    __tablename__ = "citizen_preferences"
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM), primary_key=True)
    # Suggest services related to sensitive services the person uses (their own page only).
    sensitive_suggestions: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SavedService(Base):
    """A service a resident saved to their list on the portal (subject access; erasure removes it)."""

    __tablename__ = "saved_services"
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CorrectionRequest(Base):
    """A resident's "something is wrong" about the data held on them, for staff to act on."""

    __tablename__ = "correction_requests"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM))
    about: Mapped[str] = mapped_column(String(32))  # which part of "Your data"
    message: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_correction_requests_person", "pseudonym"),)


class Erasure(Base):
    """A person erased from the service: only the pseudonym and the fact remain."""

    __tablename__ = "erasures"
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LinkageDecision(Base):
    """A data steward's decision on one uncertain partner-record link (serving/domain/linkage_review.py).

    Both sides are pseudonyms, as in the review queue; the next feature build reads these
    (serving/infra/service_readers.py) and the latest decision on a pair wins.
    """

    __tablename__ = "linkage_decisions"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    partner_record: Mapped[str] = mapped_column(String(PSEUDONYM))
    person: Mapped[str] = mapped_column(String(PSEUDONYM))
    decision: Mapped[str] = mapped_column(String(8))  # accept | reject
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reviewer: Mapped[str] = mapped_column(String(128))  # the steward's staff id
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (Index("ix_linkage_decisions_pair", "partner_record", "person", "decided_at"),)


class Revocation(Base):
    """A revoked token (`jti`), or every token of `subject` issued before `not_before`.

    Read into memory by every worker (serving/domain/revocations.py); after `expires_at` the tokens it
    refuses have expired anyway, so the row no longer matters and is pruned.
    """

    __tablename__ = "revocations"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    jti: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(128), nullable=True)  # pseudonym or staff id
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_revocations_expires_at", "expires_at"),)


class AuditEntry(Base):
    """One audit entry; `hash` = sha256(prev_hash + canonical entry), see serving/domain/audit.py."""

    __tablename__ = "audit_entries"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(PSEUDONYM), nullable=True)
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (Index("ix_audit_subject", "subject"),)


class AuditHead(Base):
    """The chain's tip (one row): taking its row lock serialises appends across workers."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


def utc_text(moment: datetime) -> str:
    """UTC, microseconds, `Z`: one text for a stored moment, the same after a SQLite (naive) or
    PostgreSQL (aware) round trip (the audit chain hashes it; seeding compares with it)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EarlyHelpDecision(Base):
    """What a practitioner decided about a child's early-help indicator or a suggested intervention.

    Append-only (erasure aside): the latest row per child is the current decision, the rest is
    the child's history. `actor` is the staff id; `band` and `model_version` are what was shown.
    """

    __tablename__ = "early_help_decisions"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM))  # the child
    household: Mapped[str] = mapped_column(String(PSEUDONYM))
    decision: Mapped[str] = mapped_column(String(32))
    service_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None for a disagreement
    reason: Mapped[str] = mapped_column(Text)
    band: Mapped[str | None] = mapped_column(String(8), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_early_help_decisions_person", "pseudonym"),
                      Index("ix_early_help_decisions_household", "household"))


class EarlyHelpRequest(Base):
    """A family's request about a child's early-help indicator: a review (or an objection)."""

    __tablename__ = "early_help_requests"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM))  # the child
    household: Mapped[str] = mapped_column(String(PSEUDONYM))
    kind: Mapped[str] = mapped_column(String(16))  # review, object
    requested_by: Mapped[str] = mapped_column(String(PSEUDONYM))  # the parent's pseudonym
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_early_help_requests_household", "household"),)
