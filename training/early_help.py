"""`signpost train | promote | evaluate early-help`: fit, evaluate, register and gate the model.

Temporal by construction: candidates are fitted on ``early_help_train`` (snapshot
as_of − 12 months; labels from the following 6 months), calibration and model choice are
decided on out-of-fold predictions of that same snapshot, and every reported figure comes from
``early_help_valid`` (snapshot as_of − 6 months), which no choice has looked at.

Consent is checked again here: every child in a table must be allowed as of its snapshot
(household objections folded in, exactly as ``features.consent`` rules); a violation stops
training. Children whose household has objected *since* the snapshot are dropped now and
counted, because an objection stops processing from the moment it is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.models import infer_signature

import mlflow
from features.consent import consent_as_of, early_help_allowed
from features.early_help import DEFAULT_GROUPS, OPT_IN_GROUPS
from recommender import early_help_metrics as ehm
from recommender.early_help import (
    BAND_NAMES,
    BoostedEarlyHelp,
    CalibratedEarlyHelp,
    EarlyHelpScorer,
    FeatureSpec,
    FoldPlan,
    LogisticEarlyHelp,
    band,
    fold_plan,
    tune,
)
from recommender.early_help_meaning import IndicatorMeaning, indicator_meaning
from recommender.selection import stratified_sample
from signpost.errors import UserError
from signpost.progress import console, make_progress
from signpost.settings import Settings
from training import tracking
from training.early_help_fairness import GroupReport, by_group
from training.early_help_pyfunc import EarlyHelpPyfunc, input_example, score_frame
from training.early_help_report import (
    PRECISION_BAR_2020,
    group_bars_figure,
    group_calibration_figure,
    model_card,
    pr_figure,
    reliability_figure,
    roc_figure,
    transparency_markdown,
    transparency_record,
)
from training.portable_pyfunc import log_portable_pyfunc

EXPERIMENT = "signpost-early-help"
MODEL_KINDS = ("logistic", "boosting")
#: Folds of the grid search and of the calibration step.
N_FOLDS = 5
LABEL_MONTHS = 6
TABLES = {"train": "early_help_train.parquet", "valid": "early_help_valid.parquet",
          "score": "early_help_score.parquet"}


# --------------------------------------------------------------------------- data ----------


@dataclass(frozen=True)
class EarlyHelpTable:
    """One early-help snapshot as arrays, with the group columns kept for fairness."""

    frame: pd.DataFrame  # pseudonym, household, snapshot_date, group columns (no features)
    X: np.ndarray  # (n, n_features) float64
    y: np.ndarray | None  # (n,) int, None for the score table
    household: np.ndarray  # (n,) int codes; children without a household get their own code
    snapshot: date
    excluded_for_objection: int = 0


def load_features(processed: Path) -> tuple[FeatureSpec, ...]:
    """Feature descriptions from ``early_help_features.json``."""
    path = Path(processed) / "early_help_features.json"
    if not path.is_file():
        raise UserError(f"{path} is missing: rebuild the processed folder with `signpost features`")
    return FeatureSpec.from_records(json.loads(path.read_text()))


def _people(processed: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    citizens = pd.read_parquet(
        Path(processed) / "citizens.parquet", columns=["pseudonym", "household", "consent_early_intervention"]
    )
    consents = pd.read_parquet(Path(processed) / "consents.parquet")
    return citizens, consents


def allowed_as_of(citizens: pd.DataFrame, consents: pd.DataFrame, day: date, settings: Settings) -> pd.Series:
    """Per child pseudonym: early intervention allowed on ``day`` (household objections folded in)."""
    records = consents.rename(columns={"pseudonym": "person"})
    recorded = pd.to_datetime(records["recorded_at"])
    if recorded.dt.tz is not None:  # consent_as_of compares naive UK local times
        recorded = recorded.dt.tz_convert("Europe/London").dt.tz_localize(None)
    records = records.assign(recorded_at=recorded)
    state = consent_as_of(records, as_of=day, defaults=settings.consent_defaults, people=citizens["pseudonym"])
    household = citizens.set_index("pseudonym")["household"]
    return early_help_allowed(state["early_intervention"], household)


def model_features(features: tuple[FeatureSpec, ...], opt_in: tuple[str, ...] | list[str]) -> tuple[FeatureSpec, ...]:
    """The features a model may use: concern indicators, composition and age, plus opt-ins.

    Asking for help is never a risk factor unless the council says so: every other group
    (``features.early_help.OPT_IN_GROUPS``) stays out unless ``opt_in`` names it.
    """
    unknown = sorted(set(opt_in) - set(OPT_IN_GROUPS))
    if unknown:
        raise UserError(f"unknown early-help opt-in feature group(s) {unknown}: choose from {', '.join(OPT_IN_GROUPS)}")
    ungrouped = [f.name for f in features if not f.group]
    if ungrouped:
        raise UserError(f"early_help_features.json names no group for {ungrouped[:3]}: rebuild the processed "
                        "folder with `signpost features`")
    allowed = set(DEFAULT_GROUPS) | set(opt_in)
    return tuple(f for f in features if f.group in allowed)


def load_table(processed: Path, which: str, features: tuple[FeatureSpec, ...], *, settings: Settings,
               as_of: date) -> EarlyHelpTable:
    """Read one early-help table, re-check consent and split it into arrays."""
    path = Path(processed) / TABLES[which]
    if not path.is_file():
        raise UserError(f"{path} is missing: rebuild the processed folder with `signpost features`")
    frame = pd.read_parquet(path)
    names = [f.name for f in features]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise UserError(f"{path.name} lacks feature columns {missing[:5]}: rebuild the processed folder")
    if frame.empty:
        raise UserError(f"{path.name} has no children: the extract has no children old enough or no events")
    snapshot = pd.Timestamp(frame["snapshot_date"].iloc[0]).date()

    citizens, consents = _people(processed)
    at_snapshot = allowed_as_of(citizens, consents, snapshot, settings)
    violating = int((~frame["pseudonym"].map(at_snapshot).fillna(False).astype(bool)).sum())
    if violating:
        raise UserError(
            f"{path.name} holds {violating} children whose household had objected to early "
            f"intervention (or who are unknown) on {snapshot}: rebuild the processed folder "
            "with `signpost features` before training"
        )
    now = allowed_as_of(citizens, consents, as_of, settings) if as_of != snapshot else at_snapshot
    keep = frame["pseudonym"].map(now).fillna(False).astype(bool).to_numpy()
    frame = frame.loc[keep].reset_index(drop=True)

    household = frame["household"].astype("string").fillna("solo:" + frame["pseudonym"])
    return EarlyHelpTable(
        frame=frame[[c for c in frame.columns if not c.startswith("f_") and c != "label"]],
        X=frame[names].to_numpy(dtype=np.float64, na_value=np.nan),
        y=frame["label"].to_numpy(dtype=int) if "label" in frame.columns else None,
        household=pd.factorize(household)[0],
        snapshot=snapshot,
        excluded_for_objection=int((~keep).sum()),
    )


# --------------------------------------------------------------------------- models --------


#: Hyper-parameter grids, searched by grouped out-of-fold log loss on the training snapshot.
#: Few positives (hundreds) favour strong regularisation: small C, shallow trees, big leaves.
GRIDS: dict[str, list[dict]] = {
    "logistic": [{"C": c, "l1_ratio": 0.0} for c in (0.001, 0.003, 0.01, 0.03)]
    + [{"C": c, "l1_ratio": 1.0} for c in (0.03, 0.1)],
    "boosting": [
        {"learning_rate": 0.05, "max_leaf_nodes": 7, "min_samples_leaf": 80},
        {"learning_rate": 0.1, "max_leaf_nodes": 4, "min_samples_leaf": 100},
    ],
}


def base_estimator(kind: str, features: tuple[FeatureSpec, ...], *,
                   seed: int = 0) -> LogisticEarlyHelp | BoostedEarlyHelp:
    """The unfitted base model of one kind."""
    if kind == "logistic":
        return LogisticEarlyHelp(feature_kinds=tuple(f.kind for f in features))
    if kind == "boosting":
        return BoostedEarlyHelp(random_state=seed)
    raise UserError(f"unknown early-help model {kind!r}: choose from {', '.join(MODEL_KINDS)}")


def search_rows(table: EarlyHelpTable, size: int, *, seed: int = 0) -> np.ndarray:
    """Rows of a stratified sample (outcome × local authority) for the search and the folds.

    Every row when the table holds ``size`` children or fewer. Stratifying by outcome keeps the
    few positives' share exact, so the out-of-fold log loss ranks settings as on everyone.
    """
    strata = table.y.astype(np.int64)
    if "local_authority" in table.frame.columns:
        strata = strata * 1_000 + pd.factorize(table.frame["local_authority"])[0]
    return stratified_sample(strata, size, seed=seed)


def shared_folds(table: EarlyHelpTable, rows: np.ndarray, *, seed: int = 0) -> FoldPlan:
    """Household-grouped stratified folds over ``rows``, computed once and shared by every model."""
    return fold_plan(table.y[rows], table.household[rows], n_folds=N_FOLDS, seed=seed)


def sample_table(table: EarlyHelpTable, rows: np.ndarray) -> EarlyHelpTable:
    """The children ``rows`` of a labelled table, in that order."""
    return replace(table, frame=table.frame.iloc[rows].reset_index(drop=True), X=table.X[rows],
                   y=table.y[rows], household=table.household[rows])


def benchmark_rows(train_table: EarlyHelpTable, rows: np.ndarray, settings: Settings, *,
                   seed: int = 0) -> np.ndarray | None:
    """Positions in the search sample ``rows`` the benchmark models (those that cannot explain
    their scores) are fitted on at county scale, or None when they are fitted on every child."""
    if len(train_table.y) <= settings.early_help_benchmark_max_children:
        return None
    return search_rows(sample_table(train_table, rows), settings.early_help_benchmark_sample, seed=seed)


def benchmark_fitted_on(train_table: EarlyHelpTable, rows: np.ndarray, bench: np.ndarray | None) -> str:
    """Which children the benchmark models are fitted on, in words (logged and in the model card)."""
    if bench is None:
        return f"every child ({len(train_table.y):,})"
    if len(bench) == len(rows):
        return f"the search sample ({len(rows):,} children)"
    return f"a stratified sample of {len(bench):,} children from the search sample"


def fit_candidate(kind: str, table: EarlyHelpTable, features: tuple[FeatureSpec, ...], *,
                  seed: int = 0, rows: np.ndarray | None = None,
                  on_step: Callable[[], None] | None = None,
                  folds: FoldPlan | None = None) -> tuple[CalibratedEarlyHelp, list[dict]]:
    """Tune, fit and calibrate one kind of model on a labelled table; returns the tuning report.

    ``rows`` (default: every row) are the children the grid search and the calibration folds
    run on; the winner is refitted on every child. ``on_step`` is called after each grid
    setting and once more when the model is calibrated and refitted. ``folds`` (from
    :func:`shared_folds`) are the run's folds over ``rows``, shared by every kind of model;
    None: computed here, the same folds.
    """
    rows = np.arange(len(table.y)) if rows is None else rows
    folds = shared_folds(table, rows, seed=seed) if folds is None else folds
    base = base_estimator(kind, features, seed=seed)
    best, report = tune(base, GRIDS[kind], table.X[rows], table.y[rows], groups=table.household[rows],
                        random_state=seed, on_trial=on_step, folds=folds)
    model = CalibratedEarlyHelp(base.set_params(**best), method="auto", n_folds=N_FOLDS, random_state=seed)
    model.fit(table.X, table.y, groups=table.household, fold_rows=rows, folds=folds)
    if on_step is not None:
        on_step()
    return model, report


@dataclass
class Evaluation:
    """A model's figures on one labelled table."""

    metrics: dict[str, float]
    groups: GroupReport
    probability: np.ndarray
    flagged: np.ndarray


