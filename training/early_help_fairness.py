"""Early-help results by protected characteristic and area, with fairlearn's MetricFrame.

"Flagged" means inside caseworker capacity: the ``N`` highest-scored children of the
evaluation table (what the council would actually review). Per group we report selection
rate, TPR, FPR, precision, and calibration within the group (mean predicted probability vs
observed outcome rate, and the group's ECE).

Gaps are the largest between-group differences, computed only over groups large enough to
estimate the rate: TPR needs at least ``min_positives`` children with an outcome in the
group, FPR at least ``min_positives`` without. A group of 8 children with 1 outcome has a
TPR of 0 or 1 by chance; letting it decide the gate would make the gate noise. Groups left
out are listed (``judged`` column is False), never hidden.

Each gap is also given "beyond sampling noise": the largest, over pairs of judged groups, of
``(rate_a − rate_b) − z · SE``, with ``z`` the one-sided normal quantile of ``confidence`` and
``SE`` the Agresti–Caffo standard error of a difference of two proportions. With two groups
of 40 children a 0.08 FPR gap is well within chance; the promotion gate should refuse a
model for its behaviour, not for the size of a district. ``confidence = 0.5`` gives the
plain point estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_positive_rate,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from scipy.stats import norm
from sklearn.metrics import precision_score

from recommender.early_help_metrics import expected_calibration_error

#: The group columns of the early-help tables that fairness is reported for.
GROUP_COLUMNS: tuple[str, ...] = ("sex", "ethnicity", "disability", "imd_decile", "local_authority")


def _precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(precision_score(y_true, y_pred, zero_division=np.nan))


def _observed_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true)) if len(y_true) else float("nan")


def _ece(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    # within a small group, 5 equal-mass bins keep each bin meaningful
    return expected_calibration_error(np.asarray(y_true), np.asarray(y_pred), n_bins=5)


@dataclass(frozen=True)
class GroupReport:
    """Per-group table and the largest gaps for every group column."""

    per_group: pd.DataFrame  # one row per (attribute, group)
    gaps: pd.DataFrame  # one row per attribute: tpr_gap, tpr_gap_beyond_noise, tpr_pair, ...

    def max_gap(self, metric: str, attributes: tuple[str, ...] | None = None, *,
                beyond_noise: bool = False) -> float:
        """Largest ``metric`` ("tpr"/"fpr"/"selection") gap over ``attributes`` (default all); 0 if none judged."""
        rows = self._rows(attributes)
        column = f"{metric}_gap_beyond_noise" if beyond_noise else f"{metric}_gap"
        return float(np.nanmax(rows[column].to_numpy(dtype=float), initial=0.0)) if len(rows) else 0.0

    @property
    def max_tpr_gap(self) -> float:
        return self.max_gap("tpr")

    @property
    def max_fpr_gap(self) -> float:
        return self.max_gap("fpr")

    def worst(self, metric: str, attributes: tuple[str, ...] | None = None) -> str:
        """Which attribute and groups the largest ``metric`` gap beyond noise is between."""
        rows = self._rows(attributes)
        column = f"{metric}_gap_beyond_noise"
        if not len(rows) or rows[column].isna().all():
            return "no two groups large enough to judge"
        row = rows.loc[rows[column].idxmax()]
        return f"{row['attribute']}: {row[f'{metric}_pair']}"

    def _rows(self, attributes: tuple[str, ...] | None) -> pd.DataFrame:
        if self.gaps.empty or attributes is None:
            return self.gaps
        return self.gaps[self.gaps["attribute"].isin(attributes)]


def group_labels(frame: pd.DataFrame, column: str) -> pd.Series:
    """Group values as strings (whole numbers without ``.0``), missing values as ``unknown``."""
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce")
        if ((numbers.dropna() % 1) == 0).all():
            values = numbers.astype("Int64")
    return values.astype("string").fillna("unknown").astype(str)


def by_group(
    frame: pd.DataFrame,
    y: np.ndarray,
    probability: np.ndarray,
    flagged: np.ndarray,
    *,
    columns: tuple[str, ...] = GROUP_COLUMNS,
    min_positives: int = 20,
    confidence: float = 0.95,
) -> GroupReport:
    """Per-group metrics and gaps for children in ``frame`` (rows aligned with y/probability/flagged)."""
    y = np.asarray(y).astype(int)
    flagged = np.asarray(flagged).astype(int)
    tables, gaps = [], []
    for column in columns:
        if column not in frame.columns:
            continue
        groups = group_labels(frame, column).to_numpy()
        decisions = MetricFrame(
            metrics={
                "children": count,
                "selection_rate": selection_rate,
                "tpr": true_positive_rate,
                "fpr": false_positive_rate,
                "precision": _precision,
            },
            y_true=y,
            y_pred=flagged,
            sensitive_features=pd.Series(groups, name=column),
        ).by_group
        calibration = MetricFrame(
            metrics={"mean_predicted": mean_prediction, "observed_rate": _observed_rate, "ece": _ece},
            y_true=y,
            y_pred=np.asarray(probability, dtype=float),
            sensitive_features=pd.Series(groups, name=column),
        ).by_group
        table = decisions.join(calibration)
        positives = pd.Series(y).groupby(groups).sum().reindex(table.index)
        table["outcomes"] = positives.to_numpy()
        table["judged_tpr"] = table["outcomes"] >= min_positives
        table["judged_fpr"] = (table["children"] - table["outcomes"]) >= min_positives
        table["calibration_gap"] = table["mean_predicted"] - table["observed_rate"]
        table = table.reset_index().rename(columns={column: "group"})
        groups_in_order = sorted(range(len(table)), key=lambda i: _natural(table["group"].iloc[i]))
        table = table.iloc[groups_in_order].reset_index(drop=True)
        table.insert(0, "attribute", column)
        tables.append(table)
        gaps.append(_gaps(column, table, confidence))
    per_group = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return GroupReport(per_group=per_group, gaps=pd.DataFrame(gaps))


def _natural(group: str) -> tuple[int, float, str]:
    """Sort key: numbers (deciles) numerically, then text, with ``unknown`` last."""
    try:
        return (0, float(group), "")
    except ValueError:
        return (2 if group == "unknown" else 1, 0.0, group)


#: metric -> (judged column, the count each rate is a proportion of)
_RATES = {"tpr": ("judged_tpr", "outcomes"), "fpr": ("judged_fpr", "negatives"),
          "selection": ("judged_fpr", "children")}


def _gaps(column: str, table: pd.DataFrame, confidence: float) -> dict[str, object]:
    z = float(norm.ppf(confidence))
    table = table.assign(negatives=table["children"] - table["outcomes"], selection=table["selection_rate"])
    out: dict[str, object] = {"attribute": column}
    for metric, (judged, base) in _RATES.items():
        rows = table[table[judged]].dropna(subset=[metric])
        if len(rows) < 2:
            out.update({f"{metric}_gap": np.nan, f"{metric}_gap_beyond_noise": np.nan, f"{metric}_pair": ""})
            continue
        rate = rows[metric].to_numpy(dtype=float)
        n = rows[base].to_numpy(dtype=float)
        # Agresti–Caffo: one success and one failure added to each group
        adjusted = (rate * n + 1) / (n + 2)
        variance = adjusted * (1 - adjusted) / (n + 2)
        bound = rate[:, None] - rate[None, :] - z * np.sqrt(variance[:, None] + variance[None, :])
        np.fill_diagonal(bound, -np.inf)
        a, b = np.unravel_index(np.argmax(bound), bound.shape)
        names = rows["group"].astype(str).to_numpy()
        out[f"{metric}_gap"] = float(rate.max() - rate.min())
        out[f"{metric}_gap_beyond_noise"] = float(max(bound[a, b], 0.0))
        out[f"{metric}_pair"] = f"{names[a]} {rate[a]:.3f} vs {names[b]} {rate[b]:.3f}"
    judged = table[table["judged_fpr"]]
    out["calibration_gap"] = float(judged["calibration_gap"].abs().max()) if len(judged) else np.nan
    out["groups"] = len(table)
    out["groups_judged"] = int((table["judged_tpr"] & table["judged_fpr"]).sum())
    return out
