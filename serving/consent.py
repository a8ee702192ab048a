"""The consent ledger: seeded from the extracts, changed through the API, read on every request.

Every decision is a row in `consent_records` (append-only); `consent_state` holds the latest
decision per person and purpose, so a request reads one indexed row set and a withdrawal is
in force for the very next request — before any retraining. A person with no record for a
purpose gets the configured default (`settings.consent_defaults`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
from sqlalchemy import Connection, delete, func, insert, select, text
from sqlalchemy.orm import Session

from serving import audit
from serving.auth import Viewer
from serving.db import read_service_database
from serving.models import ConsentRecord, ConsentState, Erasure, Seed
from signpost.settings import PURPOSES, Purpose, Settings

Status = Literal["granted", "withdrawn", "objected"]
Method = Literal["portal", "paper", "phone", "caseworker", "import"]


@dataclass(frozen=True)
class Decision:
    purpose: Purpose
    allowed: bool
    status: Status | None  # None: no record, the default applies
    recorded_at: datetime | None
    method: str | None


def allowed(status: str | None, purpose: Purpose, settings: Settings) -> bool:
    """Whether the latest status for `purpose` allows use (the default when there is none)."""
    if status is None:
        return bool(settings.consent_defaults.get(purpose, False))
    return status == "granted"


def statuses(connection: Connection | Session, pseudonym: str) -> dict[str, str]:
    """The latest status per purpose for one person (the hot path: one indexed read)."""
    rows = connection.execute(
        select(ConsentState.purpose, ConsentState.status).where(ConsentState.pseudonym == pseudonym)
    )
    return {purpose: status for purpose, status in rows}


def decisions(session: Session, pseudonym: str, settings: Settings) -> list[Decision]:
    """One decision per purpose, with the default filled in where there is no record."""
    rows = {
        row.purpose: row
        for row in session.scalars(select(ConsentState).where(ConsentState.pseudonym == pseudonym))
    }
    out = []
    for purpose in PURPOSES:
        row = rows.get(purpose)
        status = row.status if row else None
        out.append(
            Decision(
                purpose=purpose,
                allowed=allowed(status, purpose, settings),
                status=status,  # type: ignore[arg-type]
                recorded_at=row.recorded_at if row else None,
                method=row.method if row else None,
            )
        )
    return out


def household_objects(session: Session, pseudonyms: list[str], purpose: Purpose = "early_intervention") -> bool:
    """Whether anyone in the household has objected to (or withdrawn from) `purpose`."""
    if not pseudonyms:
        return False
    found = session.scalar(
        select(func.count())
        .select_from(ConsentState)
        .where(
            ConsentState.pseudonym.in_(pseudonyms),
            ConsentState.purpose == purpose,
            ConsentState.status.in_(("objected", "withdrawn")),
        )
    )
    return bool(found)


def change(
    session: Session,
    *,
    pseudonym: str,
    purpose: Purpose,
    status: Status,
    method: Method,
    viewer: Viewer,
) -> ConsentState:
    """Record a decision, make it the current state, and audit it — all in one transaction."""
    now = datetime.now(UTC)
    session.add(
        ConsentRecord(
            pseudonym=pseudonym,
            purpose=purpose,
            status=status,
            recorded_at=now,
            method=method,
            origin="api",
            actor_role=viewer.role.value,
        )
    )
    state = session.get(ConsentState, (pseudonym, purpose))
    previous = state.status if state else None
    if state is None:
        state = ConsentState(pseudonym=pseudonym, purpose=purpose, status=status, recorded_at=now, method=method)
        session.add(state)
    else:
        state.status, state.recorded_at, state.method = status, now, method
    audit.append(
        session,
        actor_role=viewer.role.value,
        actor=viewer.subject,
        action="consent.change",
        subject=pseudonym,
        detail={"purpose": purpose, "from": previous, "to": status, "method": method},
    )
    session.flush()
    return state


def history(session: Session, pseudonym: str) -> list[ConsentRecord]:
    return list(
        session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.pseudonym == pseudonym)
            .order_by(ConsentRecord.recorded_at, ConsentRecord.id)
        )
    )


def _utc(values: pd.Series) -> pd.Series:
    """Extract timestamps as UTC; naive ones are UK local time (DATA_CONTRACT.md)."""
    stamps = pd.to_datetime(values)
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("Europe/London", ambiguous="NaT", nonexistent="shift_forward")
    return stamps.dt.tz_convert("UTC")


def seed(session: Session, consents: pd.DataFrame, *, sha256: str) -> int:
    """Load `consents.parquet` into the ledger once per file content; returns rows added.

    Records already in the ledger (an earlier build's extract) are not duplicated, erased
    people are skipped, and decisions made through the API since stay in force unless the
    extract holds a later one (the latest record wins).
    """
    if session.get(Seed, ("consents", sha256)) is not None:
        return 0
    erased = set(session.scalars(select(Erasure.pseudonym)))
    existing = {
        (p, u, s, audit.timestamp(r), m)
        for p, u, s, r, m in session.execute(
            select(
                ConsentRecord.pseudonym, ConsentRecord.purpose, ConsentRecord.status,
                ConsentRecord.recorded_at, ConsentRecord.method,
            ).where(ConsentRecord.origin == "extract")
        )
    }
    frame = consents.assign(recorded_at=_utc(consents["recorded_at"]))
    frame = frame[frame["recorded_at"].notna() & ~frame["pseudonym"].isin(erased)]
    rows = []
    for p, u, s, r, m in frame[["pseudonym", "purpose", "status", "recorded_at", "method"]].itertuples(
        index=False, name=None
    ):
        moment = r.to_pydatetime()
        if (p, u, s, audit.timestamp(moment), m) in existing:
            continue
        rows.append({"pseudonym": p, "purpose": u, "status": s, "recorded_at": moment, "method": m,
                     "origin": "extract", "actor_role": None})
    for start in range(0, len(rows), 50_000):
        session.execute(insert(ConsentRecord), rows[start : start + 50_000])
    _rebuild_state(session)
    session.add(Seed(name="consents", sha256=sha256, rows=len(rows), seeded_at=datetime.now(UTC)))
    return len(rows)


def _rebuild_state(session: Session) -> None:
    """consent_state := the latest record per person and purpose.

    Equal timestamps resolve towards privacy (objected > withdrawn > granted), as the
    feature pipeline does (features/consent.py), so a tie never grants use.
    """
    session.execute(delete(ConsentState))
    session.execute(
        text(
            "INSERT INTO consent_state (pseudonym, purpose, status, recorded_at, method) "
            "SELECT pseudonym, purpose, status, recorded_at, method FROM ("
            " SELECT pseudonym, purpose, status, recorded_at, method, ROW_NUMBER() OVER ("
            "  PARTITION BY pseudonym, purpose ORDER BY recorded_at DESC,"
            "  CASE status WHEN 'objected' THEN 2 WHEN 'withdrawn' THEN 1 ELSE 0 END DESC, id DESC) AS rn"
            " FROM consent_records) latest WHERE rn = 1"
        )
    )


def api_consents(url: str) -> pd.DataFrame | None:
    """Decisions made through the service (origin "api"), for the next feature build.

    Columns pseudonym, purpose, status, recorded_at (UTC, tz-aware), in ledger order; None
    when no service database exists yet. Rows seeded from the extract are left out (the
    build reads those from the extract itself), and erased people's rows are already gone
    (erasure deletes them). Only reads: see `serving.db.read_service_database`.
    """

    def read(connection: Connection) -> pd.DataFrame:
        rows = connection.execute(
            select(ConsentRecord.pseudonym, ConsentRecord.purpose, ConsentRecord.status, ConsentRecord.recorded_at)
            .where(ConsentRecord.origin == "api")
            .order_by(ConsentRecord.id)
        ).all()
        frame = pd.DataFrame(rows, columns=["pseudonym", "purpose", "status", "recorded_at"])
        # SQLite hands back naive values; the service always stores UTC.
        stamps = pd.to_datetime(frame["recorded_at"], utc=True) if len(frame) else pd.Series(
            [], dtype="datetime64[us, UTC]")
        return frame.assign(recorded_at=stamps.astype("datetime64[us, UTC]"))

    return read_service_database(url, "consent_records", read, what="consent decisions")
