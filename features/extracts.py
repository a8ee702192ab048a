"""The input edge: find the partner extract files, check their structure, load them as text.

Every file is loaded into DuckDB with every column as VARCHAR, in file order, so that
validation sees exactly what the partner wrote and the quarantine can point at the row
(``row_number`` = 1-based data row, header excluded; for Parquet the 1-based row). Typed
Parquet columns are cast to text first and validated like CSV values.

A file that cannot be read at all, or lacks a column the contract requires, stops the
build with a :class:`UserError` naming the file and what to fix. Messages never quote the
content of a line: it may hold personal data, and console output is not protected.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from features.contract import FORMATS, TABLES, Table
from signpost.errors import UserError

#: Column names the pipeline adds to quarantine files; an extract may not use them.
RESERVED_COLUMNS = ("row_number", "reason")
_NUMERIC_TYPES = ("FLOAT", "DOUBLE", "DECIMAL")


@dataclass(frozen=True)
class ExtractFile:
    """One table's file and the columns found in it."""

    table: str
    path: Path
    format: str  # "csv" | "parquet"
    columns: tuple[str, ...]

    @property
    def contract(self) -> Table:
        return TABLES[self.table]

    @property
    def missing_optional(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.contract.columns if c.name not in self.columns)


def locate(raw: Path) -> dict[str, ExtractFile]:
    """The extract file of every table present, structure checked; required tables must exist."""
    raw = Path(raw)
    if not raw.is_dir():
        raise UserError(f"{raw} is not a folder: point --raw at the folder of partner extracts")
    found: dict[str, ExtractFile] = {}
    for name, table in TABLES.items():
        candidates = [raw / f"{name}.{ext}" for ext in FORMATS if (raw / f"{name}.{ext}").exists()]
        if len(candidates) > 1:
            raise UserError(
                f"{raw} holds both {candidates[0].name} and {candidates[1].name}: keep one file per table"
            )
        if not candidates:
            if table.required:
                raise UserError(
                    f"{raw / (name + '.csv')} is missing: the extract needs {name}.csv or "
                    f"{name}.parquet (see the data contract, table '{name}')"
                )
            continue
        path = candidates[0]
        fmt = path.suffix.lstrip(".")
        columns = _csv_header(path) if fmt == "csv" else _parquet_columns(path)
        _check_columns(path, table, columns)
        found[name] = ExtractFile(name, path, fmt, columns)
    return found


def _csv_header(path: Path) -> tuple[str, ...]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text: export it as a UTF-8 CSV with a header row") from None
    except csv.Error as error:
        raise UserError(f"{path} is not a readable CSV ({error}): export it as comma-separated UTF-8") from None
    if not header:
        raise UserError(f"{path} is empty: it needs at least the header row with the contract's column names")
    return tuple(h.strip() for h in header)


def _parquet_columns(path: Path) -> tuple[str, ...]:
    try:
        rows = duckdb.connect().execute(
            "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(?))", [str(path)]
        ).fetchall()
    except duckdb.Error:
        raise UserError(f"{path} is not a readable Parquet file: re-export it, or send the table as CSV") from None
    return tuple(r[0] for r in rows)


def _check_columns(path: Path, table: Table, columns: tuple[str, ...]) -> None:
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise UserError(f"{path} has the column(s) {', '.join(duplicated)} more than once: keep one of each")
    reserved = [c for c in columns if c in RESERVED_COLUMNS]
    if reserved:
        raise UserError(
            f"{path} has a column named {', '.join(reserved)}, which the quarantine files use: rename it"
        )
    missing = [c.name for c in table.columns if c.required and c.name not in columns]
    if missing:
        raise UserError(
            f"{path} lacks the column(s) {', '.join(missing)} (found: {', '.join(columns) or 'none'}): "
            f"the header must name the contract's columns for table '{table.name}' exactly"
        )


def load_text_table(con: duckdb.DuckDBPyConnection, extract: ExtractFile, name: str) -> int:
    """Load a file into table ``name`` (all VARCHAR, file order) and view ``name_rows``.

    The view adds ``row_number`` (1-based) from the table's row ids, which follow file order
    because DuckDB preserves insertion order for a plain ``CREATE TABLE AS SELECT``. Returns
    the number of rows read.
    """
    if extract.format == "csv":
        columns = "{" + ", ".join(f"'{_sql_str(c)}': 'VARCHAR'" for c in extract.columns) + "}"
        source = (
            f"read_csv('{_sql_str(str(extract.path))}', header = true, auto_detect = false, "
            f"columns = {columns}, delim = ',', quote = '\"', escape = '\"', encoding = 'utf-8')"
        )
        select = "*"
    else:
        source = f"read_parquet('{_sql_str(str(extract.path))}')"
        types = dict(
            con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {source})").fetchall()
        )
        select = ", ".join(_as_text(c, types[c], extract.contract) for c in extract.columns)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {select} FROM {source}")
    except duckdb.Error as error:
        raise UserError(_read_error(extract, error)) from None
    for column in extract.missing_optional:
        con.execute(f"ALTER TABLE {name} ADD COLUMN {_ident(column)} VARCHAR")
    con.execute(f"CREATE OR REPLACE VIEW {name}_rows AS SELECT rowid + 1 AS row_number, * FROM {name}")
    return con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]


def _as_text(column: str, column_type: str, table: Table) -> str:
    """Cast a typed Parquet column to the text a CSV would hold (3.0 → '3' for integers)."""
    ident = _ident(column)
    contract_type = next((c.type for c in table.columns if c.name == column), None)
    if contract_type == "integer" and column_type.startswith(_NUMERIC_TYPES):
        return (
            f"CASE WHEN {ident} = trunc({ident}) THEN CAST(CAST({ident} AS BIGINT) AS VARCHAR) "
            f"ELSE CAST({ident} AS VARCHAR) END AS {ident}"
        )
    return f"CAST({ident} AS VARCHAR) AS {ident}"


def _read_error(extract: ExtractFile, error: duckdb.Error) -> str:
    text = str(error).split("Possible fix")[0]  # the rest lists reader options, not the problem
    line = re.search(r"on Line: (\d+)", text)
    where = f" at line {int(line.group(1)):,}" if line else ""
    if "Expected Number of Columns" in text:
        counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
        problem = (
            f"a row has {counts.group(2)} fields where the header has {counts.group(1)}"
            if counts
            else "a row has a different number of fields from the header"
        )
        fix = "quote values that contain commas, or remove the broken line"
    elif "unicode" in text.lower() or "utf-8" in text.lower():
        problem, fix = "the text is not valid UTF-8", "export the file as UTF-8"
    elif "quote" in text.lower():
        problem, fix = "a quoted value is never closed", "close the quote or remove the broken line"
    elif "invalid state" in text.lower():
        problem = "the file is not well-formed CSV (mixed line endings or a stray quote)"
        fix = "re-export it as RFC 4180 CSV"
    elif extract.format == "parquet":
        problem, fix = "the Parquet data cannot be read", "re-export it, or send the table as CSV"
    else:
        problem, fix = "the file cannot be parsed as CSV", "export it as comma-separated UTF-8 with a header row"
    return f"{extract.path}{where}: {problem}; {fix}"


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
