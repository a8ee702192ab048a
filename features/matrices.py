"""Implicit-feedback interaction matrices, citizens × services.

Each event adds ``event_weights[event_type] × 0.5 ** (age_days / decay_half_life_days)``
to its (citizen, service) cell, where the age is measured from the end of the matrix's
window, so recent use counts more. ``declined`` has weight 0 by default and is left out
altogether: a declined offer says little about need, and a negative weight would break
ALS's and BPR's confidence model (they read any stored entry as positive evidence). A
recommender that wants to avoid re-offering declined services can ask serving for them.

Duplicates never reach this step: the second copy of a (source, event_id) is quarantined.

Windows (``split_date`` = ``as_of`` − ``holdout_months``), with dates as whole UK local days:
``train`` = events before ``split_date``; ``test`` = events from ``split_date`` to ``as_of``
inclusive; ``all`` = everything up to ``as_of`` (the production refit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import numpy as np
from scipy.sparse import csr_matrix

from features.validate import quote_literal

WINDOWS = ("train", "test", "all")


def _ts(day: date) -> str:
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


def _decay(end: date, half_life_days: float) -> str:
    seconds = half_life_days * 86400.0
    return f"pow(0.5, (epoch({_ts(end)}) - epoch(occurred_at)) / {seconds!r})"


def interactions_sql(
    events: str,
    citizens: str,
    *,
    weights: Mapping[str, float],
    sources: Sequence[str],
    split_date: date,
    as_of: date,
    half_life_days: float,
) -> str:
    """SELECT ``row, col, train, test, all`` (float weights, NULL outside a window).

    ``events`` needs ``cid, col, source, event_type, occurred_at``; ``citizens`` needs
    ``cid, row`` for the citizens allowed into the matrices (personalisation consent).
    Only events from ``sources`` (those whose sharing policy allows personalisation) count.
    Rows come sorted by (row, col), ready for :func:`csr_from_sorted`.
    """
    end = as_of + timedelta(days=1)
    positive = {k: float(v) for k, v in weights.items() if float(v) > 0}
    if not positive or not sources:
        return "SELECT NULL::INTEGER AS row, NULL::INTEGER AS col, NULL::DOUBLE AS train, " \
               "NULL::DOUBLE AS test, NULL::DOUBLE AS \"all\" WHERE false"
    weight = "CASE event_type " + " ".join(
        f"WHEN {quote_literal(t)} THEN {w!r}" for t, w in sorted(positive.items())
    ) + " END"
    listed = ", ".join(quote_literal(s) for s in sources)
    types = ", ".join(quote_literal(t) for t in sorted(positive))
    return f"""
SELECT c.row, e.col,
  sum(e.w * {_decay(split_date, half_life_days)}) FILTER (WHERE occurred_at < {_ts(split_date)}) AS train,
  sum(e.w * {_decay(end, half_life_days)}) FILTER (WHERE occurred_at >= {_ts(split_date)}) AS test,
  sum(e.w * {_decay(end, half_life_days)}) AS "all"
FROM (
  SELECT cid, col, occurred_at, {weight} AS w FROM {events}
  WHERE source IN ({listed}) AND event_type IN ({types}) AND occurred_at < {_ts(end)}
) e JOIN {citizens} c ON c.cid = e.cid
GROUP BY c.row, e.col
ORDER BY c.row, e.col"""


def csr_from_sorted(
    row: np.ndarray, col: np.ndarray, value: np.ndarray, shape: tuple[int, int]
) -> csr_matrix:
    """CSR matrix from (row, col)-sorted triplets, skipping NaN values (no COO copy).

    Parameters
    ----------
    row, col : ndarray of int, shape (nnz,)
        Sorted by row, then col; no repeated (row, col).
    value : ndarray of float, shape (nnz,)
        NaN means "no entry" (an event pair outside this matrix's window).
    shape : (n_citizens, n_services)

    Returns
    -------
    csr_matrix of float32, shape ``shape``
    """
    keep = ~np.isnan(value)
    row, col, value = row[keep], col[keep], value[keep]
    if len(row) and (np.any(np.diff(row) < 0)):
        raise ValueError("triplets must be sorted by row")
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=shape[0]), out=indptr[1:])
    matrix = csr_matrix(
        (value.astype(np.float32), col.astype(np.int32), indptr), shape=shape, dtype=np.float32
    )
    matrix.has_sorted_indices = True
    return matrix
