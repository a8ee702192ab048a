"""The early-help classifier: calibrated probabilities, bands and explanations a caseworker can check.

Pure and I/O free (numpy, scipy, scikit-learn). Three estimators follow the scikit-learn
contract (``__init__`` stores parameters, ``fit`` returns ``self``, learned state ends in
``_``):

- :class:`LogisticEarlyHelp` — regularised logistic regression on kind-aware transformed
  features (``log1p`` of counts, missing indicators, standardised). Explanations are exact:
  ``coef × (t(x) − mean t(x))`` per feature, summed over the columns a feature expands to.
- :class:`BoostedEarlyHelp` — scikit-learn's ``HistGradientBoostingClassifier``, a benchmark
  that cannot explain its scores (scikit-learn exposes no public view of its trees), so it is
  never served: training fits and reports it, and registers only a model that explains itself.
- :class:`CalibratedEarlyHelp` — wraps either, and chooses a calibration map (none, Platt
  sigmoid, isotonic) on out-of-fold predictions by Brier score.

Class imbalance (a few percent positive) is handled honestly: no resampling and no class
weights by default. Both distort the predicted probabilities (oversampling inflates the base
rate the model learns), and a caseworker is shown the probability. Imbalance is addressed
where it matters instead — in evaluation (PR AUC, precision and recall at caseworker
capacity) and in the bands, whose thresholds are probabilities, not ranks.

The output is a band (``low`` / ``medium`` / ``high``) with the calibrated probability behind
it and its top factors: a suggestion for a person to review, never a decision.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal, Self

import numpy as np
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted, validate_data

from recommender.early_help_meaning import IndicatorMeaning
from recommender.early_help_metrics import expected_calibration_error

FeatureKind = Literal["count", "days_since", "flag", "numeric"]
CalibrationMethod = Literal["none", "sigmoid", "isotonic"]
BAND_NAMES: tuple[str, str, str] = ("low", "medium", "high")
CALIBRATION_METHODS: tuple[CalibrationMethod, ...] = ("none", "sigmoid", "isotonic")

#: "(366 = none in the last 12 months)" in a days_since label: the value meaning "no event".
_SENTINEL = re.compile(r"\((\d+(?:\.\d+)?)\s*=\s*([^)]*)\)")
#: Probabilities are kept away from 0 and 1 so log-odds stay finite.
_EPS = 1e-6
#: How household composition and age are presented wherever the indicator is explained (the
#: household page, the workspace help, the model card, the transparency record): as context the
#: model takes into account, never as raising or lowering it. Family shape is not a concern.
CONTEXT_HEADING = "Also taken into account"
CONTEXT_SENTENCE = ("The model also takes into account who lives in the household and the child's age. These "
                    "describe the family; they are not concerns, and never a reason for early help on their own.")


# --------------------------------------------------------------------- features ------------


@dataclass(frozen=True)
class FeatureSpec:
    """One model input as the feature pipeline describes it (``early_help_features.json``).

    Attributes
    ----------
    name : str
        Column name in the early-help tables (``f_...``).
    label : str
        Plain-English label that reads after a count, e.g. ``"police notifications about the
        child (Operation Encompass notification, last 12 months)"``; a numeric label may hold
        ``{value}`` (``"aged {value}"``).
    kind : {"count", "days_since", "flag", "numeric"}
    singular : str
        The label after "1" when it differs ("police notification about the child ...").
    absent : str
        The words for a count of 0 or a flag that is off, when "no <label>" would not read.
    group : str
        Feature group (``features.early_help.FEATURE_GROUPS``): ``concern``, ``composition``
        or an opt-in group.
    needs : tuple of str
        Needs behind the feature (contract ``needs``): what an intervention must address to
        answer it.
    concern : str
        For a concern feature, the kind of concern its label names after "concerning"
        (``"domestic abuse"``); :meth:`describe` with ``by_source=True`` leaves it out.
    """

    name: str
    label: str
    kind: FeatureKind = "numeric"
    singular: str = ""
    absent: str = ""
    group: str = ""
    needs: tuple[str, ...] = ()
    concern: str = ""

    #: Groups the model takes into account as context, never as a factor that raises or lowers
    #: the indicator: who lives in the household, and the child's age.
    CONTEXT_GROUPS: ClassVar[frozenset[str]] = frozenset({"composition"})

    @property
    def is_context(self) -> bool:
        return self.group in self.CONTEXT_GROUPS

    def absent_record(self, values: np.ndarray) -> np.ndarray:
        """Where a count is 0 or a days-since value means none in the window: nothing was recorded."""
        values = np.asarray(values, dtype=np.float64)
        if self.kind == "count":
            return np.round(values) == 0
        if self.kind == "days_since":
            found = _SENTINEL.search(self.label)
            return np.isnan(values) | (values >= float(found.group(1)) if found else False)
        return np.zeros(values.shape, dtype=bool)

    @classmethod
    def from_records(cls, records: list[dict]) -> tuple[FeatureSpec, ...]:
        """Specs from the JSON records the feature pipeline writes."""
        return tuple(
            cls(r["name"], r.get("label", r["name"]), r.get("kind", "numeric"), r.get("singular", ""),
                r.get("absent", ""), r.get("group", ""), tuple(r.get("needs", ())), r.get("concern", ""))
            for r in records
        )

    def describe(self, value: float, *, by_source: bool = False) -> str:
        """The feature's value in a caseworker's words: ``"1 police notification about the child ..."``.

        ``by_source``: without the kind of concern ("1 police notification about the child (last
        12 months)"), for a family whose council shows them factors by source only.
        """
        if by_source and self.concern:
            cut = f" concerning {self.concern}"
            return replace(self, label=self.label.replace(cut, ""), singular=self.singular.replace(cut, ""),
                           concern="").describe(value)
        label = self.label
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if self.kind == "days_since":
                return f"{_SENTINEL.sub('', label).rstrip()}: none in the window"
            return f"{label.replace('{value}', 'age')}: not recorded" if "{value}" in label else f"{label}: not recorded"
        if self.kind == "count":
            n = int(round(value))
            if n == 0:
                return self.absent or f"no {label}"
            return f"1 {self.singular or label}" if n == 1 else f"{n} {label}"
        if self.kind == "flag":
            on = value >= 0.5
            if self.absent:
                return label if on else self.absent
            return f"{label}: {'yes' if on else 'no'}"
        if self.kind == "days_since":
            # labels may name a sentinel, e.g. "last concern record ... (366 = none in the last 12 months)"
            sentinel, wording = None, "none in the window"
            found = _SENTINEL.search(label)
            if found:
                label = label[: found.start()].rstrip()
                sentinel, wording = float(found.group(1)), found.group(2).strip()
            if sentinel is not None and value >= sentinel:
                return f"{label}: {wording}"
            days = round(value)
            return f"{label}: {days} day{'' if days == 1 else 's'} ago"
        shown = f"{value:g}"
        return label.replace("{value}", shown) if "{value}" in label else f"{label}: {shown}"


def band(probability: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """Band each probability: low < thresholds[0] <= medium < thresholds[1] <= high.

    Parameters
    ----------
    probability : ndarray of shape (n,)
    thresholds : (float, float)
        Increasing probability cut points (``settings.early_help_bands``).

    Returns
    -------
    ndarray of shape (n,), str
    """
    low, high = thresholds
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"band thresholds must satisfy 0 <= low < high <= 1, got {thresholds}")
    idx = np.searchsorted(np.asarray([low, high]), np.asarray(probability, dtype=float), side="right")
    return np.asarray(BAND_NAMES, dtype=object)[idx]


# --------------------------------------------------------------------- estimators ----------


class _EarlyHelpBase(ClassifierMixin, BaseEstimator):
    """Shared probability / label methods; subclasses implement decision_function, and
    ``contributions`` where they can explain a score."""

    #: True for models whose ``contributions`` say which features drove a score: only those
    #: may be served, because a caseworker must see why a child is flagged.
    explainable: ClassVar[bool] = False

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities of (no outcome, outcome), shape (n, 2)."""
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels at probability 0.5 (the sklearn contract; the product uses bands, not this)."""
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def _check_binary(self, y: np.ndarray) -> np.ndarray:
        classes = np.unique(y)
        if classes.size != 2:
            raise ValueError(f"early-help labels need both classes 0 and 1, got {classes.tolist()}")
        self.classes_ = classes
        return (y == classes[1]).astype(np.int8)


class LogisticEarlyHelp(_EarlyHelpBase):
    """Regularised logistic regression on kind-aware transformed features.

    The served early-help model: its explanations are exact (see :meth:`contributions`).

    Parameters
    ----------
    C : float
        Inverse regularisation strength (on standardised features).
    l1_ratio : float
        0 for an L2 (ridge) penalty, 1 for L1 (lasso: many of ~100 indicator features get
        exactly zero weight, which also keeps explanations short); in between is elastic net.
    feature_kinds : sequence of str or None
        Kind per column (``"count"`` columns get ``log1p``); None treats all as numeric.
    class_weight : None or "balanced"
        Kept for experiments; None (the default) keeps probabilities honest.
    max_iter : int
    """

    explainable: ClassVar[bool] = True

    def __init__(
        self,
        C: float = 0.01,
        l1_ratio: float = 0.0,
        feature_kinds: tuple[str, ...] | None = None,
        class_weight: str | None = None,
        max_iter: int = 2000,
    ) -> None:
        self.C = C
        self.l1_ratio = l1_ratio
        self.feature_kinds = feature_kinds
        self.class_weight = class_weight
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Self:
        """Learn the transform and the coefficients; X is (n, n_features), y is (n,) 0/1."""
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        target = self._check_binary(y)
        kinds = self.feature_kinds or ("numeric",) * X.shape[1]
        if len(kinds) != X.shape[1]:
            raise ValueError(f"feature_kinds has {len(kinds)} entries for {X.shape[1]} columns")
        self.log_columns_ = np.array([k == "count" for k in kinds]) & (np.nanmin(X, axis=0, initial=0) >= 0)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns fill with 0
            self.fill_ = np.nan_to_num(np.nanmedian(X, axis=0))
        self.indicator_columns_ = np.flatnonzero(np.isnan(X).any(axis=0))
        raw = self._expand(X)
        self.mean_ = raw.mean(axis=0)
        self.scale_ = raw.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        # column of the expanded matrix -> the input feature it came from
        self.source_ = np.concatenate([np.arange(X.shape[1]), self.indicator_columns_])
        solver = "lbfgs" if self.l1_ratio == 0 else ("liblinear" if self.l1_ratio == 1 else "saga")
        self.model_ = LogisticRegression(
            C=self.C, l1_ratio=self.l1_ratio, solver=solver, class_weight=self.class_weight,
            max_iter=self.max_iter,
        ).fit(self._standardise(X), target, sample_weight=sample_weight)
        return self

    def _expand(self, X: np.ndarray) -> np.ndarray:
        missing = np.isnan(X)
        filled = np.where(missing, self.fill_, X)
        filled[:, self.log_columns_] = np.log1p(np.maximum(filled[:, self.log_columns_], 0))
        return np.hstack([filled, missing[:, self.indicator_columns_].astype(np.float64)])

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (self._expand(X) - self.mean_) / self.scale_

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of an outcome, shape (n,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return self.model_.decision_function(self._standardise(X))

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature log-odds contributions relative to the training mean.

        Returns
        -------
        contributions : ndarray of shape (n, n_features)
            ``coef × (t(x) − mean t(x))`` summed over each feature's expanded columns.
        bias : ndarray of shape (n,)
            The log-odds at the training mean; ``bias + contributions.sum(1)`` equals
            :meth:`decision_function`.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        per_column = self._standardise(X) * self.model_.coef_[0]
        out = np.zeros((X.shape[0], self.n_features_in_))
        np.add.at(out.T, self.source_, per_column.T)
        return out, np.full(X.shape[0], float(self.model_.intercept_[0]))


class BoostedEarlyHelp(_EarlyHelpBase):
    """Gradient-boosted trees (``HistGradientBoostingClassifier``): a benchmark, never served.

    It shows what a non-linear model would gain over the logistic one on the same snapshot
    (on the synthetic counties: nothing; positives are too few). It has no ``contributions``:
    path-based explanations need the fitted trees, which ``HistGradientBoostingClassifier``
    keeps only in private attributes, and the boosted models with public trees
    (``GradientBoostingClassifier``) do not take missing values. A model that cannot say why
    a child is flagged is not shown to caseworkers, so training registers only explainable
    models and :class:`EarlyHelpScorer` refuses this one.

    Parameters are passed to ``HistGradientBoostingClassifier``; the defaults are deliberately
    conservative (shallow trees, many samples per leaf, L2) because positives are few.
    Missing values are handled natively by the trees.
    """

    def __init__(
        self,
        learning_rate: float = 0.05,
        max_iter: int = 300,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.15,
        class_weight: str | None = None,
        random_state: int = 0,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Self:
        """Fit the trees; X is (n, n_features) with NaN allowed, y is (n,) 0/1."""
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        target = self._check_binary(y)
        self.model_ = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            scoring="loss",
            n_iter_no_change=20,
            class_weight=self.class_weight,
            random_state=self.random_state,
        ).fit(X, target, sample_weight=sample_weight)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of an outcome, shape (n,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return self.model_.decision_function(X)


# --------------------------------------------------------------------- tuning --------------


Splits = list[tuple[np.ndarray, np.ndarray]]


def grouped_folds(y: np.ndarray, groups: np.ndarray | None, n_folds: int, seed: int) -> Splits:
    """(fit rows, held-out rows) of stratified folds, grouped by household when ``groups`` is given."""
    if groups is None:
        return list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    return list(StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


@dataclass(frozen=True)
class FoldPlan:
    """The folds one training run shares across every model and the calibration step.

    Assigning households to stratified folds is costly at county scale and depends only on the
    outcomes and households of the fold rows, not on the model, so it is done once per run.
    ``model`` holds the folds of the grid search and of the out-of-fold log-odds (seed ``seed``);
    ``calibration`` the folds that score each calibration map on those log-odds (seed ``seed + 1``).
    """

    model: Splits
    calibration: Splits

    @property
    def n_rows(self) -> int:
        return sum(len(held) for _, held in self.model)

    def restricted(self, keep: np.ndarray) -> FoldPlan:
        """The same folds over the rows at positions ``keep`` of this plan, numbered 0 … len(keep) − 1.

        A household stays in the fold it was assigned to, so the folds stay grouped; no new
        assignment is made.
        """
        position = np.full(self.n_rows, -1, dtype=np.int64)
        position[np.asarray(keep)] = np.arange(len(keep))

        def kept(splits: Splits) -> Splits:
            return [(position[fit][position[fit] >= 0], position[held][position[held] >= 0]) for fit, held in splits]

        return FoldPlan(kept(self.model), kept(self.calibration))


def fold_plan(y: np.ndarray, groups: np.ndarray | None, *, n_folds: int = 5, seed: int = 0) -> FoldPlan:
    """The :class:`FoldPlan` for fold rows with outcomes ``y`` and household codes ``groups``."""
    y = np.asarray(y).astype(int)
    return FoldPlan(grouped_folds(y, groups, n_folds, seed), grouped_folds(y, groups, n_folds, seed + 1))


def _check_plan(plan: FoldPlan, n_rows: int) -> FoldPlan:
    if plan.n_rows != n_rows or sum(len(held) for _, held in plan.calibration) != n_rows:
        raise ValueError(f"the fold plan covers {plan.n_rows} rows but {n_rows} were given")
    return plan


def tune(
    estimator: _EarlyHelpBase,
    grid: list[dict],
    X: np.ndarray,
    y: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    n_folds: int = 5,
    random_state: int = 0,
    on_trial: Callable[[], None] | None = None,
    folds: FoldPlan | None = None,
) -> tuple[dict, list[dict]]:
    """Choose hyper-parameters from ``grid`` by out-of-fold log loss on the training rows.

    Log loss is a proper scoring rule: it rewards ranking and honest probabilities together,
    so the choice does not trade calibration for AUC. Folds are grouped by household.

    Parameters
    ----------
    estimator : LogisticEarlyHelp or BoostedEarlyHelp
    grid : list of dict
        Candidate parameter settings (``set_params`` keyword arguments).
    X : ndarray of shape (n, n_features)
    y : ndarray of shape (n,), 0/1
    groups : ndarray of shape (n,) or None
    n_folds, random_state : int
    on_trial : callable or None
        Called after each setting is scored (a progress bar's advance).
    folds : FoldPlan or None
        Folds shared with the other models of a run (:func:`fold_plan`); None: computed here
        from ``groups``, ``n_folds`` and ``random_state``.

    Returns
    -------
    best : dict
        The setting with the lowest out-of-fold log loss.
    report : list of dict
        Every setting with its ``log_loss``, in grid order.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(int)
    if folds is None:
        splits = grouped_folds(y, groups, n_folds, random_state)
    else:
        splits = _check_plan(folds, len(y)).model
    report = []
    for params in grid:
        p = np.empty(len(y))
        for fit_idx, held_idx in splits:
            model = clone(estimator).set_params(**params).fit(X[fit_idx], y[fit_idx])
            p[held_idx] = model.predict_proba(X[held_idx])[:, 1]
        p = np.clip(p, _EPS, 1 - _EPS)
        report.append({**params, "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))})
        if on_trial is not None:
            on_trial()
    best = min(report, key=lambda r: r["log_loss"])
    return {k: v for k, v in best.items() if k != "log_loss"}, report


# --------------------------------------------------------------------- calibration ---------


class _Calibrator:
    """A monotone map from the base model's log-odds to a probability."""

    def __init__(self, method: CalibrationMethod) -> None:
        self.method = method

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Self:
        if self.method == "sigmoid":
            self.model_ = LogisticRegression(C=1e6, max_iter=1000).fit(raw[:, None], y)
        elif self.method == "isotonic":
            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
        return self

    def predict(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "sigmoid":
            p = self.model_.predict_proba(raw[:, None])[:, 1]
        elif self.method == "isotonic":
            p = self.model_.predict(raw)
        else:
            p = expit(raw)
        return np.clip(p, _EPS, 1.0 - _EPS)


class CalibratedEarlyHelp(_EarlyHelpBase):
    """An early-help estimator whose probabilities are calibrated on out-of-fold predictions.

    ``fit`` (1) computes out-of-fold log-odds with ``n_folds`` fits of the base estimator
    (folds grouped by household when ``groups`` is given, so siblings never straddle a fold),
    (2) scores each candidate calibration map by cross-validated Brier score on those held-out
    predictions (ECE reported alongside), (3) fits the chosen map on all out-of-fold
    predictions and (4) refits the base estimator on all rows.

    Parameters
    ----------
    estimator : LogisticEarlyHelp or BoostedEarlyHelp
    method : {"auto", "none", "sigmoid", "isotonic"}
        ``"auto"`` picks the candidate with the lowest held-out Brier score.
    n_folds : int
    random_state : int
    """

    def __init__(self, estimator: _EarlyHelpBase, method: str = "auto", n_folds: int = 5, random_state: int = 0) -> None:
        self.estimator = estimator
        self.method = method
        self.n_folds = n_folds
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray, *, groups: np.ndarray | None = None,
            fold_rows: np.ndarray | None = None, folds: FoldPlan | None = None) -> Self:
        """Fit base model and calibration map.

        Parameters
        ----------
        X : ndarray of shape (n, n_features)
        y : ndarray of shape (n,), 0/1
        groups : ndarray of shape (n,) or None
            Household codes; folds never split a household.
        fold_rows : ndarray of int or None
            The rows whose out-of-fold predictions choose and fit the calibration map (a
            stratified sample when the data are large: a one-dimensional map needs thousands of
            rows, not millions). None: every row. The base estimator is refitted on every row.
        folds : FoldPlan or None
            Folds over the fold rows shared with the other models of a run (:func:`fold_plan`
            with ``n_folds`` and ``random_state``); None: computed here.
        """
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        everyone = self._check_binary(y)
        rows = np.arange(len(everyone)) if fold_rows is None else np.asarray(fold_rows)
        target, fold_X = everyone[rows], X[rows]
        fold_groups = None if groups is None else np.asarray(groups)[rows]
        candidates = CALIBRATION_METHODS if self.method == "auto" else (self.method,)
        if any(c not in CALIBRATION_METHODS for c in candidates):
            raise ValueError(f"method must be 'auto' or one of {CALIBRATION_METHODS}, got {self.method!r}")
        if folds is None:
            folds = fold_plan(target, fold_groups, n_folds=self.n_folds, seed=self.random_state)
        _check_plan(folds, len(target))
        raw = np.empty(len(target))
        for fit_idx, held_idx in folds.model:
            raw[held_idx] = (clone(self.estimator).fit(fold_X[fit_idx], target[fit_idx])
                             .decision_function(fold_X[held_idx]))
        self.calibration_report_ = {}
        for method in candidates:
            p = np.empty(len(target))
            for fit_idx, held_idx in folds.calibration:
                p[held_idx] = _Calibrator(method).fit(raw[fit_idx], target[fit_idx]).predict(raw[held_idx])
            self.calibration_report_[method] = {
                "brier": float(np.mean((p - target) ** 2)),
                "ece": expected_calibration_error(target, p),
            }
        self.calibration_ = min(candidates, key=lambda m: self.calibration_report_[m]["brier"])
        self.calibrator_ = _Calibrator(self.calibration_).fit(raw, target)
        self.estimator_ = clone(self.estimator).fit(X, everyone)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of (no outcome, outcome), shape (n, 2)."""
        check_is_fitted(self)
        p = self.calibrator_.predict(self.estimator_.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Calibrated log-odds, shape (n,)."""
        return logit(self.predict_proba(X)[:, 1])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels at calibrated probability 0.5 (sklearn contract only)."""
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]

    @property
    def explainable(self) -> bool:
        """Whether the base estimator can explain its scores (only then may this be served)."""
        return self.estimator.explainable

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The base model's log-odds contributions (the calibration map is monotone, so the
        direction of every factor is preserved); see the base estimator."""
        check_is_fitted(self)
        if not self.explainable:
            raise NotImplementedError(f"{type(self.estimator).__name__} cannot explain its scores")
        return self.estimator_.contributions(X)


# --------------------------------------------------------------------- explanations --------


@dataclass(frozen=True)
class Factor:
    """One reason behind a score, in words a caseworker can check against the record."""

    feature: str
    text: str
    contribution: float  # log-odds
    direction: Literal["raises", "lowers"]
    needs: tuple[str, ...] = ()  # what an intervention must address to answer this factor
    by_source: str = ""  # the text without the kind of concern (what a family may be shown)

    def __str__(self) -> str:
        return f"{self.text} — {self.direction}"


def top_factors(
    contributions: np.ndarray,
    X: np.ndarray,
    features: tuple[FeatureSpec, ...],
    *,
    top: int = 3,
    raising_only: bool = False,
) -> list[list[Factor]]:
    """The ``top`` largest contributions per row, described in plain English with direction.

    Context features (:attr:`FeatureSpec.is_context`: household composition and age) are
    never factors: family shape is not a reason, and no one should read it as risk. They
    are described, without a direction, by :func:`context_of`. Nor does the absence of a
    record ever raise the indicator (:meth:`FeatureSpec.absent_record`): a caseworker would
    otherwise read "no police notifications ... (raises the indicator)".

    Parameters
    ----------
    contributions : ndarray of shape (n, n_features)
        Log-odds contributions from a model's ``contributions``.
    X : ndarray of shape (n, n_features)
        The feature values (for the words: "3 police ... notifications").
    features : tuple of FeatureSpec, length n_features
    top : int
    raising_only : bool
        Keep only factors that raise the probability (what a flag is "because of").

    Returns
    -------
    list of length n of lists of Factor, largest absolute contribution first.
    """
    if contributions.shape != X.shape or X.shape[1] != len(features):
        raise ValueError(
            f"contributions {contributions.shape}, X {X.shape} and {len(features)} features disagree"
        )
    magnitude = np.where(contributions > 0, contributions, 0 if raising_only else -contributions)
    magnitude[:, [j for j, f in enumerate(features) if f.is_context]] = 0
    # The absence of a record is not a reason for concern: "no police notifications" never raises.
    for j, f in enumerate(features):
        absent = f.absent_record(X[:, j])
        magnitude[absent & (contributions[:, j] > 0), j] = 0
    k = min(top, X.shape[1])
    order = np.argsort(-magnitude, axis=1, kind="stable")[:, :k]
    out: list[list[Factor]] = []
    for i, row in enumerate(order):
        factors = []
        for j in row:
            c = float(contributions[i, j])
            if magnitude[i, j] <= 1e-9:
                continue
            factors.append(
                Factor(features[j].name, features[j].describe(float(X[i, j])), c, "raises" if c > 0 else "lowers",
                       features[j].needs, features[j].describe(float(X[i, j]), by_source=True))
            )
        out.append(factors)
    return out


def context_of(X: np.ndarray, features: tuple[FeatureSpec, ...]) -> list[list[str]]:
    """What the model takes into account about each child's household and age, without a direction.

    Parameters
    ----------
    X : ndarray of shape (n, n_features)
    features : tuple of FeatureSpec, length n_features

    Returns
    -------
    list of length n of lists of str, in the features' order ("aged 7", "4 people in the household").
    """
    columns = [j for j, f in enumerate(features) if f.is_context]
    return [[features[j].describe(float(row[j])) for j in columns] for row in np.asarray(X, dtype=np.float64)]


# --------------------------------------------------------------------- scoring -------------


@dataclass(frozen=True)
class ScoredChildren:
    """Scores for a batch of children: what a caseworker sees, never a decision.

    Attributes
    ----------
    probability : ndarray of shape (n,)
        Calibrated probability of an early-help outcome in the next six months.
    band : ndarray of shape (n,), str
        ``low`` / ``medium`` / ``high``.
    factors : list of length n of lists of Factor
    context : list of length n of lists of str
        Household composition and age as the model took them into account (:func:`context_of`).
    """

    probability: np.ndarray
    band: np.ndarray
    factors: list[list[Factor]] = field(repr=False)
    context: list[list[str]] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class EarlyHelpScorer:
    """A fitted model with its feature descriptions and band thresholds: picklable, pure.

    This is what the registry serves (wrapped in an MLflow pyfunc by ``training``).
    """

    model: _EarlyHelpBase
    features: tuple[FeatureSpec, ...]
    thresholds: tuple[float, float]
    top: int = 3
    #: What each band, a probability and the capacity figures meant in the last evaluation
    #: (None for models trained before it was recorded).
    meaning: IndicatorMeaning | None = None

    def __post_init__(self) -> None:
        check_is_fitted(self.model)
        if not self.model.explainable:
            raise ValueError(
                f"{type(self.model).__name__} cannot explain its scores, and a caseworker must see "
                "why a child is flagged: serve an explainable model (LogisticEarlyHelp)"
            )
        if self.model.n_features_in_ != len(self.features):
            raise ValueError(
                f"model was fitted on {self.model.n_features_in_} features, {len(self.features)} described"
            )
        band(np.zeros(1), self.thresholds)  # validates the thresholds

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def score(self, X: np.ndarray) -> ScoredChildren:
        """Probability, band and top raising factors for each row of X (n, n_features)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"expected X of shape (n, {len(self.features)}), got {X.shape}")
        probability = self.model.predict_proba(X)[:, 1]
        contributions, _ = self.model.contributions(X)
        return ScoredChildren(
            probability=probability,
            band=band(probability, self.thresholds),
            factors=top_factors(contributions, X, self.features, top=self.top, raising_only=True),
            context=context_of(X, self.features),
        )
