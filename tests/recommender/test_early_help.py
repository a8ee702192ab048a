"""The early-help estimators: sklearn contract, calibration choice, exact explanations, bands."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from recommender.early_help import (
    BAND_NAMES,
    BoostedEarlyHelp,
    CalibratedEarlyHelp,
    EarlyHelpScorer,
    FeatureSpec,
    FoldPlan,
    LogisticEarlyHelp,
    band,
    context_of,
    fold_plan,
    top_factors,
    tune,
)
from recommender.early_help_metrics import expected_calibration_error, roc_auc

FEATURES = (
    FeatureSpec("f_police_da", "police domestic-abuse notifications in the last 12 months", "count"),
    FeatureSpec("f_absence", "school absence sessions in the last 12 months", "count"),
    FeatureSpec("f_hh_single_adult", "single-adult household", "flag"),
    FeatureSpec("f_imd", "deprivation score", "numeric"),
    FeatureSpec("f_days_arrears", "days since the last housing-arrears letter", "days_since"),
)
KINDS = tuple(f.kind for f in FEATURES)


def make_children(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Children with known outcome probabilities: X (n, 5), y (n,), true p (n,), household (n,)."""
    rng = np.random.default_rng(seed)
    household = rng.integers(0, n // 2, n)
    X = np.column_stack(
        [
            rng.poisson(0.3, n),
            rng.poisson(2.0, n),
            rng.integers(0, 2, n),
            rng.normal(size=n),
            np.where(rng.random(n) < 0.7, np.nan, rng.integers(1, 365, n)),
        ]
    ).astype(np.float64)
    log_odds = -3.6 + 0.9 * X[:, 0] + 0.25 * X[:, 1] + 0.6 * X[:, 2] * (X[:, 3] > 0)
    log_odds += 0.8 * np.nan_to_num(X[:, 4] < 90)
    p = 1.0 / (1.0 + np.exp(-log_odds))
    return X, (rng.random(n) < p).astype(int), p, household


@pytest.fixture(scope="module")
def children():
    return make_children(6000)


@pytest.fixture(scope="module")
def fitted(children):
    X, y, _, household = children
    return {
        "logistic": CalibratedEarlyHelp(LogisticEarlyHelp(feature_kinds=KINDS)).fit(X, y, groups=household),
        "boosting": CalibratedEarlyHelp(BoostedEarlyHelp(max_iter=100)).fit(X, y, groups=household),
    }


@pytest.mark.parametrize("make", [lambda: LogisticEarlyHelp(feature_kinds=KINDS), lambda: BoostedEarlyHelp(max_iter=30)])
def test_sklearn_contract(make, children) -> None:
    X, y, _, _ = children
    model = make()
    params = model.get_params()
    assert clone(model).get_params() == params
    with pytest.raises(NotFittedError):
        model.decision_function(X)
    assert model.fit(X, y) is model
    assert model.get_params() == params  # fit leaves parameters alone
    proba = model.predict_proba(X[:10])
    assert proba.shape == (10, 2) and np.allclose(proba.sum(1), 1)
    assert set(model.predict(X)) <= {0, 1}
    assert model.n_features_in_ == 5
    with pytest.raises(ValueError):
        model.decision_function(X[:, :4])
    with pytest.raises(ValueError, match="both classes"):
        make().fit(X, np.zeros(len(X)))


def test_contributions_add_up_to_the_base_models_log_odds(fitted, children) -> None:
    X, *_ = children
    model = fitted["logistic"]
    contributions, bias = model.contributions(X[:500])
    assert contributions.shape == (500, 5)
    np.testing.assert_allclose(
        bias + contributions.sum(1), model.estimator_.decision_function(X[:500]), atol=1e-8
    )


def test_only_explainable_models_can_be_served(fitted) -> None:
    assert fitted["logistic"].explainable and not fitted["boosting"].explainable
    with pytest.raises(NotImplementedError, match="cannot explain"):
        fitted["boosting"].contributions(np.zeros((1, 5)))
    with pytest.raises(ValueError, match="cannot explain"):
        EarlyHelpScorer(fitted["boosting"], FEATURES, (0.05, 0.20))


def test_linear_explanation_is_coefficient_times_distance_from_the_mean(children) -> None:
    X, y, _, _ = children
    model = LogisticEarlyHelp().fit(X[:, :4], y)  # no NaN, no log: a plain standardised model
    contributions, _ = model.contributions(X[:20, :4])
    expected = (X[:20, :4] - X[:, :4].mean(0)) / X[:, :4].std(0) * model.model_.coef_[0]
    np.testing.assert_allclose(contributions, expected, atol=1e-10)


@pytest.mark.parametrize("name", ["logistic", "boosting"])
def test_calibrated_models_discriminate_and_are_calibrated_out_of_sample(fitted, name) -> None:
    X, y, p_true, _ = make_children(20000, seed=11)
    p = fitted[name].predict_proba(X)[:, 1]
    assert roc_auc(y, p) > roc_auc(y, p_true) - 0.03
    assert expected_calibration_error(y, p) < 0.02
    assert fitted[name].calibration_ in ("none", "sigmoid", "isotonic")
    report = fitted[name].calibration_report_
    assert report[fitted[name].calibration_]["brier"] == min(r["brier"] for r in report.values())


def test_calibration_repairs_a_deliberately_miscalibrated_base_model(children) -> None:
    # class weights inflate every probability; calibration must pull them back to the base rate
    X, y, _, household = children
    weighted = LogisticEarlyHelp(feature_kinds=KINDS, class_weight="balanced")
    raw = weighted.fit(X, y).predict_proba(X)[:, 1]
    assert raw.mean() > 3 * y.mean()
    calibrated = CalibratedEarlyHelp(weighted, method="auto").fit(X, y, groups=household)
    assert calibrated.calibration_ != "none"
    assert abs(calibrated.predict_proba(X)[:, 1].mean() - y.mean()) < 0.01


def test_unknown_calibration_method_is_refused(children) -> None:
    X, y, _, _ = children
    with pytest.raises(ValueError, match="method"):
        CalibratedEarlyHelp(LogisticEarlyHelp(), method="beta").fit(X, y)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=50),
    st.floats(0.0, 0.5),
    st.floats(0.01, 0.5),
)
def test_bands_are_monotone_in_probability(probabilities, low, width) -> None:
    thresholds = (low, min(low + width, 1.0))
    p = np.sort(np.asarray(probabilities))
    ranks = [BAND_NAMES.index(b) for b in band(p, thresholds)]
    assert ranks == sorted(ranks)
    assert all((b == "high") == (x >= thresholds[1]) for b, x in zip(band(p, thresholds), p, strict=True))
    assert all((b == "low") == (x < thresholds[0]) for b, x in zip(band(p, thresholds), p, strict=True))


