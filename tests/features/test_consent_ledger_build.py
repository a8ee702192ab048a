"""Consent decisions made through the service reach the next build.

Decisions are recorded with the real `serving.domain.consent.change` in a real (SQLite) service
database and read back with `serving.infra.service_readers.api_consents`, as `signpost features` does. The
build must behave exactly as if the extract itself had held those records: every output that
depends on consent (citizens' flags, interaction matrices, early-help tables, the research
export) follows, while `consents.parquet` stays the extract's (the service holds its own).
"""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import scipy.sparse as sp
from pydantic import SecretStr
from typer.testing import CliRunner

from features.pseudonym import key_id, pseudonymise
from serving.domain.auth import Role, Viewer
from serving.domain.consent import change
from serving.infra.db import Database, upgrade
from serving.infra.service_readers import api_consents
from signpost.errors import UserError

from .conftest import assert_same_outputs, read_outputs

UK = ZoneInfo("Europe/London")
WINDOWS = ("train", "test", "all")


def pseudonym(key: bytes, person: str) -> str:
    return pseudonymise([person], key, "person")[0]


@pytest.fixture
def service(tmp_path):
    """An empty, migrated service database (SQLite) of the kind the service runs on."""
    db = Database(f"sqlite:///{tmp_path / 'service' / 'signpost.db'}")
    upgrade(db)
    yield db
    db.dispose()


def record(db: Database, who: str, purpose: str, status: str) -> None:
    """The citizen's own decision through the portal, as `PUT /v1/citizens/{id}/consent` makes it."""
    with db.write_session() as session:
        change(session, pseudonym=who, purpose=purpose, status=status, method="portal",
               viewer=Viewer(Role.citizen, who))


def today_uk() -> date:
    return datetime.now(UK).date()


def with_decisions_in_extract(tables: dict, ledger: pd.DataFrame, key: bytes) -> dict:
    """The extract as it would be had the partner recorded the service's decisions itself."""
    tables = copy.deepcopy(tables)
    ids = {pseudonym(key, r["person_id"]): r["person_id"] for r in tables["citizens"]}
    for row in ledger.itertuples(index=False):
        if row.pseudonym in ids:
            local = row.recorded_at.tz_convert(UK).tz_localize(None).floor("s")
            tables["consents"].append({"person_id": ids[row.pseudonym], "purpose": row.purpose,
                                       "status": row.status, "recorded_at": local.isoformat(),
                                       "method": "portal"})
    return tables


def matrix_rows(built, who: str) -> dict[str, int]:
    """Stored entries of this person's row in each interaction matrix (0 when not a citizen row)."""
    citizens = built.parquet("citizens.parquet").set_index("pseudonym")
    row = int(citizens.loc[who, "row"])
    return {w: int(sp.load_npz(built.out / f"interactions_{w}.npz").tocsr()[row].nnz) for w in WINDOWS}


def in_early_help(built, who: str) -> dict[str, bool]:
    return {name: who in set(built.parquet(f"early_help_{name}.parquet")["pseudonym"])
            for name in ("train", "valid", "score")}


def test_a_withdrawal_through_the_service_leaves_every_personalisation_output(
        run_build, tiny_tables, key, service):
    pa1 = pseudonym(key, "PA1")
    record(service, pa1, "personalisation", "withdrawn")
    ledger = api_consents(service.url)
    day = today_uk()

    before = run_build(tiny_tables, as_of=day, extract_date=day, ledger=api_consents("sqlite:///nowhere.db"))
    assert before.parquet("citizens.parquet").set_index("pseudonym").loc[pa1, "consent_personalisation"]
    assert matrix_rows(before, pa1)["all"] > 0

    built = run_build(tiny_tables, as_of=day, extract_date=day, ledger=ledger)
    assert not built.parquet("citizens.parquet").set_index("pseudonym").loc[pa1, "consent_personalisation"]
    assert matrix_rows(built, pa1) == {w: 0 for w in WINDOWS}
    assert built.manifest["personalisation_citizens"] == before.manifest["personalisation_citizens"] - 1
    assert built.manifest["consent_ledger"] == {
        "service_database": "read", "records_read": 1, "people_named": 1, "records_used": 1,
        "people_matched": 1, "records_ignored": 0}
    # the service's records are not written into the processed consents
    pd.testing.assert_frame_equal(built.parquet("consents.parquet"), before.parquet("consents.parquet"))
    assert built.manifest["consent_snapshot_id"] != before.manifest["consent_snapshot_id"]


