"""Start-up seeding from the processed folder: the consent ledger and the caseloads.

The ledger's rules (what a status allows, how a decision is recorded and audited) live in
`serving.domain.consent`; this module only copies the extract's records in.

Each file is loaded once per content hash (the `seeds` table), so restarting a worker is
cheap and a new build's files are picked up on the next start.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from serving.infra.db import Database
from serving.infra.processed import ProcessedData
from serving.infra.tables import Caseload, ConsentRecord, ConsentState, Erasure, Seed, utc_text
from signpost.digests import sha256_file

log = logging.getLogger("signpost.seeding")


def seed(database: Database, processed: ProcessedData) -> dict[str, int]:
    """Load consents.parquet and caseloads.parquet if this content has not been loaded yet."""
    added: dict[str, int] = {}
    consents = processed.folder / "consents.parquet"
    if consents.exists():
        sha = sha256_file(consents)
        with database.write_session() as session:
            if session.get(Seed, ("consents", sha)) is None:
                added["consents"] = seed_consents(session, pd.read_parquet(consents), sha256=sha)
    caseloads = processed.folder / "caseloads.parquet"
    if caseloads.exists():
        sha = sha256_file(caseloads)
        with database.write_session() as session:
            if session.get(Seed, ("caseloads", sha)) is None:
                frame = pd.read_parquet(caseloads)
                session.execute(delete(Caseload))  # a mirror of the extract, not a ledger
                rows = [
                    {"caseworker_id": str(c), "household": str(h), "start_date": _date(s), "end_date": _date(e)}
                    for c, h, s, e in frame[["caseworker_id", "household", "start_date", "end_date"]]
                    .itertuples(index=False, name=None)
                    if isinstance(h, str) and _date(s) is not None
                ]
                for start in range(0, len(rows), 50_000):
                    session.execute(insert(Caseload), rows[start : start + 50_000])
                session.add(Seed(name="caseloads", sha256=sha, rows=len(rows), seeded_at=datetime.now(UTC)))
                added["caseloads"] = len(rows)
    if added:
        log.info("seeded the service database", extra={"rows": added})
    return added


def _date(value):
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    stamp = pd.Timestamp(value)
    return None if pd.isna(stamp) else stamp.date()


def _utc(values: pd.Series) -> pd.Series:
    """Extract timestamps as UTC; naive ones are UK local time (docs/DATA_CONTRACT.md)."""
    stamps = pd.to_datetime(values)
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("Europe/London", ambiguous="NaT", nonexistent="shift_forward")
    return stamps.dt.tz_convert("UTC")


def seed_consents(session: Session, consents: pd.DataFrame, *, sha256: str) -> int:
    """Load `consents.parquet` into the ledger once per file content; returns rows added.

    Records already in the ledger (an earlier build's extract) are not duplicated, erased
    people are skipped, and decisions made through the API since stay in force unless the
    extract holds a later one (the latest record wins).
    """
    if session.get(Seed, ("consents", sha256)) is not None:
        return 0
    erased = set(session.scalars(select(Erasure.pseudonym)))
    existing = {
        (p, u, s, utc_text(r), m)
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
        if (p, u, s, utc_text(moment), m) in existing:
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