def capacity(settings: Settings) -> int:
    """Children caseworkers can review over the 6-month label window."""
    return ehm.capacity_for_window(settings.caseworker_capacity_per_month, LABEL_MONTHS)


def evaluate(model: CalibratedEarlyHelp, table: EarlyHelpTable, settings: Settings, *,
             n_resamples: int = 500) -> Evaluation:
    """Discrimination, calibration, capacity and per-group figures on a labelled table."""
    probability = model.predict_proba(table.X)[:, 1]
    n = capacity(settings)
    metrics = ehm.summary(table.y, probability, capacity=n, groups=table.household, n_resamples=n_resamples)
    flagged = ehm.top_n(probability, n)
    groups = by_group(table.frame, table.y, probability, flagged,
                      min_positives=settings.early_help_min_group_outcomes,
                      confidence=settings.early_help_gap_confidence)
    gated = tuple(settings.early_help_gated_attributes)
    for metric in ("tpr", "fpr"):
        # gated attributes: the point estimate and the part beyond sampling noise (what the gate reads)
        metrics[f"max_{metric}_gap"] = groups.max_gap(metric, gated)
        metrics[f"max_{metric}_gap_beyond_noise"] = groups.max_gap(metric, gated, beyond_noise=True)
        for row in groups.gaps.itertuples():
            value = getattr(row, f"{metric}_gap")
            if np.isfinite(value):
                metrics[f"{metric}_gap.{row.attribute}"] = float(value)
    return Evaluation(metrics, groups, probability, flagged)