def test_every_consent_output_follows_the_service_as_if_the_extract_held_its_decisions(
        run_build, tiny_tables, key, service):
    record(service, pseudonym(key, "PA1"), "personalisation", "withdrawn")
    record(service, pseudonym(key, "PC2"), "personalisation", "granted")
    record(service, pseudonym(key, "PB1"), "early_intervention", "objected")
    record(service, pseudonym(key, "PA2"), "research", "withdrawn")
    record(service, pseudonym(key, "PD1"), "research", "withdrawn")
    record(service, "e" * 64, "personalisation", "withdrawn")  # not in this extract
    ledger = api_consents(service.url)
    day = today_uk()

    built = run_build(tiny_tables, as_of=day, extract_date=day, ledger=ledger)
    same = run_build(with_decisions_in_extract(tiny_tables, ledger, key), as_of=day, extract_date=day)
    skip = ("manifest.json", "consents.parquet")
    assert_same_outputs(read_outputs(built.out, skip=skip), read_outputs(same.out, skip=skip))
    assert built.manifest["consent_snapshot_id"] == same.manifest["consent_snapshot_id"]
    for part in ("personalisation_citizens", "early_help", "research", "shape", "matrices"):
        assert built.manifest[part] == same.manifest[part], part
    assert built.manifest["consent_ledger"] == {
        "service_database": "read", "records_read": 6, "people_named": 6, "records_used": 5,
        "people_matched": 5, "records_ignored": 1}
    assert "e" * 64 not in json.dumps(built.manifest)


def test_a_withdrawal_recorded_after_the_as_of_date_does_not_apply(run_build, tiny_tables, key, service):
    pa1 = pseudonym(key, "PA1")
    record(service, pa1, "personalisation", "withdrawn")
    day = today_uk() - timedelta(days=1)  # the snapshot is of yesterday; the decision is today's
    built = run_build(tiny_tables, as_of=day, extract_date=day + timedelta(days=1),
                      ledger=api_consents(service.url))
    before = run_build(tiny_tables, as_of=day, extract_date=day + timedelta(days=1))
    assert_same_outputs(read_outputs(built.out), read_outputs(before.out))
    assert built.manifest["consent_snapshot_id"] == before.manifest["consent_snapshot_id"]
    assert built.parquet("citizens.parquet").set_index("pseudonym").loc[pa1, "consent_personalisation"]
    assert built.manifest["consent_ledger"]["records_used"] == 1


def test_an_opt_in_through_the_service_puts_a_person_in(run_build, tiny_tables, key, service):
    pc2 = pseudonym(key, "PC2")  # no personalisation record in the extract: opt-in default, so out
    day = today_uk()
    before = run_build(tiny_tables, as_of=day, extract_date=day)
    assert not before.parquet("citizens.parquet").set_index("pseudonym").loc[pc2, "consent_personalisation"]
    assert matrix_rows(before, pc2)["all"] == 0
    record(service, pc2, "personalisation", "granted")
    built = run_build(tiny_tables, as_of=day, extract_date=day, ledger=api_consents(service.url))
    assert built.parquet("citizens.parquet").set_index("pseudonym").loc[pc2, "consent_personalisation"]
    assert matrix_rows(built, pc2)["all"] > 0  # A1, a library loan in October
    assert built.manifest["personalisation_citizens"] == before.manifest["personalisation_citizens"] + 1


