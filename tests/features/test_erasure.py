"""Erasure reaches the next build: erased people leave every output, and the manifest counts them.

The build must behave as if the extract had never held an erased person: the outputs equal
those of the same extract with that person's rows (and households no one else is in) taken
out, and every row read is accepted, quarantined or erased.
"""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from typer.testing import CliRunner

from features.pseudonym import key_id, pseudonymise
from signpost.errors import UserError

from .conftest import assert_same_outputs, read_outputs

PEOPLE = ["PA1", "PA2", "PA3", "PA4", "PB1", "PB2", "PC1", "PC2", "PD1"]
#: A made-up pseudonym: erased in the service, but not in this extract.
NOT_IN_EXTRACT = "f" * 64


def pseudonyms(key: bytes, ids, kind: str = "person") -> list[str]:
    return pseudonymise(list(ids), key, kind)


def without_people(tables: dict, gone: set[str]) -> dict:
    """The extract as it would be had the partners never held these people."""
    tables = copy.deepcopy(tables)
    households = {r["household_id"] for r in tables["citizens"] if r["household_id"]}
    left = {r["household_id"] for r in tables["citizens"] if r["person_id"] not in gone}
    for name in ("citizens", "events", "consents", "outcomes"):
        tables[name] = [r for r in tables[name] if r["person_id"] not in gone]
    tables["caseloads"] = [r for r in tables["caseloads"] if r["household_id"] not in households - left]
    return tables


def every_output_text(out) -> str:
    """Raw bytes of every output file plus every decoded Parquet value."""
    parts = []
    for path in out.rglob("*"):
        if path.is_file():
            parts.append(path.read_bytes().decode("latin-1"))
            if path.suffix == ".parquet":
                parts += [json.dumps(v, default=str) for v in pd.read_parquet(path).to_numpy().ravel()]
    return "\n".join(parts)


@pytest.fixture
def erasure_settings(settings_with, tmp_path):
    """Settings whose service folder (processed_dir) has not been built: no key to compare with."""
    return settings_with(processed_dir=tmp_path / "service-processed")


def test_an_erased_family_leaves_no_trace(run_build, tiny_tables, key, erasure_settings):
    gone = {"PB1", "PB2"}  # household HB: police events, an outcome, a consent, a caseload
    erased = set(pseudonyms(key, gone)) | {NOT_IN_EXTRACT}
    built = run_build(tiny_tables, erased=erased, settings=erasure_settings)

    text = every_output_text(built.out)
    for trace in [*erased, *pseudonyms(key, ["HB"], "household")]:
        assert trace not in text
    assert pseudonyms(key, ["PA1"])[0] in text  # the scan sees the people who stay

    rows = built.manifest["rows"]
    assert {name: counts["erased"] for name, counts in rows.items()} == {
        "citizens": 2, "services": 0, "events": 4, "consents": 1, "outcomes": 1, "caseloads": 1}
    assert rows["citizens"] == {"read": 9, "accepted": 7, "quarantined": 0, "erased": 2}
    for counts in rows.values():
        assert counts["read"] == counts["accepted"] + counts["quarantined"] + counts["erased"]
    assert built.manifest["erasure"] == {
        "service_database": "read", "service_key_id": None, "erased_in_service": 3,
        "people_removed": 2, "not_in_this_extract": 1, "households_removed": 1}
    assert built.manifest["shape"]["citizens"] == 7

    # exactly as if the extract had never held them
    absent = run_build(without_people(tiny_tables, gone), settings=erasure_settings)
    assert_same_outputs(read_outputs(built.out), read_outputs(absent.out))
    assert built.manifest["consent_snapshot_id"] == absent.manifest["consent_snapshot_id"]


def test_a_household_with_someone_left_stays(run_build, tiny_tables, key, erasure_settings):
    built = run_build(tiny_tables, erased=pseudonyms(key, ["PB1"]), settings=erasure_settings)
    household = pseudonyms(key, ["HB"], "household")[0]
    assert household in set(built.parquet("citizens.parquet")["household"])
    assert household in set(built.parquet("caseloads.parquet")["household"])
    assert built.manifest["rows"]["caseloads"]["erased"] == 0
    assert built.manifest["erasure"]["households_removed"] == 0


def test_without_a_service_database_nobody_is_left_out(run_build, tiny_tables):
    built = run_build(tiny_tables)
    erasure = built.manifest["erasure"]
    assert erasure["service_database"] == "absent" and "no service database" in erasure["note"]
    assert erasure["people_removed"] == erasure["erased_in_service"] == 0
    assert all(counts["erased"] == 0 for counts in built.manifest["rows"].values())
    assert built.manifest["shape"]["citizens"] == 9
    empty = run_build(tiny_tables, erased=set())
    assert empty.manifest["erasure"]["service_database"] == "read" and "note" not in empty.manifest["erasure"]
    assert_same_outputs(read_outputs(built.out), read_outputs(empty.out))


