"""Per-group early-help figures: pandas sums tested equal to fairlearn's MetricFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import precision_score

from recommender.early_help_metrics import expected_calibration_error
from training.early_help_fairness import by_group, group_metrics


def _fairlearn(groups: np.ndarray, y: np.ndarray, p: np.ndarray, flagged: np.ndarray) -> pd.DataFrame:
    def precision(t, f):
        return float(precision_score(t, f, zero_division=np.nan))

    decisions = MetricFrame(
        metrics={"children": count, "selection_rate": selection_rate, "tpr": true_positive_rate,
                 "fpr": false_positive_rate, "precision": precision},
        y_true=y, y_pred=flagged, sensitive_features=pd.Series(groups, name="group")).by_group
    calibration = MetricFrame(
        metrics={"mean_predicted": lambda t, q: float(np.mean(q)), "observed_rate": lambda t, q: float(np.mean(t)),
                 "ece": lambda t, q: expected_calibration_error(np.asarray(t), np.asarray(q), n_bins=5)},
        y_true=y, y_pred=p, sensitive_features=pd.Series(groups, name="group")).by_group
    return decisions.join(calibration)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "unknown"]), st.booleans(), st.booleans(),
                          st.floats(0.001, 0.999)), min_size=1, max_size=80))
def test_group_metrics_equal_fairlearns(rows) -> None:
    groups = np.array([r[0] for r in rows])
    y = np.array([int(r[1]) for r in rows])
    flagged = np.array([int(r[2]) for r in rows])
    p = np.array([r[3] for r in rows])
    ours = group_metrics(groups, y, p, flagged)
    theirs = _fairlearn(groups, y, p, flagged)
    assert list(ours.index) == sorted(theirs.index)
    theirs = theirs.loc[ours.index]
    for column in theirs.columns:
        np.testing.assert_allclose(ours[column].to_numpy(dtype=float), theirs[column].to_numpy(dtype=float),
                                   rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=column)
    assert ours["outcomes"].tolist() == [int(y[groups == g].sum()) for g in ours.index]


def test_by_group_judges_only_groups_with_enough_outcomes() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    frame = pd.DataFrame({"sex": rng.choice(["F", "M"], n), "imd_decile": rng.integers(1, 11, n).astype(float)})
    frame.loc[:4, "imd_decile"] = np.nan
    y = (rng.random(n) < 0.1).astype(int)
    p = np.clip(0.1 + 0.05 * rng.normal(size=n), 0.001, 0.999)
    flagged = (p > np.quantile(p, 0.9)).astype(int)
    report = by_group(frame, y, p, flagged, min_positives=15)
    deciles = report.per_group[report.per_group["attribute"] == "imd_decile"]
    assert deciles["group"].tolist() == [str(d) for d in range(1, 11)] + ["unknown"]  # natural order, unknown last
    assert not deciles.set_index("group").loc["unknown", "judged_tpr"]  # 5 children cannot be judged
    sexes = report.per_group[report.per_group["attribute"] == "sex"].set_index("group")
    assert sexes["children"].sum() == n and sexes["outcomes"].sum() == y.sum()
