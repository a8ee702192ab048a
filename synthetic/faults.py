"""Faults a real council's extracts arrive with, injected at a chosen rate and listed.

Each faulty row gets exactly one fault. Most faults break a contract rule and the pipeline
must quarantine the row; messy but valid postcodes (`so23 8uj`, `SO238UJ`) must be accepted
and normalised. Duplicated events are written twice in a row: the second copy is the fault.
Every injected fault is listed in `truth/faults.csv` with its 1-based data row number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

QUARANTINED, ACCEPTED = "quarantined", "accepted"
FAULT_COLUMNS = ("table", "row_number", "key", "column", "fault", "expect")

#: Postcodes that are not a Hampshire postcode at all.
INVALID_POSTCODES = ("UNKNOWN", "12345", "SW1A 1AA", "RG1 2AB", "BN1 1AA", "N/A", "SO99 9ZZ")
BAD_ENUMS = {
    "sex": ("female", "male", "Female", "unknown"),
    "ethnicity": ("white", "British", "White British", "asian"),
    "disability": ("Yes", "No", "y"),
    "event_type": ("visit", "Attendance", "attended", "LOAN"),
    "purpose": ("marketing", "Personalisation", "all"),
    "status": ("Yes", "opt-in", "GRANTED"),
    "method": ("email", "web", "letter"),
    "outcome": ("CIN", "early help", "CP plan"),
}


@dataclass(frozen=True)
class Fault:
    kind: str
    column: str
    expect: str
    make: Callable[[str | None, np.random.Generator], str | None]


def _future(end: date, *, with_time: bool) -> Callable[[str | None, np.random.Generator], str]:
    def make(_: str | None, rng: np.random.Generator) -> str:
        day = end + timedelta(days=int(rng.integers(3 * 365, 6 * 365)))
        if with_time:
            return f"{day.isoformat()}T{int(rng.integers(8, 20)):02d}:{int(rng.integers(0, 60)):02d}:00"
        return day.isoformat()

    return make


def _malformed(value: str | None, rng: np.random.Generator) -> str:
    if not value or len(value) < 10:
        return "not a date"
    y, m, d, rest = value[:4], value[5:7], value[8:10], value[10:].replace("T", " ")
    choice = int(rng.integers(0, 4))
    return (f"{y}/{m}/{d}{rest}", f"{d}-{m}-{y}{rest[:6]}", "not a date", f"{d}/{m}/{y}")[choice]


def _messy_postcode(value: str | None, rng: np.random.Generator) -> str:
    assert value is not None
    choice = int(rng.integers(0, 4))
    return (value.lower(), value.replace(" ", ""), value.replace(" ", "  "), f" {value} ")[choice]


def _pick(options: tuple[str, ...]) -> Callable[[str | None, np.random.Generator], str]:
    return lambda _value, rng: options[int(rng.integers(0, len(options)))]


def _blank(_: str | None, __: np.random.Generator) -> None:
    return None


def _unknown_id(prefix: str, width: int) -> Callable[[str | None, np.random.Generator], str]:
    # One digit longer than any real id, so it can never exist.
    return lambda _value, rng: prefix + str(int(rng.integers(10**width, 10 ** (width + 1))))


def faults_by_table(end: date) -> dict[str, list[Fault]]:
    """The faults each table can get (services get extra faulty rows instead; see below)."""
    q = QUARANTINED
    return {
        "citizens": [
            Fault("malformed_date", "birth_date", q, _malformed),
            Fault("future_date", "birth_date", q, _future(end, with_time=False)),
            Fault("messy_postcode", "postcode", ACCEPTED, _messy_postcode),
            Fault("messy_postcode", "postcode", ACCEPTED, _messy_postcode),
            Fault("invalid_postcode", "postcode", q, _pick(INVALID_POSTCODES)),
            Fault("bad_enum", "sex", q, _pick(BAD_ENUMS["sex"])),
            Fault("bad_enum", "ethnicity", q, _pick(BAD_ENUMS["ethnicity"])),
            Fault("bad_enum", "disability", q, _pick(BAD_ENUMS["disability"])),
            Fault("bad_integer", "imd_decile", q, _pick(("11", "0", "high"))),
            Fault("blank_required", "person_id", q, _blank),
            Fault("blank_required", "birth_date", q, _blank),
            Fault("blank_required", "postcode", q, _blank),
        ],
        "events": [
            Fault("unknown_person", "person_id", q, _unknown_id("P", 9)),
            Fault("unknown_service", "service_id", q, _pick(("LIB-99", "HCC-OLD-01", "SVC000123"))),
            Fault("malformed_timestamp", "occurred_at", q, _malformed),
            Fault("future_timestamp", "occurred_at", q, _future(end, with_time=True)),
            Fault("bad_enum", "event_type", q, _pick(BAD_ENUMS["event_type"])),
            Fault("blank_required", "person_id", q, _blank),
            Fault("blank_required", "service_id", q, _blank),
            Fault("blank_required", "occurred_at", q, _blank),
            Fault("blank_required", "event_id", q, _blank),
        ],
        "consents": [
            Fault("unknown_person", "person_id", q, _unknown_id("P", 9)),
            Fault("bad_enum", "purpose", q, _pick(BAD_ENUMS["purpose"])),
            Fault("bad_enum", "status", q, _pick(BAD_ENUMS["status"])),
            Fault("bad_enum", "method", q, _pick(BAD_ENUMS["method"])),
            Fault("malformed_timestamp", "recorded_at", q, _malformed),
            Fault("future_timestamp", "recorded_at", q, _future(end, with_time=True)),
            Fault("blank_required", "status", q, _blank),
        ],
        "outcomes": [
            Fault("unknown_person", "person_id", q, _unknown_id("P", 9)),
            Fault("bad_enum", "outcome", q, _pick(BAD_ENUMS["outcome"])),
            Fault("malformed_date", "occurred_at", q, _malformed),
            Fault("future_date", "occurred_at", q, _future(end, with_time=False)),
            Fault("blank_required", "occurred_at", q, _blank),
        ],
        "caseloads": [
            Fault("unknown_household", "household_id", q, _unknown_id("H", 9)),
            Fault("malformed_date", "start_date", q, _malformed),
            Fault("future_date", "start_date", q, _future(end, with_time=False)),
            Fault("blank_required", "caseworker_id", q, _blank),
            Fault("blank_required", "start_date", q, _blank),
        ],
    }


#: The table's own id column, written as the fault's `key`.
KEY_COLUMN = {"citizens": "person_id", "events": "event_id", "services": "service_id"}


def inject(
    rng: np.random.Generator,
    table_name: str,
    table: pa.Table,
    rate: float,
    faults: list[Fault],
    row_offset: int,
    *,
    duplicate_share: float = 0.0,
) -> tuple[pa.Table, list[tuple]]:
    """Return `table` with faults at `rate` (share of rows) and the fault list rows.

    A `duplicate_share` of the faults are exact duplicate rows, written right after their
    original. Row numbers are 1-based and count from `row_offset` rows already written.
    """
    n = table.num_rows
    if rate <= 0 or n == 0:
        return table, []
    n_faults = int(rng.binomial(n, rate))
    n_dup = int(rng.binomial(n_faults, duplicate_share)) if duplicate_share else 0
    originals = np.sort(rng.choice(n, size=min(n_faults, n), replace=False))
    dup_of, faulty = originals[:n_dup], originals[n_dup:]
    if n_dup:
        # shuffle which sampled rows are duplicated so duplicates spread over the chunk
        perm = rng.permutation(len(originals))
        dup_of, faulty = np.sort(originals[perm[:n_dup]]), np.sort(originals[perm[n_dup:]])
        take = np.sort(np.concatenate([np.arange(n), dup_of]), kind="stable")
        table = table.take(pa.array(take))
    else:
        take = np.arange(n)
    # position of each original row in the new table
    position = np.searchsorted(take, np.arange(n), side="left")
    listed: list[tuple] = []
    key_column = KEY_COLUMN.get(table_name)
    keys = table.column(key_column) if key_column else None
    dup_rows = position[dup_of] + 1
    dup_keys = keys.take(pa.array(dup_rows)).to_pylist() if keys is not None else [""] * len(dup_rows)
    for row, key in zip(dup_rows, dup_keys):
        listed.append((table_name, row_offset + int(row) + 1, key or "", "", "duplicate", QUARANTINED))

    kind = rng.integers(0, len(faults), len(faulty))
    rows = position[faulty]
    replacements: dict[str, tuple[list[int], list[str | None]]] = {}
    key_values = keys.take(pa.array(rows)).to_pylist() if keys is not None else [""] * len(rows)
    for k in np.unique(kind):
        fault = faults[int(k)]
        pick = np.flatnonzero(kind == k)
        at = rows[pick]
        original = table.column(fault.column).take(pa.array(at)).to_pylist()
        where, values = replacements.setdefault(fault.column, ([], []))
        where.extend(at.tolist())
        values.extend(fault.make(v, rng) for v in original)
        for i, row in zip(pick, at):
            listed.append(
                (table_name, row_offset + int(row) + 1, key_values[i] or "", fault.column, fault.kind, fault.expect)
            )
    columns = {name: table.column(name) for name in table.column_names}
    for column, (where, values) in replacements.items():
        columns[column] = _replace(columns[column], np.array(where), values)
    listed.sort(key=lambda f: f[1])
    return pa.table(columns), listed


def _replace(column: pa.ChunkedArray, at: np.ndarray, new: list) -> pa.Array:
    """Column with the rows `at` (distinct) replaced by `new` (None = blank)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    order = np.argsort(at, kind="stable")
    mask = np.zeros(len(array), dtype=bool)
    mask[at] = True
    values = pa.array([new[i] for i in order], type=pa.string())
    return pc.replace_with_mask(array, pa.array(mask), values)