def test_a_parents_objection_through_the_service_takes_the_children_out_of_early_help(
        run_build, tiny_tables, key, service):
    pb1, pb2 = pseudonym(key, "PB1"), pseudonym(key, "PB2")
    day = today_uk()
    before = run_build(tiny_tables, as_of=day, extract_date=day)
    assert in_early_help(before, pb2)["score"]
    record(service, pb1, "early_intervention", "objected")
    built = run_build(tiny_tables, as_of=day, extract_date=day, ledger=api_consents(service.url))
    # the scoring table is as of the build's day; the training and validation snapshots are as of
    # their own (earlier) days, so today's objection does not reach back, as for an extract record
    assert in_early_help(built, pb2) == {"train": True, "valid": True, "score": False}
    assert not built.parquet("citizens.parquet").set_index("pseudonym").loc[pb1, "consent_early_intervention"]
    denied = before.manifest["early_help"]["people_denied"]
    assert built.manifest["early_help"]["people_denied"] == denied | {"score": denied["score"] + 2}
    assert in_early_help(built, pseudonym(key, "PA3")) == in_early_help(before, pseudonym(key, "PA3"))


def test_without_a_service_database_the_build_uses_the_extract_and_says_so(run_build, tiny_tables, tmp_path):
    missing = tmp_path / "never-served" / "signpost.db"
    assert api_consents(f"sqlite:///{missing}") is None
    assert not missing.parent.exists()
    built = run_build(tiny_tables, ledger=None)
    ledger = built.manifest["consent_ledger"]
    assert ledger["service_database"] == "absent" and "no service database" in ledger["note"]
    assert ledger["records_read"] == ledger["records_used"] == 0
    empty = run_build(tiny_tables, ledger=pd.DataFrame(columns=["pseudonym", "purpose", "status", "recorded_at"]))
    assert empty.manifest["consent_ledger"]["service_database"] == "read"
    assert_same_outputs(read_outputs(built.out), read_outputs(empty.out))
    assert built.manifest["consent_snapshot_id"] == empty.manifest["consent_snapshot_id"]


def test_decisions_under_another_key_stop_the_build(run_build, tiny_tables, key, settings_with, service):
    service_settings = settings_with().model_copy(update={"pseudonym_key": SecretStr("the-service-key")})
    served = run_build(tiny_tables, settings=service_settings)
    record(service, pseudonym(b"the-service-key", "PA1"), "personalisation", "withdrawn")
    with pytest.raises(UserError) as error:
        run_build(tiny_tables, settings=settings_with(processed_dir=served.out), ledger=api_consents(service.url))
    assert key_id(b"the-service-key") in str(error.value) and "consent decisions" in str(error.value)


def test_cli_merges_the_services_decisions_and_says_so(run_build, tiny_tables, key, service, tmp_path,
                                                       monkeypatch):
    from signpost.cli import app
    from signpost.settings import get_settings

    record(service, pseudonym(b"cli-key-not-secret", "PA1"), "personalisation", "withdrawn")
    record(service, "e" * 64, "research", "withdrawn")
    raw = run_build(tiny_tables).raw
    day = today_uk()
    monkeypatch.setenv("SIGNPOST_DATABASE_URL", service.url)
    monkeypatch.setenv("SIGNPOST_PSEUDONYM_KEY", "cli-key-not-secret")
    monkeypatch.setenv("SIGNPOST_PROCESSED_DIR", str(tmp_path / "processed"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["features", "--raw", str(raw), "--out", str(tmp_path / "processed"),
                                          "--as-of", day.isoformat(), "--extract-date", day.isoformat()])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "consent: 1 decisions made through the service merged" in " ".join(result.output.split())
    manifest = json.loads((tmp_path / "processed" / "manifest.json").read_text())
    assert manifest["consent_ledger"]["records_used"] == 1 and manifest["consent_ledger"]["records_ignored"] == 1
    citizens = pd.read_parquet(tmp_path / "processed" / "citizens.parquet").set_index("pseudonym")
    assert not citizens.loc[pseudonym(b"cli-key-not-secret", "PA1"), "consent_personalisation"]
