"""Generate a small county → features: faults quarantined with reasons, nothing raw leaks out.

Uses the real generator (synthetic/) and the real pipeline: 2,000 residents, 1% faults,
in CSV and in Parquet (the generator's Parquet stores every column as text).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

from features.build import build
from features.pseudonym import pseudonymise
from signpost.settings import Settings

pytestmark = pytest.mark.slow

END = date(2026, 9, 30)
KEY = "end-to-end-key-not-secret"

#: Words a sensible reason for each kind of injected fault contains.
REASON_WORDS = {
    "bad_enum": ["is not one of"],
    "bad_boolean": ["is not one of true, false"],
    "bad_integer": ["is not a whole number", "is outside"],
    "blank_required": ["is blank (required)"],
    "duplicate": ["duplicate"],
    "future_date": ["(a future date)"],
    "future_timestamp": ["(a future date)"],
    "invalid_postcode": ["postcode"],
    "malformed_date": ["is not an ISO 8601 date"],
    "malformed_timestamp": ["is not an ISO 8601 timestamp"],
    "unknown_person": ["is not in citizens"],
    "unknown_service": ["is not in services"],
}


@pytest.fixture(scope="module", params=["csv", "parquet"])
def county(request, tmp_path_factory):
    from synthetic.generate import generate_county

    base = tmp_path_factory.mktemp(f"county_{request.param}")
    raw, out = base / "raw", base / "processed"
    generate_county(raw, citizens=2_000, seed=11, months=24, end=END, error_rate=0.01, fmt=request.param)
    settings = Settings(pseudonym_key=KEY, data_dir=base / "data")
    manifest = build(raw, out, as_of=END, quarantine=None, engine="duckdb", settings=settings)
    return raw, out, manifest


def read_table(raw: Path, name: str) -> pd.DataFrame:
    path = raw / f"{name}.csv"
    if path.exists():
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.read_parquet(raw / f"{name}.parquet").astype("string").fillna("")


def test_every_injected_fault_is_handled_as_expected(county):
    raw, _, manifest = county
    faults = pd.read_csv(raw / "truth" / "faults.csv", dtype=str, keep_default_na=False)
    assert len(faults) > 50
    for table, listed in faults.groupby("table"):
        quarantine = pd.read_csv(raw / "quarantine" / f"{table}.csv", dtype=str, keep_default_na=False)
        reasons = dict(zip(quarantine["row_number"].astype(int), quarantine["reason"], strict=True))
        for fault in listed.itertuples():
            row = int(fault.row_number)
            if fault.expect == "accepted":
                assert row not in reasons, (table, row, fault.fault, reasons.get(row))
                continue
            assert row in reasons, f"{table} row {row} ({fault.fault} in {fault.column}) was accepted"
            words = REASON_WORDS[fault.fault] + (["was quarantined in"] if fault.fault == "duplicate" else [])
            assert any(w in reasons[row] for w in words), (table, row, fault.fault, reasons[row])
            if fault.fault not in ("duplicate", "unknown_person", "unknown_service"):
                assert fault.column in reasons[row] or fault.fault == "invalid_postcode"
        # everything else in the quarantine followed a quarantined person, household or service
        # (or one whose id itself was blanked, so that it is nowhere in citizens any more)
        faulted = set(listed["row_number"].astype(int))
        blanked = set(faults.loc[faults["fault"] == "blank_required", "key"]) - {""}
        for row, reason in reasons.items():
            followed = "was quarantined in" in reason or any(f'"{key}" is not in' in reason for key in blanked)
            assert row in faulted or followed, (table, row, reason)


def test_quarantine_rows_are_the_original_rows(county):
    raw, _, _ = county
    for table in ("citizens", "events"):
        original = read_table(raw, table)
        quarantine = pd.read_csv(raw / "quarantine" / f"{table}.csv", dtype=str, keep_default_na=False)
        for record in quarantine.head(20).itertuples(index=False):
            source = original.iloc[int(record.row_number) - 1]
            for column in original.columns:
                assert str(getattr(record, column)) == str(source[column]), (table, column)


def test_row_accounting_adds_up(county):
    raw, _, manifest = county
    for table, counts in manifest["rows"].items():
        assert counts["read"] == counts["accepted"] + counts["quarantined"], table
        assert counts["read"] == len(read_table(raw, table))
        quarantine = pd.read_csv(raw / "quarantine" / f"{table}.csv", dtype=str)
        assert len(quarantine) == counts["quarantined"]


def raw_identifiers(raw: Path) -> set[str]:
    citizens = read_table(raw, "citizens")
    tokens = set(citizens["person_id"]) | set(citizens["household_id"])
    for postcode in citizens["postcode"]:
        compact = re.sub(r"\s+", "", postcode.upper())
        tokens |= {postcode, postcode.strip(), compact}
        if len(compact) > 3:
            tokens.add(f"{compact[:-3]} {compact[-3:]}")
    tokens |= set(read_table(raw, "events")["person_id"]) | set(read_table(raw, "caseloads")["household_id"])
    return {t for t in tokens if len(t.strip()) >= 5}


def readable_text(path: Path) -> str:
    """Everything a file holds, decoded: raw bytes plus decompressed values."""
    data = path.read_bytes()
    parts = [data.decode("latin-1")]
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        parts += table.column_names
        for column in table.columns:
            parts += [json.dumps(v, default=str) for v in column.to_pylist()]
        parts.append(json.dumps(pq.read_metadata(path).metadata or {}, default=str))
    elif path.suffix == ".npz":
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                parts.append(name)
                array = np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
                parts.append(array.tobytes().decode("latin-1"))
                if array.dtype.kind in "OUS":
                    parts += [str(v) for v in array.ravel()]
    return "\n".join(parts)


def test_no_raw_identifier_or_postcode_in_any_output(county):
    raw, out, _ = county
    tokens = raw_identifiers(raw)
    assert len(tokens) > 2_000
    pattern = re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".parquet", ".npz", ".json", ".csv"}
    for path in files:
        found = pattern.search(readable_text(path))
        assert found is None, f"{path.relative_to(out)} contains a raw identifier or postcode"
    # the scanner itself finds what it looks for
    sample = next(iter(tokens))
    assert pattern.search(f"x{sample}x")


def test_people_without_consent_are_absent_from_that_purposes_outputs(county):
    raw, out, manifest = county
    citizens = pd.read_parquet(out / "citizens.parquet")
    matrix = sp.load_npz(out / "interactions_all.npz")
    without = citizens.loc[~citizens["consent_personalisation"], "row"].to_numpy()
    assert 0 < len(without) < len(citizens)
    assert matrix[without].nnz == 0
    assert matrix.nnz > 0
    # early help: nobody whose household has a member denying early intervention
    denied_households = set(citizens.loc[~citizens["consent_early_intervention"], "household"].dropna())
    denied_people = set(citizens.loc[~citizens["consent_early_intervention"], "pseudonym"])
    assert denied_people, "the county should include objections"
    score = pd.read_parquet(out / "early_help_score.parquet")
    assert len(score) > 100
    assert not set(score["pseudonym"]) & denied_people
    assert not set(score["household"].dropna()) & denied_households
    # research: every published cell has at least k people
    cells = pd.read_csv(out / "research" / "usage_by_category.csv")
    assert len(cells) > 0 and (cells["people"] >= manifest["research"]["k"]).all()


def test_pseudonyms_are_the_shared_implementation(county):
    raw, out, _ = county
    citizens = read_table(raw, "citizens")
    quarantine = pd.read_csv(raw / "quarantine" / "citizens.csv", dtype=str, keep_default_na=False)
    accepted = citizens.drop(index=quarantine["row_number"].astype(int) - 1)
    expected = set(pseudonymise(accepted["person_id"].tolist(), KEY.encode(), "person"))
    assert set(pd.read_parquet(out / "citizens.parquet")["pseudonym"]) <= expected
