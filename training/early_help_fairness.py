"""Early-help results by protected characteristic and area.

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

The per-group figures are counts summed with one pandas ``groupby`` per attribute (tested equal
to fairlearn's ``MetricFrame`` with its ``true_positive_rate``, ``false_positive_rate`` and
``selection_rate``): at county scale ``MetricFrame`` validated every group's arrays once per
metric, which cost more than the models it reported on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from recommender.early_help_metrics import expected_calibration_error

#: The group columns of the early-help tables that fairness is reported for.
GROUP_COLUMNS: tuple[str, ...] = ("sex", "ethnicity", "disability", "imd_decile", "local_authority")


def group_metrics(groups: np.ndarray, y: np.ndarray, probability: np.ndarray, flagged: np.ndarray) -> pd.DataFrame:
    """One row per group (index: the sorted group labels) of decision and calibration figures.

    children, selection_rate, tpr, fpr, precision (NaN when nobody in the group is flagged),
    mean_predicted, observed_rate, ece (5 equal-mass bins: within a small group they keep each
    bin meaningful) and outcomes. A group with no outcome has a TPR of 0 and one with no child
    without an outcome an FPR of 0, as fairlearn's rates are.
    """
    y = np.asarray(y).astype(np.int64)
    flagged = np.asarray(flagged).astype(np.int64)
    probability = np.asarray(probability, dtype=float)
    data = pd.DataFrame({"group": groups, "y": y, "flagged": flagged, "p": probability,
                         "tp": y & flagged, "fp": (1 - y) & flagged})
    by = data.groupby("group", sort=True)
    sums = by[["y", "flagged", "tp", "fp", "p"]].sum()
    children = by.size()
    negatives = children - sums["y"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame({
            "children": children,
            "selection_rate": sums["flagged"] / children,
            "tpr": np.where(sums["y"] > 0, sums["tp"] / sums["y"].where(sums["y"] > 0, 1), 0.0),
            "fpr": np.where(negatives > 0, sums["fp"] / negatives.where(negatives > 0, 1), 0.0),
            "precision": sums["tp"] / sums["flagged"].where(sums["flagged"] > 0, np.nan),
            "mean_predicted": sums["p"] / children,
            "observed_rate": sums["y"] / children,
        })
    table["ece"] = [expected_calibration_error(y[rows], probability[rows], n_bins=5)
                    for rows in (by.indices[g] for g in table.index)]
    table["outcomes"] = sums["y"]
    return table


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
        table = group_metrics(group_labels(frame, column).to_numpy(), y, probability, flagged)
        table.index.name = column
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