def test_band_thresholds_are_validated() -> None:
    with pytest.raises(ValueError):
        band(np.array([0.1]), (0.3, 0.2))


def test_factors_read_like_the_record() -> None:
    X = np.array([[3, 0, 1, 0.5, np.nan]])
    contributions = np.array([[0.9, -0.4, 0.2, 0.0, 0.1]])
    [factors] = top_factors(contributions, X, FEATURES, top=3)
    assert [str(f) for f in factors] == [
        "3 police domestic-abuse notifications in the last 12 months — raises",
        "no school absence sessions in the last 12 months — lowers",
        "single-adult household: yes — raises",
    ]
    [raising] = top_factors(contributions, X, FEATURES, top=5, raising_only=True)
    assert [f.direction for f in raising] == ["raises"] * 2
    # "none in the window" raises the log-odds here, but the absence of a record is never a reason
    assert [f.feature for f in raising] == ["f_police_da", "f_hh_single_adult"]


@settings(max_examples=200, deadline=None)
@given(counts=st.lists(st.integers(0, 3), min_size=5, max_size=5),
       contributions=st.lists(st.floats(-3, 3, allow_nan=False), min_size=5, max_size=5))
def test_no_record_never_raises_the_indicator(counts, contributions) -> None:
    X = np.array([counts], dtype=np.float64)
    X[0, 4] = np.nan if counts[4] == 0 else 366.0 if counts[4] == 1 else 30.0  # days since: none, none, 30
    for raising_only in (True, False):
        [factors] = top_factors(np.array([contributions]), X, FEATURES, top=5, raising_only=raising_only)
        for f in factors:
            if f.direction == "raises":
                assert not f.text.startswith("no ") and "none in the window" not in f.text, f.text


