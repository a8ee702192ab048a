"""Start-up seeding from the processed folder: the consent ledger and the caseloads.

Each file is loaded once per content hash (the `seeds` table), so restarting a worker is
cheap and a new build's files are picked up on the next start.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import delete, insert

from serving import consent
from serving.db import Database
from serving.models import Caseload, Seed
from serving.processed import ProcessedData
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
                added["consents"] = consent.seed(session, pd.read_parquet(consents), sha256=sha)
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