# --------------------------------------------------------------------------- train ---------


@dataclass
class Candidate:
    kind: str
    model: CalibratedEarlyHelp
    evaluation: Evaluation
    run_id: str

    @property
    def oof_brier(self) -> float:
        return self.model.calibration_report_[self.model.calibration_]["brier"]


@dataclass
class TrainResult:
    """What `signpost train early-help` reports."""

    run_id: str
    version: str
    chosen: str
    candidates: list[Candidate] = field(repr=False)

    def table(self) -> pd.DataFrame:
        """One column per candidate, one row per figure (evaluation snapshot unless marked)."""
        columns = {}
        for c in self.candidates:
            m = c.evaluation.metrics

            def ci(name: str, m: dict = m) -> str:
                return str(ehm.Estimate(m[name], m[f"{name}_low"], m[f"{name}_high"]))

            label = c.kind + (" (chosen)" if c.kind == self.chosen else "")
            columns[label] = {
                "calibration": c.model.calibration_,
                "Brier, training out-of-fold": f"{c.oof_brier:.4f}",
                "ROC AUC [95% CI]": ci("roc_auc"),
                "PR AUC [95% CI]": ci("pr_auc"),
                "Brier": f"{m['brier']:.4f}",
                "ECE": f"{m['ece']:.4f}",
                f"precision at capacity (N={int(m['capacity'])})": f"{m['precision_at_capacity']:.3f}",
                "recall at capacity": f"{m['recall_at_capacity']:.3f}",
                "largest TPR gap (beyond noise)": f"{m['max_tpr_gap']:.3f} ({m['max_tpr_gap_beyond_noise']:.3f})",
                "largest FPR gap (beyond noise)": f"{m['max_fpr_gap']:.3f} ({m['max_fpr_gap_beyond_noise']:.3f})",
            }
        return pd.DataFrame(columns).rename_axis("figure").reset_index()