GROUPED = (
    FeatureSpec("f_hh_svc_da", "police notifications about adults in the household concerning domestic abuse "
                "(last 12 months)", "count", "police notification about adults in the household concerning domestic "
                "abuse (last 12 months)", group="concern", needs=("domestic_abuse",), concern="domestic abuse"),
    FeatureSpec("f_hh_single_adult", "one adult (18+) in the household", "flag",
                absent="more than one adult (18+) in the household", group="composition"),
    FeatureSpec("f_hh_members", "people in the household", "count", "person in the household", group="composition"),
    FeatureSpec("f_age", "aged {value}", "numeric", group="composition"),
)


@settings(max_examples=200, deadline=None)
@given(contributions=st.lists(st.floats(-5, 5, allow_nan=False), min_size=4, max_size=4),
       values=st.tuples(st.integers(0, 9), st.integers(0, 1), st.integers(1, 9), st.integers(0, 17)),
       raising_only=st.booleans())
def test_composition_and_age_are_context_never_a_factor(contributions, values, raising_only) -> None:
    """Issue 15: family shape is not a reason. Composition and age never raise or lower the indicator
    on any screen; they are described, without a direction, as context."""
    X = np.array([values], dtype=np.float64)
    [factors] = top_factors(np.array([contributions]), X, GROUPED, top=4, raising_only=raising_only)
    assert {f.feature for f in factors} <= {"f_hh_svc_da"}
    [context] = context_of(X, GROUPED)
    assert context[-1] == f"aged {values[3]}" and len(context) == 3
    assert not [c for c in context if "raise" in c or "lower" in c]
    for f in factors:  # the family's by-source words leave the kind of concern out, nothing else
        assert "domestic abuse" in f.text and "domestic abuse" not in f.by_source
        assert f.by_source == f.text.replace(" concerning domestic abuse", "")


def test_days_since_labels_with_a_sentinel_read_naturally() -> None:
    spec = FeatureSpec(
        "f_days_since_concern",
        "last concern record about the child (366 = none in the last 12 months)",
        "days_since",
    )
    assert spec.describe(366.0) == "last concern record about the child: none in the last 12 months"
    assert spec.describe(12.0) == "last concern record about the child: 12 days ago"
    assert spec.describe(1.0) == "last concern record about the child: 1 day ago"
    assert spec.describe(float("nan")) == "last concern record about the child: none in the window"


def test_counts_flags_and_numbers_read_in_a_caseworkers_words() -> None:
    police = FeatureSpec("f_svc_encompass", "police notifications about the child (Operation Encompass "
                         "notification, last 12 months)", "count",
                         singular="police notification about the child (Operation Encompass notification, "
                         "last 12 months)")
    assert police.describe(1.0) == ("1 police notification about the child (Operation Encompass notification, "
                                    "last 12 months)")
    assert police.describe(3.0).startswith("3 police notifications about the child")
    assert police.describe(0.0).startswith("no police notifications about the child")
    single = FeatureSpec("f_hh_single_adult", "one adult (18+) in the household", "flag",
                         absent="more than one adult (18+) in the household")
    assert single.describe(1.0) == "one adult (18+) in the household"
    assert single.describe(0.0) == "more than one adult (18+) in the household"
    age = FeatureSpec("f_age", "aged {value}", "numeric")
    assert age.describe(7.0) == "aged 7"
    imd = FeatureSpec("f_imd_decile", "deprivation decile of the home area (1 = most deprived)", "numeric")
    assert imd.describe(float("nan")) == "deprivation decile of the home area (1 = most deprived): not recorded"


