"""Consent decisions made through the service reach the next `signpost features` build.

The reader (`serving.infra.service_readers.api_consents`) on a real service database, SQLite and PostgreSQL
when it answers: only decisions made through the service (origin "api"), in UTC, read-only,
with the same "no service database yet" and "unreadable" handling as the erasure reader
(both use `serving.infra.db.read_service_database`). Then the real `signpost features` command
rebuilds the shared small county with a withdrawal in force.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
from typer.testing import CliRunner

from serving.domain.auth import Role, Viewer
from serving.domain.consent import change, history
from serving.domain.erasure import erase
from serving.infra.seeding import seed_consents
from serving.infra.service_readers import api_consents

ADMIN = Viewer(Role.admin, "admin-1")
A, B, C = "a" * 64, "b" * 64, "c" * 64


def record(database, who: str, purpose: str, status: str) -> None:
    with database.write_session() as session:
        change(session, pseudonym=who, purpose=purpose, status=status, method="portal",
               viewer=Viewer(Role.citizen, who))


def test_reads_the_decisions_made_through_the_service_only(database):
    assert api_consents(database.url).empty
    with database.write_session() as session:  # what start-up seeding puts in from the extract
        seed_consents(session, pd.DataFrame({"pseudonym": [A, C], "purpose": ["personalisation"] * 2,
                                    "status": ["granted"] * 2, "recorded_at": ["2025-06-01T10:00:00"] * 2,
                                    "method": ["paper"] * 2}), sha256="extract-1")
    start = datetime.now(UTC)
    record(database, A, "personalisation", "withdrawn")
    record(database, B, "early_intervention", "objected")
    record(database, A, "personalisation", "granted")
    end = datetime.now(UTC)

    ledger = api_consents(database.url)
    assert list(ledger.columns) == ["pseudonym", "purpose", "status", "recorded_at"]
    assert ledger[["pseudonym", "purpose", "status"]].values.tolist() == [
        [A, "personalisation", "withdrawn"], [B, "early_intervention", "objected"], [A, "personalisation", "granted"]]
    assert str(ledger["recorded_at"].dt.tz) == "UTC"
    assert ledger["recorded_at"].between(pd.Timestamp(start), pd.Timestamp(end)).all()
    with database.reading() as session:  # the same instants as the ledger holds
        held = [r.recorded_at for r in history(session, A) if r.origin == "api"]
    assert [pd.Timestamp(t if t.tzinfo else t.replace(tzinfo=UTC)) for t in held] == \
        ledger.loc[ledger["pseudonym"] == A, "recorded_at"].tolist()


def test_an_erased_persons_decisions_are_not_read(database):
    record(database, A, "personalisation", "withdrawn")
    record(database, B, "personalisation", "granted")
    with database.write_session() as session:
        erase(session, A, viewer=ADMIN, known=True)
    assert api_consents(database.url)["pseudonym"].tolist() == [B]








def test_the_next_build_honours_a_withdrawal_made_through_the_service(database, small_county, tmp_path,
                                                                      monkeypatch):
    from signpost.cli import app
    from signpost.settings import get_settings

    served = pd.read_parquet(small_county.processed / "citizens.parquet")
    who = served.loc[served["consent_personalisation"].fillna(False), "pseudonym"].iloc[0]
    record(database, who, "personalisation", "withdrawn")
    record(database, C, "personalisation", "withdrawn")  # not in the extract
    day = datetime.now(ZoneInfo("Europe/London")).date()

    out = tmp_path / "processed"
    monkeypatch.setenv("SIGNPOST_DATABASE_URL", database.url)
    monkeypatch.setenv("SIGNPOST_PSEUDONYM_KEY", small_county.key)
    monkeypatch.setenv("SIGNPOST_PROCESSED_DIR", str(small_county.processed))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, [
            "features", "--raw", str(small_county.raw), "--out", str(out), "--quarantine", str(tmp_path / "q"),
            "--as-of", day.isoformat(), "--extract-date", day.isoformat()])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "consent: 1 decisions made through the service merged" in " ".join(result.output.split())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["consent_ledger"] == {
        "service_database": "read", "records_read": 2, "people_named": 2, "records_used": 1,
        "people_matched": 1, "records_ignored": 1}
    citizens = pd.read_parquet(out / "citizens.parquet").set_index("pseudonym")
    assert not citizens.loc[who, "consent_personalisation"]
    consents = pd.read_parquet(out / "consents.parquet")
    assert not ((consents["pseudonym"] == who) & (consents["status"] == "withdrawn")).any()


def test_the_next_build_allows_early_help_while_an_art21_override_stands(database, small_county, tmp_path,
                                                                         monkeypatch):
    from serving.domain.consent import record_override
    from signpost.cli import app
    from signpost.settings import get_settings

    served = pd.read_parquet(small_county.processed / "citizens.parquet")
    allowed = served.loc[served["consent_early_intervention"].fillna(False), "pseudonym"]
    overridden, objecting, ended = allowed.iloc[0], allowed.iloc[1], allowed.iloc[2]
    for who in (overridden, objecting, ended):
        record(database, who, "early_intervention", "objected")
    for who in (overridden, ended):
        with database.write_session() as session:
            record_override(session, pseudonym=who, purpose="early_intervention", viewer=ADMIN,
                            reason="The early-help panel found compelling grounds to continue.")
    record(database, ended, "early_intervention", "objected")  # a fresh objection ends the override
    day = datetime.now(ZoneInfo("Europe/London")).date()

    out = tmp_path / "processed"
    monkeypatch.setenv("SIGNPOST_DATABASE_URL", database.url)
    monkeypatch.setenv("SIGNPOST_PSEUDONYM_KEY", small_county.key)
    monkeypatch.setenv("SIGNPOST_PROCESSED_DIR", str(small_county.processed))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, [
            "features", "--raw", str(small_county.raw), "--out", str(out), "--quarantine", str(tmp_path / "q"),
            "--as-of", day.isoformat(), "--extract-date", day.isoformat()])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    citizens = pd.read_parquet(out / "citizens.parquet").set_index("pseudonym")
    assert citizens.loc[overridden, "consent_early_intervention"]
    assert not citizens.loc[objecting, "consent_early_intervention"]
    assert not citizens.loc[ended, "consent_early_intervention"]