def train(processed: Path, settings: Settings, *, kinds: tuple[str, ...] = MODEL_KINDS,
          n_resamples: int = 500, seed: int = 0) -> TrainResult:
    """Fit every candidate, evaluate on the later snapshot, register the best as challenger."""
    processed = Path(processed)
    manifest = tracking.read_manifest(processed)
    as_of = date.fromisoformat(str(manifest["as_of"]))
    features = model_features(load_features(processed), settings.early_help_opt_in_features)
    if not any(base_estimator(kind, features).explainable for kind in kinds):
        raise UserError(f"none of {', '.join(kinds)} can explain its scores, so none could be served: "
                        "include logistic (boosting is trained only as a benchmark)")
    train_table = load_table(processed, "train", features, settings=settings, as_of=as_of)
    valid_table = load_table(processed, "valid", features, settings=settings, as_of=as_of)
    for name, table in (("training", train_table), ("evaluation", valid_table)):
        if len(np.unique(table.y)) < 2:
            raise UserError(f"the {name} snapshot has no children with an outcome (or none without): "
                            "use a larger county or a window with outcomes")

    tracking.use_experiment(EXPERIMENT, settings)
    candidates: list[Candidate] = []
    with mlflow.start_run(run_name="early-help") as parent:
        data_tags = tracking.data_tags(processed)
        mlflow.set_tags({**data_tags, "signpost.model": "early-help"})
        mlflow.log_params(_data_params(train_table, valid_table, features, settings))
        rows = search_rows(train_table, settings.early_help_search_sample, seed=seed)
        mlflow.log_param("search_rows", len(rows))
        folds = shared_folds(train_table, rows, seed=seed)
        bench = benchmark_rows(train_table, rows, settings, seed=seed)
        benchmark_on = benchmark_fitted_on(train_table, rows, bench)
        mlflow.log_param("benchmark_fitted_on", benchmark_on)
        with make_progress() as progress:
            for kind in kinds:
                benchmark = not base_estimator(kind, features).explainable
                # the benchmark is never served: at county scale it is fitted on a sample of the
                # search sample, in the run's own folds
                table, fit_rows, fit_folds = ((sample_table(train_table, rows[bench]), np.arange(len(bench)),
                                               folds.restricted(bench))
                                              if benchmark and bench is not None else (train_table, rows, folds))
                task = progress.add_task(f"early help: search {kind} on {len(fit_rows):,} children, refit on "
                                         f"{len(table.y):,}", total=len(GRIDS[kind]) + 2)
                with mlflow.start_run(run_name=kind, nested=True) as child:
                    if benchmark:
                        mlflow.log_param("fitted_on", benchmark_on)
                    model, tuning = fit_candidate(kind, table, features, seed=seed, rows=fit_rows,
                                                  on_step=lambda t=task: progress.advance(t), folds=fit_folds)
                    tracking.log_frame(pd.DataFrame(tuning), "tables/tuning.csv")
                    evaluation = evaluate(model, valid_table, settings, n_resamples=n_resamples)
                    _log_candidate(kind, model, evaluation, valid_table)
                    candidates.append(Candidate(kind, model, evaluation, child.info.run_id))
                progress.advance(task)
        # chosen on the training snapshot only (out-of-fold Brier), so the evaluation stays honest;
        # among the models that can explain their scores, since a caseworker sees the reasons
        best = min((c for c in candidates if c.model.explainable), key=lambda c: c.oof_brier)
        mlflow.set_tags({"signpost.chosen_model": best.kind,
                         "fairness.gated_attributes": ",".join(settings.early_help_gated_attributes),
                         "fairness.worst_tpr_gap": best.evaluation.groups.worst(
                             "tpr", tuple(settings.early_help_gated_attributes)),
                         "fairness.worst_fpr_gap": best.evaluation.groups.worst(
                             "fpr", tuple(settings.early_help_gated_attributes))})
        _log_candidate(best.kind, best.model, best.evaluation, valid_table)
        version = _register(best, features, train_table, valid_table, manifest, data_tags, settings,
                            parent.info.run_id, benchmark_on=benchmark_on)
    return TrainResult(parent.info.run_id, str(version.version), best.kind, candidates)


def _data_params(train_table: EarlyHelpTable, valid_table: EarlyHelpTable,
                 features: tuple[FeatureSpec, ...], settings: Settings) -> dict[str, object]:
    return {
        "train_snapshot": train_table.snapshot.isoformat(),
        "valid_snapshot": valid_table.snapshot.isoformat(),
        "train_rows": len(train_table.X),
        "train_positives": int(train_table.y.sum()),
        "valid_rows": len(valid_table.X),
        "valid_positives": int(valid_table.y.sum()),
        "excluded_for_objection_since_snapshot": train_table.excluded_for_objection
        + valid_table.excluded_for_objection,
        "n_features": len(features),
        "feature_groups": ",".join(sorted({f.group for f in features})),
        "opt_in_feature_groups": ",".join(settings.early_help_opt_in_features) or "none",
        "capacity": capacity(settings),
        "bands": json.dumps(list(settings.early_help_bands)),
        "min_group_outcomes": settings.early_help_min_group_outcomes,
    }