def test_scorer_is_picklable_and_returns_band_probability_and_reasons(fitted, children) -> None:
    X, *_ = children
    scorer = EarlyHelpScorer(fitted["logistic"], FEATURES, (0.05, 0.20))
    again = pickle.loads(pickle.dumps(scorer))
    scored = again.score(X[:200])
    np.testing.assert_allclose(scored.probability, fitted["logistic"].predict_proba(X[:200])[:, 1])
    assert list(scored.band) == list(band(scored.probability, (0.05, 0.20)))
    assert len(scored.factors) == 200
    assert all(f.direction == "raises" for row in scored.factors for f in row)
    high = np.flatnonzero(scored.band == "high")
    assert high.size and all(scored.factors[i] for i in high)  # every flag comes with reasons
    with pytest.raises(ValueError, match="shape"):
        again.score(X[:3, :2])
    with pytest.raises(ValueError, match="features"):
        EarlyHelpScorer(fitted["logistic"], FEATURES[:2], (0.05, 0.2))


def test_a_shared_fold_plan_gives_the_same_model_as_folds_computed_inside(children) -> None:
    X, y, _, household = children
    plan = fold_plan(y, household, n_folds=5, seed=0)
    # households never straddle a fold, and each row is held out exactly once
    for folds in (plan.model, plan.calibration):
        held = np.concatenate([h for _, h in folds])
        assert np.array_equal(np.sort(held), np.arange(len(y)))
        for fit_idx, held_idx in folds:
            assert not set(household[fit_idx]) & set(household[held_idx])
    for base in (LogisticEarlyHelp(feature_kinds=KINDS), BoostedEarlyHelp(max_iter=30)):
        inside = CalibratedEarlyHelp(clone(base)).fit(X, y, groups=household)
        shared = CalibratedEarlyHelp(clone(base)).fit(X, y, groups=household, folds=plan)
        assert shared.calibration_report_ == inside.calibration_report_
        np.testing.assert_array_equal(shared.predict_proba(X), inside.predict_proba(X))
    grid = [{"C": 0.01}, {"C": 0.1}]
    base = LogisticEarlyHelp(feature_kinds=KINDS)
    assert tune(base, grid, X, y, groups=household, folds=plan) == tune(base, grid, X, y, groups=household)


def test_a_fold_plan_for_other_rows_is_refused(children) -> None:
    X, y, _, household = children
    plan = fold_plan(y[:100], household[:100])
    assert isinstance(plan, FoldPlan)
    with pytest.raises(ValueError, match="fold plan covers 100 rows"):
        CalibratedEarlyHelp(LogisticEarlyHelp(feature_kinds=KINDS)).fit(X, y, groups=household, folds=plan)


@given(st.data())
@settings(max_examples=40, deadline=None)
def test_a_restricted_fold_plan_keeps_each_kept_row_in_its_fold(data) -> None:
    n = data.draw(st.integers(20, 120))
    household = np.array(data.draw(st.lists(st.integers(0, n // 3), min_size=n, max_size=n)))
    plan = FoldPlan([(np.setdiff1d(np.arange(n), np.flatnonzero(household % 4 == f)), np.flatnonzero(household % 4 == f))
                     for f in range(4)], [(np.arange(n)[: n // 2], np.arange(n)[n // 2:])])
    keep = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n))), dtype=np.int64)
    small = plan.restricted(keep)
    assert small.n_rows == len(keep)
    for whole, part in ((plan.model, small.model), (plan.calibration, small.calibration)):
        for (fit, held), (fit_small, held_small) in zip(whole, part, strict=True):
            # the kept rows of each fold, renumbered in order; no new assignment
            assert np.array_equal(keep[held_small], np.intersect1d(held, keep))
            assert np.array_equal(keep[fit_small], np.intersect1d(fit, keep))
