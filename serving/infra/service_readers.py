"""Read-only views of the service database for the next feature build.

`signpost features` must see what the service recorded — erasures, consent decisions and a data
steward's clerical decisions made through it — without ever changing the service database: every reader goes through
`serving.infra.db.read_service_database` (read-only, never migrating, None when no service
database exists yet).
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, inspect, literal, select, union_all

from serving.infra.db import read_service_database
from serving.infra.tables import ConsentOverride, ConsentRecord, Erasure, LinkageDecision


def erased_pseudonyms(url: str) -> frozenset[str] | None:
    """Everyone erased so far, for the next feature build; None when no service database exists yet.

    A database the service never set up holds no erasures; one that exists but cannot be read
    stops the build, since building without it would bring erased people back.
    """
    return read_service_database(
        url, "erasures", lambda connection: frozenset(connection.scalars(select(Erasure.pseudonym))),
        what="erasures",
    )


def api_consents(url: str) -> pd.DataFrame | None:
    """Decisions made through the service (origin "api"), for the next feature build.

    Columns pseudonym, purpose, status, recorded_at (UTC, tz-aware), in time order; None
    when no service database exists yet. Rows seeded from the extract are left out (the
    build reads those from the extract itself), and erased people's rows are already gone
    (erasure deletes them).

    An admin's Art. 21 override of an objection is a `granted` row at the moment it was
    decided: the build's rule (the latest record as of the day wins, a tie goes to the
    objection) then treats the purpose as allowed exactly while the override stands at request
    time (`serving.domain.consent`: until the person's next decision for the purpose).
    """

    def read(connection: Connection) -> pd.DataFrame:
        decided = select(ConsentRecord.pseudonym, ConsentRecord.purpose, ConsentRecord.status,
                         ConsentRecord.recorded_at).where(ConsentRecord.origin == "api")
        if inspect(connection).has_table(ConsentOverride.__tablename__):  # a database from before 0005
            decided = union_all(decided, select(
                ConsentOverride.pseudonym, ConsentOverride.purpose, literal("granted"), ConsentOverride.decided_at))
        rows = sorted(connection.execute(decided).all(), key=lambda row: row[3])
        frame = pd.DataFrame(rows, columns=["pseudonym", "purpose", "status", "recorded_at"])
        # SQLite hands back naive values; the service always stores UTC.
        stamps = pd.to_datetime(frame["recorded_at"], utc=True) if len(frame) else pd.Series(
            [], dtype="datetime64[us, UTC]")
        return frame.assign(recorded_at=stamps.astype("datetime64[us, UTC]"))

    return read_service_database(url, "consent_records", read, what="consent decisions")


def steward_decisions(url: str) -> pd.DataFrame | None:
    """A data steward's decisions on uncertain links, in the clerical decisions file's columns
    (``features.linkage.DECISION_COLUMNS``; ``decided_at`` ISO 8601 UTC), oldest first.

    None when no service database exists yet; an empty frame when it predates the steward's
    page (revision 0008) or holds no decisions. The note stays in the service database: the
    build needs only the decision.
    """

    def read(connection: Connection) -> pd.DataFrame:
        columns = ["partner_record", "person", "decision", "decided_at", "reviewer"]
        if not inspect(connection).has_table(LinkageDecision.__tablename__):
            return pd.DataFrame(columns=columns)
        rows = connection.execute(select(
            LinkageDecision.partner_record, LinkageDecision.person, LinkageDecision.decision,
            LinkageDecision.decided_at, LinkageDecision.reviewer).order_by(LinkageDecision.decided_at,
                                                                             LinkageDecision.id)).all()
        frame = pd.DataFrame(rows, columns=columns)
        # SQLite hands back naive values; the service always stores UTC.
        frame["decided_at"] = [pd.Timestamp(t).tz_localize("UTC").isoformat() if pd.Timestamp(t).tzinfo is None
                               else pd.Timestamp(t).tz_convert("UTC").isoformat() for t in frame["decided_at"]]
        return frame

    return read_service_database(url, "consent_records", read, what="clerical linkage decisions")
