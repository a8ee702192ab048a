"""Erasures recorded by the service reach the next `signpost features` build.

A real service database (SQLite, and PostgreSQL when it answers) gets erasures through the
same `erase` the DELETE route calls; then the real `signpost features` command rebuilds the
shared small county and no processed file may hold a trace of the erased people.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from features.pseudonym import pseudonymise
from serving.domain.auth import Role, Viewer
from serving.domain.erasure import erase
from serving.infra.service_readers import erased_pseudonyms

ADMIN = Viewer(Role.admin, "admin-1")


def record_erasures(database, people: list[str]) -> None:
    with database.write_session() as session:
        for pseudonym in people:
            erase(session, pseudonym, viewer=ADMIN, known=True)


# ------------------------------------------------------------------ reading erasures ------


def test_reads_what_the_service_erased(database):
    assert erased_pseudonyms(database.url) == frozenset()
    record_erasures(database, ["a" * 64, "b" * 64])
    assert erased_pseudonyms(database.url) == {"a" * 64, "b" * 64}








# ------------------------------------------------------------------ the next build --------


def readable_text(folder: Path) -> str:
    """Raw bytes of every file plus every decoded Parquet value."""
    parts = []
    for path in folder.rglob("*"):
        if path.is_file():
            parts.append(path.read_bytes().decode("latin-1"))
            if path.suffix == ".parquet":
                parts += [json.dumps(v, default=str) for v in pd.read_parquet(path).to_numpy().ravel()]
    return "\n".join(parts)


def choose_people(county) -> tuple[list[str], str]:
    """Every member of one household on a caseload, and one active citizen elsewhere."""
    citizens = pd.read_parquet(county.processed / "citizens.parquet")
    caseloads = pd.read_parquet(county.processed / "caseloads.parquet")
    household = min(set(caseloads["household"]) & set(citizens["household"].dropna()))
    family = citizens.loc[citizens["household"] == household, "pseudonym"].tolist()
    others = citizens[(citizens["household"] != household) & citizens["consent_personalisation"].fillna(False)]
    return [*family, others["pseudonym"].iloc[0]], household


def test_the_next_build_leaves_erased_people_out(database, small_county, tmp_path, monkeypatch):
    from signpost.cli import app
    from signpost.settings import get_settings

    gone, household = choose_people(small_county)
    record_erasures(database, [*gone, "c" * 64])  # the last one is not in the extract

    out, quarantine = tmp_path / "processed", tmp_path / "quarantine"
    monkeypatch.setenv("SIGNPOST_DATABASE_URL", database.url)
    monkeypatch.setenv("SIGNPOST_PSEUDONYM_KEY", small_county.key)
    monkeypatch.setenv("SIGNPOST_PROCESSED_DIR", str(small_county.processed))  # what the service serves
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, [
            "features", "--raw", str(small_county.raw), "--out", str(out), "--quarantine", str(quarantine),
            "--as-of", small_county.as_of.isoformat()])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"{len(gone)} erased people left out" in result.output

    # no trace of them in any processed file
    raw = pd.read_csv(small_county.raw / "citizens.csv", dtype=str).dropna(subset=["person_id"])
    raw["pseudonym"] = pseudonymise(raw["person_id"].tolist(), small_county.key.encode(), "person")
    raw_ids = raw.loc[raw["pseudonym"].isin(gone), "person_id"].drop_duplicates().tolist()
    assert len(raw_ids) == len(gone)
    text = readable_text(out)
    for trace in [*gone, household, *raw_ids]:
        assert trace not in text
    kept = pd.read_parquet(small_county.processed / "citizens.parquet")["pseudonym"]
    assert kept[~kept.isin(gone)].iloc[0] in text  # the scan sees the people who stay

    # the counts add up, against the build the service serves (same extract, nobody erased)
    manifest = json.loads((out / "manifest.json").read_text())
    before = json.loads((small_county.processed / "manifest.json").read_text())["rows"]
    for name, counts in manifest["rows"].items():
        assert counts["read"] == counts["accepted"] + counts["quarantined"] + counts["erased"], name
        assert counts["accepted"] + counts["erased"] == before[name]["accepted"], name
        assert counts["quarantined"] == before[name]["quarantined"], name
    served = small_county.processed
    assert manifest["rows"]["citizens"]["erased"] == len(gone)
    assert manifest["rows"]["consents"]["erased"] == pd.read_parquet(served / "consents.parquet")["pseudonym"].isin(gone).sum()
    assert manifest["rows"]["caseloads"]["erased"] == (pd.read_parquet(served / "caseloads.parquet")["household"] == household).sum() > 0
    events = pd.read_csv(small_county.raw / "events.csv", dtype=str)
    quarantined = set(pd.read_csv(small_county.raw / "quarantine" / "events.csv", dtype=str)["row_number"].astype(int))
    theirs = [i + 1 for i, person in enumerate(events["person_id"]) if person in set(raw_ids)]
    assert manifest["rows"]["events"]["erased"] == len(set(theirs) - quarantined) > 0
    assert manifest["erasure"] == {
        "service_database": "read", "service_key_id": before_key(small_county), "erased_in_service": len(gone) + 1,
        "people_removed": len(gone), "not_in_this_extract": 1, "households_removed": 1}
    assert manifest["shape"]["citizens"] == len(kept) - len(gone)


def before_key(county) -> str:
    return json.loads((county.processed / "manifest.json").read_text())["pseudonym_key_id"]


def test_a_build_with_a_service_database_but_no_erasures_changes_nothing(database, small_county, tmp_path):
    from features.build import build
    from signpost.settings import Settings

    settings = Settings(pseudonym_key=small_county.key, data_dir=tmp_path, processed_dir=small_county.processed)
    manifest = build(small_county.raw, tmp_path / "processed", as_of=small_county.as_of, quarantine=tmp_path / "q",
                     settings=settings, erased=erased_pseudonyms(database.url))
    assert manifest["erasure"]["service_database"] == "read" and manifest["erasure"]["people_removed"] == 0
    served = json.loads((small_county.processed / "manifest.json").read_text())
    assert manifest["consent_snapshot_id"] == served["consent_snapshot_id"]
    assert {k: v for k, v in manifest["outputs"].items()} == served["outputs"]
