"""An independent reading of the extract contract, in pandas, for checking generated files.

Deliberately separate from `features.validate` (which runs in DuckDB): two readings of one
contract that agree are better evidence than one reading checked against itself.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import NEEDS, TABLES, Table
from features.geography import POSTCODE_DISTRICT_TO_AUTHORITY
from signpost.settings import Settings

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
INTEGER = re.compile(r"^[+-]?\d{1,9}$")
POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
CANONICAL_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")
DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


def read(folder: Path, name: str) -> pd.DataFrame:
    """A table exactly as written: every value a string, blank as ''."""
    csv, parquet = folder / f"{name}.csv", folder / f"{name}.parquet"
    if csv.exists():
        return pd.read_csv(csv, dtype=str, keep_default_na=False)
    frame = pd.read_parquet(parquet)
    return frame.astype(object).where(frame.notna(), "").astype(str)


def parse_date(value: str) -> date | None:
    if not DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_timestamp_day(value: str) -> date | None:
    if not TIMESTAMP.match(value):
        return None
    try:
        day = date.fromisoformat(value[:10])
        h, m, s = (int(x) for x in value[11:].split(":"))
        return day if h < 24 and m < 60 and s < 60 else None
    except ValueError:
        return None


def normalised_postcode(value: str) -> str | None:
    """The canonical `SO23 8UJ` form of a valid Hampshire postcode, else None."""
    compact = value.replace(" ", "").upper()
    match = POSTCODE.match(compact)
    if not match or match.group(1) not in POSTCODE_DISTRICT_TO_AUTHORITY:
        return None
    return f"{match.group(1)} {match.group(2)}"


def row_violations(table: Table, frame: pd.DataFrame, end: date) -> dict[int, list[str]]:
    """{0-based row: [rule, …]} for rules that need only the row itself."""
    out: dict[int, list[str]] = {}

    def flag(mask, rule):
        for i in np.flatnonzero(np.asarray(mask)):
            out.setdefault(int(i), []).append(rule)

    for column in table.columns:
        if column.name not in frame:  # an optional column the file leaves out (version 2 columns in v1)
            continue
        values = frame[column.name].str.strip()
        present = values != ""
        if column.required:
            flag(~present, f"{column.name}: blank")
        if column.type in ("enum", "boolean"):
            flag(present & ~values.isin(column.values), f"{column.name}: not allowed")
        elif column.type == "integer":
            ok = values.str.match(INTEGER.pattern)
            flag(present & ~ok, f"{column.name}: not an integer")
            number = pd.to_numeric(values.where(ok), errors="coerce")
            low = column.minimum if column.minimum is not None else -np.inf
            high = column.maximum if column.maximum is not None else np.inf
            flag(present & ok & ((number < low) | (number > high)), f"{column.name}: out of range")
        elif column.type == "date":
            parsed = values.map(parse_date)
            flag(present & parsed.isna(), f"{column.name}: not an ISO date")
            flag(parsed.map(lambda d: d is not None and d > end), f"{column.name}: future")
        elif column.type == "timestamp":
            parsed = values.map(parse_timestamp_day)
            flag(present & parsed.isna(), f"{column.name}: not an ISO timestamp")
            flag(parsed.map(lambda d: d is not None and d > end), f"{column.name}: future")
    if table.name == "citizens":
        postcode = frame["postcode"]
        flag((postcode.str.strip() != "") & postcode.map(normalised_postcode).isna(), "postcode: invalid")
        born = frame["birth_date"].map(parse_date)
        flag(born.map(lambda d: d is not None and d < end - timedelta(days=120 * 365)), "birth_date: implausible")
    if table.name == "services":
        lo = pd.to_numeric(frame["min_age"], errors="coerce")
        hi = pd.to_numeric(frame["max_age"], errors="coerce")
        flag(lo > hi, "min_age above max_age")
        districts = frame["districts"].str.strip()
        valid = districts.map(lambda d: d == "*" or all(DISTRICT.match(x) for x in d.split(";")))
        flag((districts != "") & ~valid, "districts: malformed")
        needs = frame["needs"].str.strip() if "needs" in frame else pd.Series("", index=frame.index)
        known = needs.map(lambda v: all(n.strip() in NEEDS for n in v.split(";")))
        flag((needs != "") & ~known, "needs: outside the vocabulary")
    if table.name == "events":
        flag(~frame["source"].isin(list(Settings().sharing_policy)), "source: not in the sharing policy")
        by_id = frame["person_id"].str.strip() != ""
        by_partner = frame["partner_person_id"].str.strip() != "" if "partner_person_id" in frame else False
        flag(~(by_id ^ by_partner), "person: not exactly one of person_id, partner_person_id")
    if table.name == "caseloads":
        start = frame["start_date"].map(parse_date)
        stop = frame["end_date"].map(parse_date)
        flag([s is not None and e is not None and e < s for s, e in zip(start, stop)], "end before start")
    return out


def reference_violations(table: Table, frame: pd.DataFrame, known: dict[str, set[str]]) -> dict[int, list[str]]:
    """{row: [rule]} for references to ids that exist nowhere in `known` (table.column → ids)."""
    out: dict[int, list[str]] = {}
    for column, target in table.references.items():
        if column not in frame or target not in known:
            continue
        values = frame[column].str.strip()
        missing = (values != "") & ~values.isin(known[target])
        for i in np.flatnonzero(missing.to_numpy()):
            out.setdefault(int(i), []).append(f"{column}: unknown")
    return out


def duplicate_rows(table: Table, frame: pd.DataFrame) -> set[int]:
    """Rows (index labels) whose non-blank key was already seen in an earlier row."""
    if not table.key:
        return set()
    keys = frame[list(table.key)].apply(lambda c: c.str.strip())
    complete = (keys != "").all(axis=1)
    dup = keys.duplicated(keep="first") & complete
    return set(frame.index[dup.to_numpy()].tolist())


def all_tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: read(folder, name) for name in TABLES
            if (folder / f"{name}.csv").exists() or (folder / f"{name}.parquet").exists()}
