"""Erasure: a person's ledger, events, feedback and served lists removed; the fact kept.

The audit trail keeps the pseudonym and the fact of erasure (it is append-only and its
entries carry no personal data beyond the pseudonym); `erasures` makes every worker refuse
to serve the person from the next request on, start-up seeding skips them, and the next
`signpost features` build leaves them out (`erased_pseudonyms`).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, delete, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from serving import audit
from serving.auth import Viewer
from serving.db import normalise_url
from serving.errors import Gone, NotFound
from serving.models import ConsentRecord, ConsentState, Erasure, Event, Feedback, Suggestion
from signpost.errors import UserError


def erase(session: Session, pseudonym: str, *, viewer: Viewer, known: bool) -> tuple[datetime, dict[str, int]]:
    """Delete what is held and record the erasure; the caller commits.

    `known`: the person is in the current build (so the next build must leave them out too).
    """
    earlier = session.get(Erasure, pseudonym)
    if earlier is not None:
        raise Gone(f"this person was already erased at {audit.timestamp(earlier.erased_at)}")
    removed = {}
    for name, model in (
        ("consent_records", ConsentRecord), ("consent_state", ConsentState), ("events", Event),
        ("feedback", Feedback), ("suggestions", Suggestion),
    ):
        removed[name] = session.execute(delete(model).where(model.pseudonym == pseudonym)).rowcount or 0
    if not known and not any(removed.values()):
        raise NotFound("nothing is held about this person; check the person id")
    now = datetime.now(UTC)
    session.add(Erasure(pseudonym=pseudonym, erased_at=now))
    audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="erasure",
                 subject=pseudonym, detail={"removed": removed})
    session.flush()
    return now, removed


def is_erased(session: Session, pseudonym: str) -> bool:
    return session.get(Erasure, pseudonym) is not None


def erased_pseudonyms(url: str) -> frozenset[str] | None:
    """Everyone erased so far, for the next feature build; None when no service database exists yet.

    Only reads: a SQLite file is opened read-only and never created, and nothing is migrated.
    A database the service never set up (no file, no PostgreSQL database of that name, or no
    tables at all) holds no erasures; one that exists but cannot be read stops the build,
    since building without it would bring erased people back.
    """
    parsed = make_url(normalise_url(url))
    shown = parsed.render_as_string(hide_password=True)
    advice = ("the feature build must leave erased people out, so it stops; check SIGNPOST_DATABASE_URL "
              "points at the service's database and that it is reachable")
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or not Path(path).is_file():
            return None
        target = Path(path).resolve()
        engine = create_engine(
            "sqlite://", poolclass=NullPool,
            creator=lambda: sqlite3.connect(f"file:{quote(str(target))}?mode=ro", uri=True, timeout=30),
        )
    else:
        try:
            engine = create_engine(parsed, poolclass=NullPool)
        except (NoSuchModuleError, ImportError) as error:
            raise UserError(f"cannot read erasures from {shown} ({error}); {advice}") from None
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            if "erasures" not in tables:
                if not tables:
                    return None
                raise UserError(
                    f"the service database {shown} has no erasures table: run `signpost db upgrade`, "
                    f"then build again ({advice})"
                )
            return frozenset(connection.scalars(select(Erasure.pseudonym)))
    except DBAPIError as error:
        if _no_such_database(parsed):
            return None
        reason = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
        raise UserError(f"cannot read erasures from the service database {shown} ({reason}); {advice}") from None
    finally:
        engine.dispose()


def _no_such_database(url: URL) -> bool:
    """Whether the PostgreSQL server answers but holds no database of that name (no service ran there)."""
    if url.get_backend_name() != "postgresql" or not url.database:
        return False
    engine = create_engine(url.set(database="postgres"), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = connection.scalar(text("SELECT count(*) FROM pg_database WHERE datname = :name"),
                                      {"name": url.database})
        return found == 0
    except DBAPIError:
        return False
    finally:
        engine.dispose()
