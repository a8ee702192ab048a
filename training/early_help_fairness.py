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
    """Per-group table and the largest gaps across every group column."""

    per_group: pd.DataFrame  # one row per (attribute, group)
    gaps: pd.DataFrame  # one row per attribute: tpr_gap, fpr_gap, selection_gap, ... and which groups

    @property
    def max_tpr_gap(self) -> float:
        return float(np.nanmax(self.gaps["tpr_gap"].to_numpy(dtype=float), initial=0.0))

    @property
    def max_fpr_gap(self) -> float:
        return float(np.nanmax(self.gaps["fpr_gap"].to_numpy(dtype=float), initial=0.0))

    def worst(self, metric: str) -> str:
        """Which attribute and groups the largest ``metric`` gap ("tpr"/"fpr") is between."""
        column = f"{metric}_gap"
        if self.gaps[column].isna().all():
            return "no group large enough to judge"
        row = self.gaps.loc[self.gaps[column].idxmax()]
        return f"{row['attribute']}: {row[f'{metric}_high']} vs {row[f'{metric}_low']}"


def group_labels(frame: pd.DataFrame, column: str) -> pd.Series:
    """Group values as strings, with missing values as ``unknown``."""
    return frame[column].astype("string").fillna("unknown").astype(str)


def by_group(
    frame: pd.DataFrame,
    y: np.ndarray,
    probability: np.ndarray,
    flagged: np.ndarray,
    *,
    columns: tuple[str, ...] = GROUP_COLUMNS,
    min_positives: int = 20,
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
        gaps.append(_gaps(column, table))
    per_group = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return GroupReport(per_group=per_group, gaps=pd.DataFrame(gaps))


def _natural(group: str) -> tuple[int, float, str]:
    """Sort key: numbers (deciles) numerically, then text, with ``unknown`` last."""
    try:
        return (0, float(group), "")
    except ValueError:
        return (2 if group == "unknown" else 1, 0.0, group)


def _gaps(column: str, table: pd.DataFrame) -> dict[str, object]:
    out: dict[str, object] = {"attribute": column}
    for metric, judged in (("tpr", "judged_tpr"), ("fpr", "judged_fpr"), ("selection_rate", "judged_fpr")):
        rows = table[table[judged]].dropna(subset=[metric])
        name = metric.removesuffix("_rate")
        if len(rows) < 2:
            out[f"{name}_gap"], out[f"{name}_high"], out[f"{name}_low"] = np.nan, "", ""
            continue
        high, low = rows.loc[rows[metric].idxmax()], rows.loc[rows[metric].idxmin()]
        out[f"{name}_gap"] = float(high[metric] - low[metric])
        out[f"{name}_high"], out[f"{name}_low"] = str(high["group"]), str(low["group"])
    judged = table[table["judged_fpr"]]
    out["calibration_gap"] = float(judged["calibration_gap"].abs().max()) if len(judged) else np.nan
    out["groups"] = int(len(table))
    out["groups_judged"] = int(table["judged_tpr"].sum())
    return out
