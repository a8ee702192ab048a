"""A tiny hand-written extract (every table, all rows valid) and a way to build it.

Tests copy the baseline, break one thing, build, and read the quarantine and outputs.
Dates: the extract is taken on 2026-10-15 and processed as of 2026-09-30.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import scipy.sparse as sp

from features.build import build
from signpost.settings import Settings

AS_OF = date(2026, 9, 30)
EXTRACT_DATE = date(2026, 10, 15)
KEY = "tiny-test-key-not-secret"

CITIZEN_COLUMNS = ["person_id", "household_id", "birth_date", "sex", "ethnicity", "disability", "postcode", "imd_decile"]
SERVICE_COLUMNS = ["service_id", "name", "description", "category", "provider", "min_age", "max_age",
                   "districts", "means_tested", "intervention", "url", "active"]
EVENT_COLUMNS = ["event_id", "source", "person_id", "service_id", "occurred_at", "event_type"]
CONSENT_COLUMNS = ["person_id", "purpose", "status", "recorded_at", "method"]
OUTCOME_COLUMNS = ["person_id", "outcome", "occurred_at"]
CASELOAD_COLUMNS = ["caseworker_id", "household_id", "start_date", "end_date"]
COLUMNS = {
    "citizens": CITIZEN_COLUMNS, "services": SERVICE_COLUMNS, "events": EVENT_COLUMNS,
    "consents": CONSENT_COLUMNS, "outcomes": OUTCOME_COLUMNS, "caseloads": CASELOAD_COLUMNS,
}


def baseline() -> dict[str, list[dict[str, str]]]:
    """Three households in Winchester, Gosport and Hart, plus one person living alone."""
    citizens = [
        # household H-A: two adults, two children (Winchester)
        ("PA1", "HA", "1985-02-11", "F", "White", "N", "SO23 9AB", "7"),
        ("PA2", "HA", "1983-07-30", "M", "White", "N", "SO23 9AB", "7"),
        ("PA3", "HA", "2015-05-01", "F", "White", "N", "SO23 9AB", "7"),
        ("PA4", "HA", "2019-12-24", "M", "White", "Y", "SO23 9AB", "7"),
        # household H-B: one adult, one child (Gosport)
        ("PB1", "HB", "1995-03-03", "F", "Black", "N", "PO12 1AA", "2"),
        ("PB2", "HB", "2012-09-09", "M", "Black", "N", "PO12 1AA", "2"),
        # household H-C: older couple (Hart)
        ("PC1", "HC", "1950-01-01", "M", "Asian", "U", "GU51 4XX", ""),
        ("PC2", "HC", "1952-06-15", "F", "Asian", "N", "GU51 4XX", ""),
        # living alone, no household id
        ("PD1", "", "2000-10-10", "X", "Mixed", "N", "RG21 3ZZ", "5"),
    ]
    services = [
        ("LIB-1", "Library loans", "Borrow books.", "learning", "Hampshire Libraries", "", "", "*", "false", "false",
         "https://example.org/lib", "true"),
        ("LEI-1", "Swim lessons", "Learn to swim.", "leisure", "Everyone Active", "4", "16", "SO23;PO12", "false",
         "false", "", "true"),
        ("POL-DA", "Domestic abuse notification", "A police notification.", "safety", "Hampshire Constabulary",
         "", "", "*", "false", "false", "", "true"),
        ("FAM-1", "Family support", "Help for families.", "family", "Hampshire County Council", "0", "17", "*",
         "false", "true", "", "true"),
        ("OLD-1", "Retired service", "No longer offered.", "care", "Council", "", "", "*", "false", "false", "",
         "false"),
    ]
    events = [
        ("L1", "libraries", "PA1", "LIB-1", "2026-01-10T10:00:00", "loan"),
        ("L2", "libraries", "PA3", "LIB-1", "2026-08-01T11:30:00", "loan"),
        ("L3", "libraries", "PD1", "LIB-1", "2025-11-01T09:00:00+00:00", "loan"),
        ("L4", "libraries", "PD1", "LIB-1", "2026-09-20 15:00:00", "enquiry"),
        ("E1", "leisure", "PA3", "LEI-1", "2026-03-03T17:00:00", "booking"),
        ("E2", "leisure", "PB2", "LEI-1", "2026-09-01T17:00:00", "declined"),
        ("E3", "leisure", "PA4", "LEI-1", "2026-09-29T17:00:00", "attendance"),
        ("D1", "police", "PB1", "POL-DA", "2026-02-02T02:00:00", "referral"),
        ("D2", "police", "PB1", "POL-DA", "2026-05-05T02:00:00", "referral"),
        ("F1", "childrens_social_care", "PB2", "FAM-1", "2026-06-01T09:00:00", "enrolment"),
        ("N1", "nhs", "PC1", "LIB-1", "2026-04-04T09:00:00", "referral"),
        ("A1", "libraries", "PC2", "LIB-1", "2026-10-05T09:00:00", "loan"),  # after as_of, before extract
    ]
    consents = [
        ("PA1", "personalisation", "granted", "2025-06-01T10:00:00", "portal"),
        ("PA3", "personalisation", "granted", "2025-06-01T10:00:00", "portal"),
        ("PA4", "personalisation", "granted", "2025-06-01T10:00:00", "portal"),
        ("PD1", "personalisation", "granted", "2025-01-01T10:00:00", "paper"),
        ("PB2", "personalisation", "granted", "2025-01-01T10:00:00", "paper"),
        ("PC1", "personalisation", "granted", "2025-01-01T10:00:00", "phone"),
        ("PC1", "research", "withdrawn", "2025-01-01T10:00:00", "phone"),
    ]
    outcomes = [("PB2", "early_help_assessment", "2026-08-01")]
    caseloads = [("CW-1", "HB", "2026-01-01", ""), ("CW-2", "HA", "2025-05-01", "2026-01-31")]
    tuples = {"citizens": citizens, "services": services, "events": events, "consents": consents,
              "outcomes": outcomes, "caseloads": caseloads}
    return {name: [dict(zip(COLUMNS[name], row, strict=True)) for row in rows] for name, rows in tuples.items()}


def write_extract(folder: Path, tables: dict[str, list[dict[str, str]]], fmt: str = "csv") -> Path:
    """Write tables as the partner would (CSV, or Parquet with every column a string)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        columns = list(rows[0]) if rows else COLUMNS[name]
        if fmt == "csv":
            with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
        else:
            frame = pd.DataFrame(rows, columns=columns, dtype="string")
            frame = frame.replace("", pd.NA)
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


