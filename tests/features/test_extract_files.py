"""Unreadable or structurally wrong files stop the build with a message naming file and fix."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import scipy.sparse as sp

from features.build import build
from signpost.errors import UserError


def build_folder(raw, tmp_path, settings_with, **kwargs):
    return build(raw, tmp_path / "out", as_of=date(2026, 9, 30), engine="duckdb",
                 settings=settings_with(), extract_date=date(2026, 10, 15), **kwargs)


def write(tmp_path, tables, fmt="csv"):
    import csv

    folder = tmp_path / "raw"
    folder.mkdir()
    for name, rows in tables.items():
        if fmt == "csv":
            with (folder / f"{name}.csv").open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        else:
            pd.DataFrame(rows, dtype="string").to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def expect_error(folder, tmp_path, settings_with, *words, **kwargs):
    with pytest.raises(UserError) as caught:
        build_folder(folder, tmp_path, settings_with, **kwargs)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    assert not (tmp_path / "out" / "manifest.json").exists()
    return message


def test_missing_required_file(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    (folder / "events.csv").unlink()
    expect_error(folder, tmp_path, settings_with, "events.csv", "is missing", "events.parquet")


def test_missing_required_column(tmp_path, tiny_tables, settings_with):
    for row in tiny_tables["events"]:
        del row["occurred_at"]
    folder = write(tmp_path, tiny_tables)
    expect_error(folder, tmp_path, settings_with, "events.csv", "lacks the column(s) occurred_at")


def test_not_a_csv(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    (folder / "services.csv").write_bytes(bytes(range(256)) * 4)
    expect_error(folder, tmp_path, settings_with, "services.csv", "UTF-8")


def test_empty_file(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    (folder / "consents.csv").write_text("")
    expect_error(folder, tmp_path, settings_with, "consents.csv", "is empty", "header row")


def test_header_only_consents_are_fine(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    (folder / "consents.csv").write_text("person_id,purpose,status,recorded_at,method\n")
    manifest = build_folder(folder, tmp_path, settings_with)
    assert manifest["rows"]["consents"] == {"read": 0, "accepted": 0, "quarantined": 0, "erased": 0}


def test_a_line_with_too_many_fields_names_the_line_not_its_content(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    with (folder / "events.csv").open("a") as handle:
        handle.write("X9,libraries,PSECRET,LIB-1,2026-01-01T00:00:00,loan,extra\r\n")
    message = expect_error(folder, tmp_path, settings_with, "events.csv", "line 14", "7 fields", "6")
    assert "PSECRET" not in message


def test_mixed_line_endings(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    with (folder / "events.csv").open("a") as handle:
        handle.write("X9,libraries,PA1,LIB-1,2026-01-01T00:00:00,loan,extra\n")
    expect_error(folder, tmp_path, settings_with, "events.csv", "not well-formed CSV")


def test_a_wrong_delimiter_reads_as_missing_columns(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    text = (folder / "citizens.csv").read_text().replace(",", ";")
    (folder / "citizens.csv").write_text(text)
    expect_error(folder, tmp_path, settings_with, "citizens.csv", "lacks the column(s)")


def test_corrupt_parquet(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    (folder / "outcomes.csv").unlink()
    (folder / "outcomes.parquet").write_bytes(b"PAR1 this is not parquet")
    expect_error(folder, tmp_path, settings_with, "outcomes.parquet", "not a readable Parquet")


def test_both_formats_for_one_table(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    pd.DataFrame(tiny_tables["events"]).to_parquet(folder / "events.parquet")
    expect_error(folder, tmp_path, settings_with, "events.csv", "events.parquet", "keep one")


def test_quarantine_inside_the_output_is_refused(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    expect_error(folder, tmp_path, settings_with, "inside the output", quarantine=tmp_path / "out" / "q")


def test_unknown_engine(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    with pytest.raises(UserError, match="--engine duckdb or spark"):
        build(folder, tmp_path / "out", as_of=date(2026, 9, 30), engine="polars", settings=settings_with())


def test_as_of_after_the_extract_date(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    with pytest.raises(UserError, match="after the extract date"):
        build(folder, tmp_path / "out", as_of=date(2026, 9, 30), engine="duckdb", settings=settings_with(),
              extract_date=date(2026, 9, 1))


def test_csv_with_bom_and_extra_columns(tmp_path, tiny_tables, settings_with):
    for row in tiny_tables["citizens"]:
        row["notes"] = "ignored"
    folder = write(tmp_path, tiny_tables)
    data = (folder / "citizens.csv").read_bytes()
    (folder / "citizens.csv").write_bytes(b"\xef\xbb\xbf" + data)
    manifest = build_folder(folder, tmp_path, settings_with)
    assert manifest["rows"]["citizens"]["accepted"] == 9


def test_string_parquet_gives_the_same_outputs_as_csv(tmp_path, tiny_tables, settings_with):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    csv_folder = write(tmp_path / "a", tiny_tables)
    pq_folder = write(tmp_path / "b", tiny_tables, fmt="parquet")
    settings = settings_with()
    kwargs = dict(as_of=date(2026, 9, 30), engine="duckdb", settings=settings, extract_date=date(2026, 10, 15))
    first = build(csv_folder, tmp_path / "out_csv", **kwargs)
    second = build(pq_folder, tmp_path / "out_pq", **kwargs)
    assert first["rows"] == second["rows"]
    assert first["consent_snapshot_id"] == second["consent_snapshot_id"]
    for name in ("citizens.parquet", "services.parquet", "early_help_valid.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out_csv" / name),
                                      pd.read_parquet(tmp_path / "out_pq" / name))
    for window in ("train", "test", "all"):
        a = sp.load_npz(tmp_path / "out_csv" / f"interactions_{window}.npz")
        b = sp.load_npz(tmp_path / "out_pq" / f"interactions_{window}.npz")
        assert (a != b).nnz == 0


def test_typed_parquet_columns_are_validated_as_their_text(tmp_path, tiny_tables, settings_with):
    folder = write(tmp_path, tiny_tables)
    citizens = pd.DataFrame(tiny_tables["citizens"])
    citizens["birth_date"] = pd.to_datetime(citizens["birth_date"]).dt.date
    citizens["imd_decile"] = pd.to_numeric(citizens["imd_decile"])  # float with NaN
    citizens.to_parquet(folder / "citizens.parquet", index=False)
    (folder / "citizens.csv").unlink()
    events = pd.DataFrame(tiny_tables["events"])
    events["occurred_at"] = pd.to_datetime(events["occurred_at"], format="mixed", utc=True)
    events.to_parquet(folder / "events.parquet", index=False)
    (folder / "events.csv").unlink()
    services = pd.DataFrame(tiny_tables["services"])
    services["active"] = services["active"] == "true"
    services["min_age"] = pd.to_numeric(services["min_age"]).astype("Int64")
    services.to_parquet(folder / "services.parquet", index=False)
    (folder / "services.csv").unlink()
    manifest = build_folder(folder, tmp_path, settings_with)
    assert {t: c["quarantined"] for t, c in manifest["rows"].items()} == dict.fromkeys(manifest["rows"], 0)
    citizens_out = pd.read_parquet(tmp_path / "out" / "citizens.parquet")
    assert sorted(citizens_out["imd_decile"].dropna().astype(int).unique()) == [2, 5, 7]