def _log_candidate(kind: str, model: CalibratedEarlyHelp, evaluation: Evaluation,
                   valid_table: EarlyHelpTable) -> None:
    mlflow.log_params({"model": kind, "calibration": model.calibration_,
                       **{f"base.{k}": v for k, v in model.estimator.get_params().items()
                          if isinstance(v, (int, float, str, type(None)))}})
    mlflow.log_metrics({k: float(v) for k, v in evaluation.metrics.items() if np.isfinite(v)})
    mlflow.log_metrics({f"oof_{method}_{name}": value
                        for method, scores in model.calibration_report_.items()
                        for name, value in scores.items()})
    tracking.log_frame(evaluation.groups.per_group, "tables/per_group.csv")
    tracking.log_frame(evaluation.groups.gaps, "tables/group_gaps.csv")
    y = valid_table.y
    raw = model.estimator_.predict_proba(valid_table.X)[:, 1]
    curves = ({f"{kind} (no recalibration chosen)": evaluation.probability} if model.calibration_ == "none"
              else {f"{kind}, {model.calibration_} calibration": evaluation.probability,
                    f"{kind} before calibration": raw})
    tracking.log_figure(reliability_figure(y, curves), "reliability")
    tracking.log_figure(roc_figure(y, {kind: evaluation.probability}), "roc")
    tracking.log_figure(pr_figure(y, {kind: evaluation.probability}, int(evaluation.metrics["capacity"])), "pr")
    for attribute in evaluation.groups.per_group["attribute"].unique():
        tracking.log_figure(group_bars_figure(evaluation.groups.per_group, attribute), f"groups_{attribute}")
        tracking.log_figure(group_calibration_figure(evaluation.groups.per_group, attribute),
                            f"groups_calibration_{attribute}")


def _register(best: Candidate, features: tuple[FeatureSpec, ...], train_table: EarlyHelpTable,
              valid_table: EarlyHelpTable, manifest: dict, data_tags: dict[str, str], settings: Settings,
              run_id: str, *, benchmark_on: str):
    meaning = meaning_of(best.evaluation, valid_table, settings)
    scorer = EarlyHelpScorer(best.model, features, tuple(settings.early_help_bands), meaning=meaning)
    names = scorer.feature_names
    # quantiles over the training table: aggregate, synthetic-looking rows, no real child
    example = input_example(pd.DataFrame(train_table.X, columns=names), names)
    signature = infer_signature(example, score_frame(scorer, example))
    info = log_portable_pyfunc(EarlyHelpPyfunc(scorer), signature=signature, input_example=example)
    facts = {
        "model_name": settings.early_help_model_name,
        "kind": best.kind,
        "selection": "hyper-parameters by grouped out-of-fold log loss; model by the lowest "
        "out-of-fold Brier score among those that explain their scores, of " + ", ".join(MODEL_KINDS),
        "calibration": best.model.calibration_,
        "benchmark_fitted_on": benchmark_on,
        "bands": tuple(settings.early_help_bands),
        "train_snapshot": train_table.snapshot.isoformat(),
        "valid_snapshot": valid_table.snapshot.isoformat(),
        "as_of": str(manifest.get("as_of")),
        "manifest_sha256": data_tags["data.manifest_sha256"],
        "consent_snapshot_id": str(manifest.get("consent_snapshot_id", "")),
        "pseudonym_key_id": str(manifest.get("pseudonym_key_id", "")),
        "excluded_at_training": train_table.excluded_for_objection + valid_table.excluded_for_objection,
        "train_rows": len(train_table.X), "train_positives": int(train_table.y.sum()),
        "valid_rows": len(valid_table.X), "valid_positives": int(valid_table.y.sum()),
        "min_group_positives": settings.early_help_min_group_outcomes,
        "max_tpr_gap": settings.max_tpr_gap, "max_fpr_gap": settings.max_fpr_gap,
        "gated_attributes": tuple(settings.early_help_gated_attributes),
        "gap_confidence": settings.early_help_gap_confidence,
        "code_version": tracking.code_version(), "run_id": run_id,
        "n_features": len(features),
        "feature_groups": sorted({f.group for f in features}),
        "opt_in_groups": list(settings.early_help_opt_in_features),
        "sources": [s for s, purposes in settings.sharing_policy.items() if "early_intervention" in purposes],
    }
    metrics, groups = best.evaluation.metrics, best.evaluation.groups
    card = model_card(facts, metrics, groups.gaps, groups.per_group, meaning)
    record = transparency_record(facts, metrics, groups.gaps, meaning)
    mlflow.log_dict(meaning.as_dict(), "indicator_meaning.json")
    mlflow.log_text(card, "model_card.md")
    mlflow.log_dict(record, "transparency_record.json")
    mlflow.log_text(transparency_markdown(record), "transparency_record.md")
    version = tracking.register(
        info.model_uri, settings.early_help_model_name,
        tags={"model": best.kind, "calibration": best.model.calibration_,
              "model_card": "model_card.md", "transparency_record": "transparency_record.json",
              "consent_snapshot_id": facts["consent_snapshot_id"]},
    )
    tracking.client().update_model_version(settings.early_help_model_name, version.version, description=card)
    return version