@dataclass
class Built:
    raw: Path
    out: Path
    manifest: dict
    settings: Settings
    tables: dict = field(default_factory=dict)

    def quarantine(self, table: str) -> pd.DataFrame:
        return pd.read_csv(self.raw / "quarantine" / f"{table}.csv", dtype=str, keep_default_na=False)

    def reasons(self, table: str) -> dict[int, str]:
        q = self.quarantine(table)
        return dict(zip(q["row_number"].astype(int), q["reason"], strict=True))

    def parquet(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.out / name)


def make_settings(tmp_path: Path, **overrides) -> Settings:
    return Settings(pseudonym_key=KEY, data_dir=tmp_path / "data",
                    pseudonym_key_file=tmp_path / "data" / ".key", **overrides)


@pytest.fixture
def tiny_tables() -> dict[str, list[dict[str, str]]]:
    return baseline()


@pytest.fixture
def run_build(tmp_path: Path):
    """Write the given tables into tmp_path and build them; returns a `Built`."""
    counter = iter(range(1000))

    def run(tables, *, fmt: str = "csv", as_of: date = AS_OF, extract_date: date | None = EXTRACT_DATE,
            settings: Settings | None = None, erased=None, ledger=None, accept_quarantine: bool = True) -> Built:
        # Rule tests break one row of a tiny table, far above the quarantine share that stops a
        # real build; tests of that stop pass accept_quarantine=False.
        n = next(counter)
        raw = write_extract(tmp_path / f"raw{n}", tables, fmt)
        out = tmp_path / f"out{n}"
        settings = settings or make_settings(tmp_path)
        manifest = build(raw, out, as_of=as_of, quarantine=None, engine="duckdb", settings=settings,
                         extract_date=extract_date, erased=erased, ledger=ledger,
                         accept_quarantine=accept_quarantine)
        assert json.loads((out / "manifest.json").read_text()) == manifest
        return Built(raw, out, manifest, settings, tables)

    return run


@pytest.fixture
def key() -> bytes:
    """The pseudonym key the tiny builds use."""
    return KEY.encode()


@pytest.fixture
def settings_with(tmp_path: Path):
    """Settings for a tiny build with some fields overridden."""
    return lambda **overrides: make_settings(tmp_path, **overrides)


def read_outputs(out: Path, *, skip: tuple[str, ...] = ("manifest.json",)) -> dict:
    """Every processed output (but `skip`), read back into comparable values."""
    found = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name not in skip):
        name = str(path.relative_to(out))
        if path.suffix == ".parquet":
            found[name] = pd.read_parquet(path)
        elif path.suffix == ".npz":
            found[name] = sp.load_npz(path).tocsr()
        else:
            found[name] = path.read_text()
    return found


def assert_same_outputs(left: dict, right: dict) -> None:
    """Two builds' outputs (from `read_outputs`) are equal, file by file."""
    assert left.keys() == right.keys()
    for name, value in left.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, right[name], obj=name)
        elif sp.issparse(value):
            assert value.shape == right[name].shape and (value != right[name]).nnz == 0, name
        else:
            assert value == right[name], name
