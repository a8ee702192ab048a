"""The fault list says exactly what is wrong in the files, row by row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract import tables_in
from synthetic.faults import BAD_ENUMS, INVALID_POSTCODES, faults_by_table, inject
from tests.synthetic.conftest import END
from tests.synthetic.contract_check import (
    all_tables,
    duplicate_rows,
    normalised_postcode,
    parse_date,
    parse_timestamp_day,
    reference_violations,
    row_violations,
)

#: The default county is a version 1 extract (`--partners local` adds version 2).
TABLES = tables_in(1)


@pytest.fixture(scope="module")
def tables(faulty_county: Path) -> dict[str, pd.DataFrame]:
    return all_tables(faulty_county)


@pytest.fixture(scope="module")
def faults(faulty_county: Path) -> pd.DataFrame:
    return pd.read_csv(faulty_county / "truth" / "faults.csv", dtype={"key": str}, keep_default_na=False)


def _known_ids(tables, faults) -> dict[str, set[str]]:
    # ids whose citizen row was blanked still count as known: their events are cascades
    blanked = set(faults[(faults.table == "citizens") & (faults.column == "person_id")].key)
    return {
        "citizens.person_id": set(tables["citizens"].person_id) | blanked,
        "citizens.household_id": set(tables["citizens"].household_id),
        "services.service_id": set(tables["services"].service_id),
    }


@pytest.mark.parametrize("name", list(TABLES))
def test_rows_breaking_a_rule_are_exactly_the_listed_faults(tables, faults, name):
    """Every rule-breaking row is listed as quarantined, and every listed row breaks a rule."""
    table, frame = TABLES[name], tables[name]
    broken = set(row_violations(table, frame, END)) | set(
        reference_violations(table, frame, _known_ids(tables, faults))
    )
    broken |= duplicate_rows(table, frame.drop(index=list(broken)) if broken else frame)
    listed = faults[faults.table == name]
    quarantined = set(listed.row_number[listed.expect == "quarantined"] - 1)
    accepted = set(listed.row_number[listed.expect == "accepted"] - 1)
    assert broken == quarantined
    assert not broken & accepted


def test_each_listed_fault_is_the_kind_it_says(tables, faults):
    known = _known_ids(tables, faults)
    for fault in faults.itertuples():
        frame = tables[fault.table]
        row = frame.iloc[fault.row_number - 1]
        value = row[fault.column] if fault.column else None
        kind = fault.fault
        if kind == "duplicate":
            assert (row == frame.iloc[fault.row_number - 2]).all()
        elif kind == "blank_required":
            assert value == ""
        elif kind == "bad_enum":
            assert value in BAD_ENUMS[fault.column]
        elif kind in ("malformed_date", "malformed_timestamp"):
            assert value != "" and parse_date(value) is None and parse_timestamp_day(value) is None
        elif kind == "future_date":
            assert parse_date(value) is not None and (parse_date(value) - END).days >= 3 * 365
        elif kind == "future_timestamp":
            assert parse_timestamp_day(value) is not None and (parse_timestamp_day(value) - END).days >= 3 * 365
        elif kind == "messy_postcode":
            canonical = normalised_postcode(value)
            assert canonical is not None and canonical != value
        elif kind == "invalid_postcode":
            assert value in INVALID_POSTCODES and normalised_postcode(value) is None
        elif kind == "unknown_person":
            assert value not in known["citizens.person_id"]
        elif kind == "unknown_household":
            assert value not in known["citizens.household_id"]
        elif kind == "unknown_service":
            assert value not in known["services.service_id"]
        elif kind in ("bad_integer", "bad_boolean"):
            assert value not in ("", "true", "false")
            assert not (fault.column == "imd_decile" and value.isdigit() and 1 <= int(value) <= 10)
        else:
            pytest.fail(f"unexpected fault kind {kind}")
        own = {"citizens": "person_id", "events": "event_id", "services": "service_id"}.get(fault.table)
        if own is None:
            assert fault.key == ""
        elif fault.column != own:
            assert row[own] == fault.key  # the key is the row's own id (its original, if blanked)


def test_every_table_and_every_kind_of_fault_appears(faults):
    # caseloads has only a few dozen rows at this size; the injector test covers its faults
    assert set(TABLES) - {"caseloads"} <= set(faults.table) <= set(TABLES)
    assert {
        "duplicate", "unknown_person", "unknown_service", "malformed_date",
        "malformed_timestamp", "future_date", "future_timestamp", "messy_postcode",
        "invalid_postcode", "bad_enum", "blank_required",
    } <= set(faults.fault)
    assert set(faults.expect) == {"quarantined", "accepted"}


def test_fault_rate_is_the_one_asked_for(tables, faults):
    for name in ("citizens", "events", "consents"):
        share = (faults.table == name).sum() / len(tables[name])
        assert 0.035 < share < 0.065, (name, share)


def test_csv_and_parquet_hold_the_same_values(faulty_county, faulty_county_parquet):
    csv_tables, pq_tables = all_tables(faulty_county), all_tables(faulty_county_parquet)
    for name in TABLES:
        pd.testing.assert_frame_equal(csv_tables[name], pq_tables[name], check_dtype=False)
    assert (faulty_county / "truth" / "faults.csv").read_bytes() == (
        faulty_county_parquet / "truth" / "faults.csv"
    ).read_bytes()


# ---- the injector on its own ------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 300),
    rate=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**32 - 1),
    name=st.sampled_from(["citizens", "events", "consents", "outcomes", "caseloads"]),
    offset=st.integers(0, 10_000),
)
def test_inject_changes_only_listed_rows_once_each(n, rate, seed, name, offset):
    columns = TABLES[name].column_names_in(1)
    clean = {
        "person_id": [f"P{i:09d}" for i in range(n)],
        "household_id": [f"H{i:09d}" for i in range(n)],
        "birth_date": ["1980-01-02"] * n,
        "sex": ["F"] * n,
        "ethnicity": ["White"] * n,
        "disability": ["N"] * n,
        "postcode": ["SO23 8UJ"] * n,
        "imd_decile": ["5"] * n,
        "event_id": [f"LIB{i:010d}" for i in range(n)],
        "source": ["libraries"] * n,
        "service_id": ["HCC-LIB-LOAN"] * n,
        "occurred_at": ["2026-01-02T10:00:00"] * n,
        "event_type": ["loan"] * n,
        "purpose": ["research"] * n,
        "status": ["objected"] * n,
        "recorded_at": ["2026-01-02T10:00:00"] * n,
        "method": ["portal"] * n,
        "outcome": ["child_in_need"] * n,
        "caseworker_id": ["CW0001"] * n,
        "start_date": ["2026-01-02"] * n,
        "end_date": [None] * n,
    }
    table = pa.table({c: pa.array(clean[c], type=pa.string()) for c in columns})
    rng = np.random.default_rng(seed)
    out, listed = inject(rng, name, table, rate, faults_by_table(END)[name], offset,
                         duplicate_share=0.3 if name == "events" else 0.0)
    rows = [f[1] - offset - 1 for f in listed]
    assert len(set(rows)) == len(rows), "one fault per row"
    duplicates = [f for f in listed if f[4] == "duplicate"]
    assert out.num_rows == n + len(duplicates)
    assert all(0 <= r < out.num_rows for r in rows)
    if rate == 0:
        assert listed == [] and out.equals(table)
    # every unlisted row is one of the clean rows, in the original order
    unlisted = [r for r in range(out.num_rows) if r not in set(rows)]
    kept = out.take(pa.array(unlisted, type=pa.int64())).to_pylist() if unlisted else []
    originals = table.to_pylist()
    position = 0
    for row in kept:
        while originals[position] != row:
            position += 1
        position += 1
    for f in duplicates:
        r = f[1] - offset - 1
        assert out.slice(r, 1).to_pylist() == out.slice(r - 1, 1).to_pylist()