def meaning_of(evaluation: Evaluation, table: EarlyHelpTable, settings: Settings) -> IndicatorMeaning:
    """What the bands, probabilities and capacity figures meant on the evaluation snapshot."""
    thresholds = tuple(settings.early_help_bands)
    return indicator_meaning(
        table.y, evaluation.probability, band(evaluation.probability, thresholds), thresholds=thresholds,
        band_names=BAND_NAMES, capacity=capacity(settings), evaluated_on=table.snapshot.isoformat(),
        label_months=LABEL_MONTHS,
    )


# --------------------------------------------------------------------------- promote -------


@dataclass
class PromotionDecision:
    """The gate's verdict: every check, and the reasons it failed."""

    version: str
    promoted: bool
    forced: bool
    champion_before: str | None
    checks: list[str]
    reasons: list[str]


def gate(challenger: dict[str, float], champion: dict[str, float] | None, settings: Settings,
         where: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(checks passed, reasons refused) comparing a challenger's metrics with the champion's.

    ``where`` names the groups behind the largest gaps (run tags ``fairness.worst_*_gap``).
    """
    where = where or {}
    checks, reasons = [], []

    def check(ok: bool, passed: str, failed: str) -> None:
        (checks if ok else reasons).append(passed if ok else failed)

    needed = ("roc_auc", "ece", "max_tpr_gap_beyond_noise", "max_fpr_gap_beyond_noise")
    absent = [k for k in needed if k not in challenger]
    if absent:
        return checks, [f"the challenger's run lacks metrics {absent}: retrain with `signpost train early-help`"]
    auc, ece = challenger["roc_auc"], challenger["ece"]
    if champion is None:
        checks.append("no champion yet: AUC and calibration are not compared")
    else:
        margin = settings.early_help_auc_margin
        check(auc >= champion["roc_auc"] - margin,
              f"ROC AUC {auc:.3f} is not worse than the champion's {champion['roc_auc']:.3f} (margin {margin})",
              f"ROC AUC {auc:.3f} is worse than the champion's {champion['roc_auc']:.3f} (margin {margin})")
        margin = settings.early_help_ece_margin
        check(ece <= champion["ece"] + margin,
              f"ECE {ece:.4f} is not worse than the champion's {champion['ece']:.4f} (margin {margin})",
              f"ECE {ece:.4f} is worse than the champion's {champion['ece']:.4f} (margin {margin})")
    for metric, limit in (("tpr", settings.max_tpr_gap), ("fpr", settings.max_fpr_gap)):
        gap, beyond = challenger.get(f"max_{metric}_gap", float("nan")), challenger[f"max_{metric}_gap_beyond_noise"]
        stated = f"largest per-group {metric.upper()} gap {gap:.3f}, {beyond:.3f} beyond sampling noise"
        check(beyond <= limit, f"{stated}: within the limit {limit}",
              f"{stated}: over the limit {limit}" + (f" ({where[metric]})" if metric in where else ""))
    return checks, reasons


def promote(settings: Settings, *, force: bool = False, version: str | None = None) -> PromotionDecision:
    """Move ``champion`` to the challenger (or ``version``) if it passes every gate, or if forced."""
    tracking.configure(settings)
    name = settings.early_help_model_name
    client = tracking.client()
    if version is None:
        challenger = tracking.challenger_version(name)
        if challenger is None:
            raise UserError(f"no {name} challenger: train one with `signpost train early-help --processed DIR`")
    else:
        challenger = client.get_model_version(name, str(version))
    champion = tracking.champion_version(name)
    if champion is not None and str(champion.version) == str(challenger.version):
        return PromotionDecision(str(challenger.version), False, False, str(champion.version), [],
                                 [f"version {challenger.version} is already the champion"])
    tags = client.get_run(challenger.run_id).data.tags if challenger.run_id else {}
    where = {m: tags[f"fairness.worst_{m}_gap"] for m in ("tpr", "fpr") if f"fairness.worst_{m}_gap" in tags}
    checks, reasons = gate(tracking.run_metrics(challenger),
                           tracking.run_metrics(champion) if champion is not None else None, settings, where)
    artifacts = {a.path for a in client.list_artifacts(challenger.run_id)} if challenger.run_id else set()
    for document in ("model_card.md", "transparency_record.json", "transparency_record.md"):
        if document not in artifacts:
            reasons.append(f"version {challenger.version} has no {document}: retrain it")
    before = str(champion.version) if champion is not None else None
    if reasons and not force:
        return PromotionDecision(str(challenger.version), False, False, before, checks, reasons)
    reason = "; ".join(checks) if not reasons else "forced over: " + "; ".join(reasons)
    tracking.set_alias(name, challenger.version, tracking.CHAMPION, reason=reason, forced=bool(reasons))
    return PromotionDecision(str(challenger.version), True, bool(reasons), before, checks, reasons)


# --------------------------------------------------------------------------- truth ---------


def compare_with_truth(truth: Path, processed: Path, settings: Settings, *, alias: str | None = None,
                       key: bytes | None = None) -> pd.DataFrame:
    """Model vs Bayes-optimal (true probabilities) vs the 2020 bar on the evaluation snapshot.

    Returns a table with rows ROC AUC, ECE, precision at capacity, recall at capacity, Brier
    and columns ``model``, ``bayes_optimal``, ``bar_2020``.
    """
    processed = Path(processed)
    manifest = tracking.read_manifest(processed)
    as_of = date.fromisoformat(str(manifest["as_of"]))
    path = truth_path(truth)
    tracking.configure(settings)
    name = settings.early_help_model_name
    chosen = (tracking.version_by_alias(name, alias) if alias else
              tracking.champion_version(name) or tracking.challenger_version(name))
    if chosen is None:
        raise UserError(f"no {name} model{' with alias ' + alias if alias else ''}: run "
                        "`signpost train early-help --processed DIR` first")
    scorer = mlflow.pyfunc.load_model(f"models:/{name}/{chosen.version}").unwrap_python_model().scorer
    features = scorer.features
    valid = load_table(processed, "valid", features, settings=settings, as_of=as_of)

    p_true = true_probabilities(path, valid.frame["pseudonym"], manifest, settings, key=key)
    known = p_true.notna().to_numpy()
    y, p_model = valid.y[known], scorer.model.predict_proba(valid.X[known])[:, 1]
    p_bayes = p_true.to_numpy(dtype=float)[known]
    n = capacity(settings)
    rows = {}
    for label, p in (("model", p_model), ("bayes_optimal", p_bayes)):
        precision, recall = ehm.precision_recall_at(y, p, n)
        rows[label] = {
            "ROC AUC": ehm.roc_auc(y, p),
            "ECE": ehm.expected_calibration_error(y, p),
            f"precision at capacity (N={n})": precision,
            f"recall at capacity (N={n})": recall,
            "Brier": ehm.brier(y, p),
        }
        groups = by_group(valid.frame.loc[known].reset_index(drop=True), y, p, ehm.top_n(p, n),
                          min_positives=settings.early_help_min_group_outcomes,
                          confidence=settings.early_help_gap_confidence)
        gated = tuple(settings.early_help_gated_attributes)
        for metric in ("tpr", "fpr"):
            rows[label][f"largest {metric.upper()} gap, gated attributes (beyond noise)"] = groups.max_gap(
                metric, gated, beyond_noise=True)
            rows[label][f"largest {metric.upper()} gap, deprivation decile (beyond noise)"] = groups.max_gap(
                metric, ("imd_decile",), beyond_noise=True)
    table = pd.DataFrame(rows)
    table["bar_2020"] = np.nan
    table.loc[f"precision at capacity (N={n})", "bar_2020"] = PRECISION_BAR_2020
    table.attrs.update(version=str(chosen.version), children=int(known.sum()), outcomes=int(y.sum()),
                       ece_noise_floor=ehm.ece_noise_floor(p_model))
    return table


def truth_path(truth: Path) -> Path:
    """The generator's ``early_help.parquet`` under ``truth`` (or ``truth/truth``)."""
    path = Path(truth) / "early_help.parquet"
    if not path.is_file():
        path = Path(truth) / "truth" / "early_help.parquet"
    if not path.is_file():
        raise UserError(f"{Path(truth) / 'early_help.parquet'} is missing: point --truth at the generator's "
                        "truth/ folder (written by `signpost generate`)")
    return path


def true_probabilities(path: Path, pseudonyms: pd.Series, manifest: dict, settings: Settings, *,
                       key: bytes | None = None) -> pd.Series:
    """The generator's true probability for each child of an evaluation table (NaN where unknown)."""
    from features.pseudonym import key_id, load_key, pseudonymise

    key = key if key is not None else load_key(settings, create=False)
    if manifest.get("pseudonym_key_id") and key_id(key) != manifest["pseudonym_key_id"]:
        raise UserError("the pseudonym key is not the one that built this processed folder: set "
                        "SIGNPOST_PSEUDONYM_KEY (or the key file) to the key `signpost features` used")
    true = pd.read_parquet(path)
    true["pseudonym"] = pseudonymise(true["person_id"].astype(str).tolist(), key, kind="person")
    p_true = pseudonyms.map(true.set_index("pseudonym")["p_window_2"])
    if p_true.isna().mean() > 0.01:
        raise UserError(f"{p_true.isna().sum()} of {len(p_true)} children have no true probability: is "
                        "--truth from the same county, and the pseudonym key the one used by `features`?")
    return p_true


#: The two feature sets `evaluate early-help` sets side by side: the default, and every opt-in.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "default (concern indicators, composition, age)": (),
    "opt-in (+ " + ", ".join(OPT_IN_GROUPS) + ")": OPT_IN_GROUPS,
}


