"""Ranking metrics on a hold-out, with their definitions.

Conventions (binary relevance; ``rel(u)`` = the services citizen ``u`` used in the hold-out
that count as relevant, ``hit_r`` = 1 if the service at rank ``r`` is in ``rel(u)``):

- Only citizens with at least one relevant service count (the others have nothing to find).
- A padded slot (``service_idx == -1``) is never a hit.
- Every metric is the mean over counted citizens of a per-citizen value (macro average).

==============  ==========================================================================
precision@k     hits in the top k / k
recall@k        hits in the top k / |rel(u)|
ndcg@k          DCG / IDCG with DCG = Σ_{r≤k} hit_r / log2(r + 1) and IDCG the DCG of a
                perfect list, Σ_{r ≤ min(k, |rel(u)|)} 1 / log2(r + 1)   (as implicit)
map@k           (1 / min(k, |rel(u)|)) Σ_{r≤k} hit_r · precision@r      (as implicit)
hit_rate@k      1 if any hit in the top k, else 0
coverage@k      distinct services suggested in anyone's top k / n_services (catalogue share;
                computed over the counted citizens)
==============  ==========================================================================

implicit's ``ndcg_at_k`` and ``mean_average_precision_at_k`` use the same definitions; its
``precision_at_k`` is micro-averaged over min(k, |rel|) and is *not* the same as ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import sparse

#: Cut-offs logged for every model.
K_VALUES: tuple[int, ...] = (5, 10, 20)


def hits(service_idx: np.ndarray, relevant: sparse.csr_matrix, *, batch_rows: int = 65536) -> np.ndarray:
    """Whether each suggested service is relevant.

    Parameters
    ----------
    service_idx : ndarray of shape (n, k), int; -1 = padded
    relevant : csr_matrix of shape (n, n_services); any stored positive entry is relevant

    Returns
    -------
    ndarray of shape (n, k), bool
    """
    relevant = sparse.csr_matrix(relevant)
    n, k = service_idx.shape
    out = np.zeros((n, k), dtype=bool)
    for start in range(0, n, batch_rows):
        stop = min(n, start + batch_rows)
        dense = relevant[start:stop].toarray() > 0
        idx = service_idx[start:stop]
        safe = np.where(idx >= 0, idx, 0)
        out[start:stop] = np.take_along_axis(dense, safe, axis=1) & (idx >= 0)
    return out


def per_citizen(service_idx: np.ndarray, relevant: sparse.csr_matrix, k: int) -> dict[str, np.ndarray]:
    """Per-citizen precision, recall, ndcg, map and hit at ``k`` for the counted citizens.

    Parameters
    ----------
    service_idx : ndarray of shape (n, ≥k), int
    relevant : csr_matrix of shape (n, n_services)
    k : int

    Returns
    -------
    dict of metric name → ndarray of shape (n_counted,), plus ``"counted"``: ndarray of shape
    (n,), bool — which rows had at least one relevant service.
    """
    if service_idx.shape[1] < k:
        raise ValueError(f"the ranking has {service_idx.shape[1]} columns, fewer than k={k}")
    relevant = sparse.csr_matrix(relevant)
    relevant.eliminate_zeros()
    n_relevant = np.diff(relevant.indptr)
    counted = n_relevant > 0
    hit = hits(service_idx[counted, :k], relevant[counted])
    n_rel = n_relevant[counted].astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hit * discounts).sum(axis=1)
    ideal_len = np.minimum(n_rel, k).astype(int)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_len]
    cumulative_hits = np.cumsum(hit, axis=1)
    precision_at_r = cumulative_hits / np.arange(1, k + 1)
    average_precision = (precision_at_r * hit).sum(axis=1) / np.minimum(n_rel, k)
    return {
        "precision": hit.sum(axis=1) / k,
        "recall": hit.sum(axis=1) / n_rel,
        "ndcg": dcg / idcg,
        "map": average_precision,
        "hit_rate": hit.any(axis=1).astype(np.float64),
        "counted": counted,
    }


def coverage(service_idx: np.ndarray, n_services: int) -> float:
    """Share of the catalogue that appears in at least one top-k list."""
    shown = np.unique(service_idx[service_idx >= 0])
    return float(len(shown) / n_services) if n_services else 0.0


def ranking_metrics(
    service_idx: np.ndarray,
    relevant: sparse.csr_matrix,
    *,
    ks: Iterable[int] = K_VALUES,
) -> dict[str, float]:
    """All metrics at every ``k`` in ``ks``, keyed ``"ndcg@10"`` etc., plus ``"citizens"``.

    Parameters
    ----------
    service_idx : ndarray of shape (n, ≥ max(ks)), int
    relevant : csr_matrix of shape (n, n_services)
    ks : iterable of int

    Returns
    -------
    dict of str → float. Empty metrics (no counted citizen) are ``nan``.
    """
    out: dict[str, float] = {}
    relevant = sparse.csr_matrix(relevant)
    for k in ks:
        values = per_citizen(service_idx, relevant, k)
        counted = values.pop("counted")
        for name, array in values.items():
            out[f"{name}@{k}"] = float(array.mean()) if len(array) else float("nan")
        out[f"coverage@{k}"] = coverage(service_idx[counted, :k], relevant.shape[1])
        out["citizens"] = float(counted.sum())
    return out


def recall_by_group(
    service_idx: np.ndarray,
    relevant: sparse.csr_matrix,
    groups: Sequence[object] | np.ndarray,
    *,
    k: int = 10,
    min_citizens: int = 10,
) -> dict[str, tuple[float, int]]:
    """Recall@k within each group (e.g. age band, district, sex, ethnicity, disability).

    Groups with fewer than ``min_citizens`` counted citizens are suppressed (left out), so
    an analyst-facing table never describes a handful of people.

    Parameters
    ----------
    service_idx : ndarray of shape (n, ≥k), int
    relevant : csr_matrix of shape (n, n_services)
    groups : array-like of shape (n,); missing values are grouped as ``"unknown"``
    k : int
    min_citizens : int

    Returns
    -------
    dict of group label → (recall@k, counted citizens), labels in natural order.
    """
    values = per_citizen(service_idx, relevant, k)
    counted = values["counted"]
    labels = np.array(["unknown" if _missing(g) else str(g) for g in groups], dtype=object)[counted]
    recall = values["recall"]
    out: dict[str, tuple[float, int]] = {}
    for label in sorted(set(labels), key=_natural):
        members = labels == label
        if members.sum() >= min_citizens:
            out[label] = (float(recall[members].mean()), int(members.sum()))
    return out


def metrics_by_group(
    service_idx: np.ndarray,
    relevant: sparse.csr_matrix,
    groups: Sequence[object] | np.ndarray,
    personalised: np.ndarray,
    *,
    k: int = 10,
    min_citizens: int = 10,
) -> list[dict[str, object]]:
    """NDCG@k, recall@k, catalogue coverage@k and the share of personalised lists, per group.

    The recommender's fairness report: does the ranking serve each age band, district,
    deprivation decile and sex about as well, does it show each of them a varied catalogue, and
    how many of them get lists from their own history rather than the demographic fallback?
    Groups under ``min_citizens`` counted citizens are suppressed (left out).

    Parameters
    ----------
    service_idx : ndarray of shape (n, ≥k), int
    relevant : csr_matrix of shape (n, n_services)
    groups : array-like of shape (n,); missing values are grouped as ``"unknown"``
    personalised : ndarray of shape (n,), bool
        Whether each row's list came from the personalised model (not the fallback).
    k, min_citizens : int

    Returns
    -------
    list of dicts with keys ``group``, ``citizens``, ``ndcg@k``, ``recall@k``, ``coverage@k``,
    ``personalised share``; groups in natural order.
    """
    values = per_citizen(service_idx, relevant, k)
    counted = values["counted"]
    labels = np.array(["unknown" if _missing(g) else str(g) for g in groups], dtype=object)[counted]
    shown = service_idx[counted, :k]
    own = np.asarray(personalised, dtype=bool)[counted]
    out: list[dict[str, object]] = []
    for label in sorted(set(labels), key=_natural):
        members = labels == label
        if members.sum() >= min_citizens:
            out.append({
                "group": label,
                "citizens": int(members.sum()),
                f"ndcg@{k}": float(values["ndcg"][members].mean()),
                f"recall@{k}": float(values["recall"][members].mean()),
                f"coverage@{k}": coverage(shown[members], relevant.shape[1]),
                "personalised share": float(own[members].mean()),
            })
    return out


def _natural(label: str) -> tuple:
    """Sort key that puts ``5-10`` before ``11-15`` and ``SO9`` before ``SO23``."""
    import re

    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label))


def _missing(value: object) -> bool:
    if value is None or type(value).__name__ == "NAType":
        return True
    try:
        return bool(np.isnan(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
