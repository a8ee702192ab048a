"""Fast vectorised formatting of ids, dates and timestamps into Arrow string arrays.

Formatting millions of values one by one in Python is the slow part of writing extracts;
these build fixed-width byte matrices with numpy and hand them to Arrow in one go.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa

_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def _to_arrow(matrix: np.ndarray) -> pa.Array:
    """(n, width) uint8 of ASCII → Arrow string array of the rows (no per-value copy)."""
    n, width = matrix.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    data = pa.py_buffer(np.ascontiguousarray(matrix))
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), data]).cast(pa.string())


def _rows(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """table[index] for a (k, width) uint8 table, copying whole rows at once."""
    width = table.shape[1]
    return np.ascontiguousarray(table).view(f"V{width}").ravel()[index].view(np.uint8).reshape(-1, width)


def digits(numbers: np.ndarray, width: int) -> np.ndarray:
    """(n, width) uint8 zero-padded decimal digits of non-negative integers."""
    out = np.empty((len(numbers), width), dtype=np.uint8)
    value = np.asarray(numbers, dtype=np.int64).copy()
    for k in range(width - 1, -1, -1):
        out[:, k] = _DIGITS[value % 10]
        value //= 10
    return out


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Identifiers like `P000012345`: a prefix and zero-padded digits."""
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    matrix = np.concatenate([np.broadcast_to(head, (len(numbers), len(head))), digits(numbers, width)], axis=1)
    return _to_arrow(matrix)


def prefixed_ids(prefixes: tuple[str, ...], prefix_idx: np.ndarray, numbers: np.ndarray, width: int) -> pa.Array:
    """Identifiers with one of several equal-length prefixes (`LIB0000000042`)."""
    size = len(prefixes[0])
    assert all(len(p) == size for p in prefixes)
    table = np.frombuffer("".join(prefixes).encode(), dtype=np.uint8).reshape(len(prefixes), size)
    matrix = np.empty((len(numbers), size + width), dtype=np.uint8)
    matrix[:, :size] = _rows(table, np.asarray(prefix_idx))
    matrix[:, size:] = digits(numbers, width)
    return _to_arrow(matrix)


def postcodes(district_names: np.ndarray, district_idx: np.ndarray, inward: np.ndarray) -> pa.Array:
    """`SO23 8UJ` from district names (2–4 characters) and (n, 3) uint8 inward codes."""
    names = [str(d) for d in district_names]
    width = np.array([len(d) for d in names])
    table = np.zeros((len(names), 4), dtype=np.uint8)
    for i, d in enumerate(names):
        table[i, : len(d)] = np.frombuffer(d.encode(), dtype=np.uint8)
    idx = np.asarray(district_idx)
    n = len(idx)
    matrix = np.zeros((n, 8), dtype=np.uint8)
    matrix[:, :4] = _rows(table, idx)
    lengths = width[idx] + 4
    # write " " + inward right after each district name
    cols = width[idx][:, None] + np.arange(4)
    rows = np.arange(n)[:, None]
    matrix[rows, cols] = np.concatenate([np.full((n, 1), ord(" "), dtype=np.uint8), inward], axis=1)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    keep = np.arange(8) < lengths[:, None]
    data = pa.py_buffer(np.ascontiguousarray(matrix[keep]))
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), data]).cast(pa.string())


@lru_cache(maxsize=4)
def _date_table(first_day: int, n_days: int) -> np.ndarray:
    days = np.arange(first_day, first_day + n_days).astype("datetime64[D]")
    return np.array(days.astype(str).astype("S10")).view(np.uint8).reshape(n_days, 10)


def _date_bytes(days: np.ndarray) -> np.ndarray:
    first = int(days.min()) if len(days) else 0
    span = int(days.max()) - first + 1 if len(days) else 1
    return _rows(_date_table(first, span), np.asarray(days) - first)


def dates(days: np.ndarray) -> pa.Array:
    """ISO dates (`2026-03-31`) from day numbers since 1970-01-01."""
    return _to_arrow(_date_bytes(days))


@lru_cache(maxsize=1)
def _time_table() -> np.ndarray:
    seconds = np.arange(86400)
    hms = np.stack([seconds // 3600, seconds // 60 % 60, seconds % 60], axis=1)
    out = np.full((86400, 9), ord(":"), dtype=np.uint8)
    out[:, 0] = ord("T")
    for i, col in enumerate((1, 4, 7)):
        out[:, col : col + 2] = digits(hms[:, i], 2)
    return out


def timestamps(seconds: np.ndarray) -> pa.Array:
    """Naive ISO timestamps (`2026-03-31T14:05:09`) from seconds since 1970-01-01."""
    seconds = np.asarray(seconds, dtype=np.int64)
    matrix = np.empty((len(seconds), 19), dtype=np.uint8)
    matrix[:, :10] = _date_bytes(seconds // 86400)
    matrix[:, 10:] = _rows(_time_table(), seconds % 86400)
    return _to_arrow(matrix)


def choose(labels: tuple[str, ...] | list[str] | np.ndarray, index: np.ndarray) -> pa.Array:
    """Labels picked by index, as an Arrow string array (dictionary decode, no Python loop)."""
    dictionary = pa.array(list(labels), type=pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(index, dtype=np.int32)), dictionary).cast(
        pa.string()
    )