def figures(y: np.ndarray, p: np.ndarray, frame: pd.DataFrame, settings: Settings) -> dict[str, float]:
    """AUC, calibration, capacity and per-group gaps of probabilities ``p`` on one table."""
    n = capacity(settings)
    precision, recall = ehm.precision_recall_at(y, p, n)
    groups = by_group(frame.reset_index(drop=True), y, p, ehm.top_n(p, n),
                      min_positives=settings.early_help_min_group_outcomes,
                      confidence=settings.early_help_gap_confidence)
    gated = tuple(settings.early_help_gated_attributes)
    out = {
        "ROC AUC": ehm.roc_auc(y, p),
        "ECE": ehm.expected_calibration_error(y, p),
        "ECE noise floor": ehm.ece_noise_floor(p),
        "Brier": ehm.brier(y, p),
        f"precision at capacity (N={n})": precision,
        f"recall at capacity (N={n})": recall,
        "largest TPR gap, gated attributes (beyond noise)": groups.max_gap("tpr", gated, beyond_noise=True),
        "largest FPR gap, gated attributes (beyond noise)": groups.max_gap("fpr", gated, beyond_noise=True),
    }
    for row in groups.gaps.itertuples():
        out[f"TPR gap, {row.attribute}"] = float(row.tpr_gap)
        out[f"FPR gap, {row.attribute}"] = float(row.fpr_gap)
        out[f"selection-rate gap, {row.attribute}"] = float(row.selection_gap)
    return out


