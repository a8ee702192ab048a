"""Writers that append chunks to one file per table, as CSV or Parquet, all columns text.

Every column is written as a string (blank = null) so that malformed values survive in
both formats exactly as a partner system would send them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq


class TableWriter:
    """Appends string tables with a fixed column list to `<folder>/<name>.<fmt>`."""

    def __init__(self, folder: Path, name: str, columns: tuple[str, ...], fmt: str) -> None:
        self.name = name
        self.path = folder / f"{name}.{fmt}"
        self.schema = pa.schema([(c, pa.string()) for c in columns])
        self.rows = 0
        if fmt == "csv":
            self._writer = pcsv.CSVWriter(
                str(self.path), self.schema, write_options=pcsv.WriteOptions(quoting_style="needed")
            )
        else:
            self._writer = pq.ParquetWriter(str(self.path), self.schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        table = table.select(list(self.schema.names)).cast(self.schema)
        if table.num_rows:
            self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()


class TypedParquetWriter:
    """Appends tables of a fixed typed schema to one Parquet file (the truth folder)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.rows = 0
        self._writer = pq.ParquetWriter(str(path), schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        table = table.cast(self.schema)
        if table.num_rows:
            self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()


class NpyAppender:
    """Writes a (rows, cols) float32 .npy file chunk by chunk without holding it in memory."""

    def __init__(self, path: Path, rows: int, cols: int) -> None:
        self.path = path
        self.shape = (rows, cols)
        self.written = 0
        self._file = open(path, "wb")
        np.lib.format.write_array_header_1_0(
            self._file, {"descr": "<f4", "fortran_order": False, "shape": self.shape}
        )

    def write(self, block: np.ndarray) -> None:
        assert block.shape[1] == self.shape[1] and block.dtype == np.float32
        self._file.write(np.ascontiguousarray(block).tobytes())
        self.written += block.shape[0]

    def close(self) -> None:
        self._file.close()
        if self.written != self.shape[0]:
            raise RuntimeError(f"{self.path}: wrote {self.written} rows, header says {self.shape[0]}")