def test_an_erased_person_whose_row_was_quarantined_stays_quarantined(run_build, tiny_tables, key,
                                                                       erasure_settings):
    tiny_tables["citizens"][8]["birth_date"] = "10/10/2000"  # PD1
    built = run_build(tiny_tables, erased=pseudonyms(key, ["PD1"]), settings=erasure_settings)
    assert built.manifest["erasure"]["people_removed"] == 0
    assert built.manifest["erasure"]["not_in_this_extract"] == 1
    assert built.manifest["rows"]["citizens"] == {"read": 9, "accepted": 8, "quarantined": 1, "erased": 0}
    assert built.manifest["rows"]["events"]["quarantined"] == 2  # L3, L4 refer to a quarantined citizen
    assert pseudonyms(key, ["PD1"])[0] not in every_output_text(built.out)


def test_a_different_key_from_the_services_stops_the_build(run_build, tiny_tables, key, settings_with):
    def with_key(value: str, **overrides):
        return settings_with(**overrides).model_copy(update={"pseudonym_key": SecretStr(value)})

    service = run_build(tiny_tables, settings=with_key("the-service-key"))
    other = settings_with(processed_dir=service.out)
    with pytest.raises(UserError) as error:
        run_build(tiny_tables, erased=pseudonyms(key, ["PA1"]), settings=other)
    message = str(error.value)
    assert key_id(b"the-service-key") in message and key_id(key) in message
    assert "SIGNPOST_PSEUDONYM_KEY" in message and "the-service-key" not in message
    # nothing erased: nothing to match, so the key does not matter
    assert run_build(tiny_tables, erased=set(), settings=other).manifest["erasure"]["service_key_id"] is None
    # the service's own key: its key id is recorded
    same = with_key("the-service-key", processed_dir=service.out)
    built = run_build(tiny_tables, erased=pseudonyms(b"the-service-key", ["PA1"]), settings=same)
    assert built.manifest["erasure"]["service_key_id"] == key_id(b"the-service-key")
    assert built.manifest["erasure"]["people_removed"] == 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gone=st.sets(st.sampled_from(PEOPLE)), strangers=st.integers(0, 3), extra=st.integers(0, 20))
@example(gone=set(PEOPLE), strangers=1, extra=0)  # everyone erased: empty outputs, still accounted
def test_erasure_accounting_adds_up(run_build, tiny_tables, key, erasure_settings, gone, strangers, extra):
    tables = copy.deepcopy(tiny_tables)
    for i in range(extra):
        template = tables["events"][i % len(tables["events"])]
        tables["events"].append(dict(template, event_id=f"X{i}"))
    erased = set(pseudonyms(key, gone)) | {f"{i:064x}" for i in range(strangers)}
    built = run_build(tables, erased=erased, settings=erasure_settings)
    rows, erasure = built.manifest["rows"], built.manifest["erasure"]
    for name, counts in rows.items():
        assert counts["read"] == len(tables[name])
        assert counts["read"] == counts["accepted"] + counts["quarantined"] + counts["erased"], name
    absent = without_people(tables, gone)
    for name in ("citizens", "events", "consents", "outcomes", "caseloads"):
        assert rows[name]["erased"] == len(tables[name]) - len(absent[name]), name
    assert erasure["erased_in_service"] == len(erased)
    assert erasure["people_removed"] == len(gone) == rows["citizens"]["erased"]
    assert erasure["people_removed"] + erasure["not_in_this_extract"] == erasure["erased_in_service"]
    assert built.manifest["shape"]["citizens"] == len(PEOPLE) - len(gone)
    assert not set(built.parquet("citizens.parquet")["pseudonym"]) & erased
    absent_build = run_build(absent, settings=erasure_settings)
    assert_same_outputs(read_outputs(built.out), read_outputs(absent_build.out))


def test_cli_without_a_service_database_builds_and_says_so(run_build, tiny_tables, tmp_path, monkeypatch):
    from signpost.cli import app
    from signpost.settings import get_settings

    raw = run_build(tiny_tables).raw
    database = tmp_path / "never-served" / "signpost.db"
    monkeypatch.setenv("SIGNPOST_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("SIGNPOST_PSEUDONYM_KEY", "cli-key-not-secret")
    monkeypatch.setenv("SIGNPOST_PROCESSED_DIR", str(tmp_path / "processed"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["features", "--raw", str(raw), "--out", str(tmp_path / "processed"),
                                          "--as-of", "2026-09-30", "--extract-date", "2026-10-15"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "no service database yet" in result.output and "nobody was left out" in result.output
    assert not database.exists() and not database.parent.exists()  # reading never creates it
    manifest = json.loads((tmp_path / "processed" / "manifest.json").read_text())
    assert manifest["erasure"]["service_database"] == "absent"