def compare_feature_sets(processed: Path, settings: Settings, *, truth: Path | None = None,
                         key: bytes | None = None, kinds: tuple[str, ...] = MODEL_KINDS,
                         seed: int = 0) -> pd.DataFrame:
    """The default feature set and every opt-in group side by side, on the evaluation snapshot.

    Each set is fitted exactly as ``train`` fits (every kind tuned on the search sample, calibrated, the lowest
    out-of-fold Brier chosen) on the training snapshot and evaluated on the later one; with
    ``truth`` the Bayes-optimal figures (the generator's true probabilities) are a third
    column and every column is computed on the children that have a true probability.
    Nothing is logged or registered: this measures what an opt-in would change.
    """
    processed = Path(processed)
    manifest = tracking.read_manifest(processed)
    as_of = date.fromisoformat(str(manifest["as_of"]))
    every = load_features(processed)
    fitted: dict[str, tuple[EarlyHelpTable, np.ndarray, str, int]] = {}
    for label, opt_in in FEATURE_SETS.items():
        features = model_features(every, opt_in)
        train_table = load_table(processed, "train", features, settings=settings, as_of=as_of)
        valid_table = load_table(processed, "valid", features, settings=settings, as_of=as_of)
        rows = search_rows(train_table, settings.early_help_search_sample, seed=seed)
        folds = shared_folds(train_table, rows, seed=seed)
        models = {kind: fit_candidate(kind, train_table, features, seed=seed, rows=rows, folds=folds)[0]
                  for kind in kinds}
        kind = min(models, key=lambda k: models[k].calibration_report_[models[k].calibration_]["brier"])
        fitted[label] = (valid_table, models[kind].predict_proba(valid_table.X)[:, 1], kind, len(features))
    valid = next(iter(fitted.values()))[0]
    known = np.ones(len(valid.y), dtype=bool)
    columns = {}
    if truth is not None:
        p_true = true_probabilities(truth_path(truth), valid.frame["pseudonym"], manifest, settings, key=key)
        known = p_true.notna().to_numpy()
    frame = valid.frame.loc[known].reset_index(drop=True)
    for label, (_, p, kind, n_features) in fitted.items():
        columns[label] = figures(valid.y[known], p[known], frame, settings)
    if truth is not None:
        columns["Bayes-optimal"] = figures(valid.y[known], p_true.to_numpy(dtype=float)[known], frame, settings)
    table = pd.DataFrame(columns)
    table.attrs.update(children=int(known.sum()), outcomes=int(valid.y[known].sum()),
                       chosen={label: f"{kind}, {n} features" for label, (_, _, kind, n) in fitted.items()})
    return table


def print_feature_sets(table: pd.DataFrame) -> None:
    """The side-by-side table of `evaluate early-help`."""
    from rich.markup import escape
    from rich.table import Table

    out = Table(title=f"early help, default vs opt-in features: {table.attrs['children']:,} children, "
                      f"{table.attrs['outcomes']:,} outcomes (evaluation snapshot)")
    out.add_column("metric")
    for column in table.columns:
        chosen = table.attrs["chosen"].get(column)
        out.add_column(escape(f"{column}\n[{chosen}]") if chosen else column, justify="right")
    for metric, row in table.iterrows():
        digits = 4 if metric.startswith("ECE") else 3
        out.add_row(metric, *["" if pd.isna(v) else f"{v:.{digits}f}" for v in row])
    console.print(out)


def print_comparison(table: pd.DataFrame) -> None:
    """The `evaluate early-help` table, with the acceptance checks spelled out."""
    from rich.table import Table

    out = Table(title=f"early help v{table.attrs['version']}: {table.attrs['children']:,} children, "
                      f"{table.attrs['outcomes']:,} outcomes (evaluation snapshot)")
    for column in ("metric", "model", "Bayes-optimal", "2020 bar"):
        out.add_column(column, justify="left" if column == "metric" else "right")
    for metric, row in table.iterrows():
        out.add_row(metric, f"{row['model']:.3f}", f"{row['bayes_optimal']:.3f}",
                    "" if np.isnan(row["bar_2020"]) else f"{row['bar_2020']:.2f}")
    console.print(out)
    auc_gap = table.loc["ROC AUC", "bayes_optimal"] - table.loc["ROC AUC", "model"]
    console.print(f"AUC gap to Bayes-optimal: {auc_gap:.3f} (target ≤ 0.03); "
                  f"ECE {table.loc['ECE', 'model']:.4f} (target ≤ 0.02; noise floor at this size "
                  f"≈ {table.attrs['ece_noise_floor']:.4f})")
