"""The `signpost generate` command: options, summary and errors a user can act on."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
from typer.testing import CliRunner

from features.contract import tables_in
from signpost.cli import app
from tests.synthetic.contract_check import all_tables, row_violations

#: The default county is a version 1 extract (`--partners local` adds version 2).
TABLES = tables_in(1)


runner = CliRunner()


def test_generate_writes_every_table_and_the_truth(tmp_path):
    out = tmp_path / "county"
    result = runner.invoke(app, ["generate", "--out", str(out), "--citizens", "800", "--seed", "3",
                                 "--months", "13", "--end", "2026-03-31", "--format", "parquet"])
    assert result.exit_code == 0, result.output
    for name in TABLES:
        assert (out / f"{name}.parquet").exists()
    for name in ("persons.parquet", "needs.parquet", "services.parquet", "early_help.parquet",
                 "usage_probability.npy", "faults.csv", "about.json"):
        assert (out / "truth" / name).exists()
    about = json.loads((out / "truth" / "about.json").read_text())
    assert about["end"] == "2026-03-31" and about["months"] == 13 and about["format"] == "parquet"


def test_short_windows_still_satisfy_the_contract(tmp_path):
    for months in (12, 13):
        out = tmp_path / f"m{months}"
        result = runner.invoke(app, ["generate", "--out", str(out), "--citizens", "600", "--months",
                                     str(months), "--error-rate", "0"])
        assert result.exit_code == 0, result.output
        tables = all_tables(out)
        for name in TABLES:
            assert row_violations(TABLES[name], tables[name], date(2026, 9, 30)) == {}
        first = pd.Timestamp("2026-09-30") - pd.DateOffset(months=months)
        assert (tables["events"].occurred_at >= first.date().isoformat()).all()


def test_bad_options_say_what_to_do(tmp_path):
    result = runner.invoke(app, ["generate", "--out", str(tmp_path), "--end", "31/03/2026"])
    assert result.exit_code == 2 and "2026-09-30" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["generate", "--out", str(blocker), "--citizens", "50"])
    assert result.exit_code == 2 and "--out" in result.output
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "x"), "--seed", "-1"])
    assert result.exit_code == 2 and "--seed" in result.output
