"""Train, select and register the signposting recommender, with honest evaluation in MLflow.

The flow behind `signpost train recommender`:

1. Load the processed folder (matrices, citizens, catalogue) and the rules that serving
   applies (eligibility, no intervention or sensitive services, popularity for citizens
   without history).
2. Per candidate model, a budgeted hyper-parameter search on a *validation* split carved from
   the training matrix (each citizen's services held out at random; see
   :func:`recommender.evaluation.validation_split`). The temporal test matrix is never used to
   choose anything.
3. The chosen configuration is refitted on the whole training matrix and evaluated on the
   temporal hold-out (services a citizen started using after ``split_date``), ranked as served.
4. A blend (the best personalised model + a demographic prior, weights tuned on validation) is a
   candidate like any other.
5. The candidate with the best *validation* NDCG@10 is refitted on ``interactions_all``,
   wrapped in a :class:`recommender.signposting.Signposter`, logged as an MLflow pyfunc and
   registered with alias ``challenger``.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from features.processed import WINDOWS, read_processed
from recommender.base import Recommender, mask_scores, top_k
from recommender.blend import Blend, standardise_rows
from recommender.candidates import CANDIDATES, config_of, from_config, make
from recommender.eligibility import eligible_from_frames
from recommender.evaluation import new_services, rank_as_served, validation_split
from recommender.metrics import K_VALUES, ranking_metrics, recall_by_group
from recommender.popularity import DemographicPopularity
from recommender.segments import SegmentVocabulary
from signpost.errors import UserError
from signpost.settings import Settings, get_settings

EXPERIMENT = "signpost-recommender"
DEFAULT_MODELS = ("popularity", "demographic", "itemknn", "als", "bpr", "ease", "blend")
GROUP_COLUMNS = ("age_band", "postcode_district", "sex", "ethnicity", "disability")
SELECTION_METRIC = "ndcg@10"

#: Hyper-parameter grids; the search tries the default first, then a seeded sample up to the budget.
SEARCH_SPACES: dict[str, dict[str, Sequence[Any]]] = {
    "popularity": {},
    "demographic": {"prior_strength": [20.0, 5.0, 50.0, 100.0, 200.0], "min_segment_citizens": [5, 20]},
    "itemknn": {"neighbours": [50, 20, 100, 200], "k1": [1.2, 0.6, 2.0], "b": [0.75, 0.5, 1.0]},
    "als": {"factors": [16, 8, 32, 64], "regularization": [10.0, 1.0, 0.1, 30.0], "alpha": [5.0, 1.0, 20.0]},
    "bpr": {"factors": [32, 16, 64], "learning_rate": [0.05, 0.01], "regularization": [0.01, 0.001], "fold_in_l2": [1.0, 0.1, 10.0]},
    "ease": {"l2": [200.0, 20.0, 50.0, 100.0, 500.0, 1000.0, 3000.0], "binary": [True, False]},
}
#: Weight grids for the blend: lead personalised model, runner-up, demographic prior.
BLEND_WEIGHTS = {"runner_up": [0.0, 0.25, 0.5, 1.0], "prior": [0.0, 0.05, 0.1, 0.2, 0.4, 0.8]}


# ------------------------------------------------------------------------- data ----------


@dataclass
class TrainingData:
    """A processed folder (:func:`features.processed.read_processed`) plus the serving rules
    as arrays: each citizen's segment and the services a ranking may show them."""

    directory: Path
    manifest: dict[str, Any]
    citizens: pd.DataFrame
    services: pd.DataFrame
    train: sparse.csr_matrix
    test: sparse.csr_matrix
    all: sparse.csr_matrix
    segments: np.ndarray = field(repr=False)
    allowed: np.ndarray = field(repr=False)  # eligible, active, not an intervention, not sensitive

    @property
    def n_services(self) -> int:
        return int(self.train.shape[1])


def load_processed(directory: Path) -> TrainingData:
    """Read what training needs from `signpost features` output; UserError if incomplete."""
    folder = read_processed(directory, windows=WINDOWS)
    citizens, services = folder.citizens, folder.services
    vocabulary = SegmentVocabulary.fit(_nullable(citizens["age_band"]), _nullable(citizens["postcode_district"]))
    segments = vocabulary.codes(_nullable(citizens["age_band"]), _nullable(citizens["postcode_district"]))
    allowed = eligible_from_frames(citizens, services)
    if "intervention" in services:
        allowed &= ~services["intervention"].fillna(False).to_numpy(dtype=bool)[None, :]
    if "sensitive" in services:  # never suggested unprompted, so never in a ranking as served
        allowed &= ~services["sensitive"].fillna(False).to_numpy(dtype=bool)[None, :]
    return TrainingData(
        directory=folder.folder,
        manifest=folder.manifest,
        citizens=citizens,
        services=services,
        train=folder.matrices["train"],
        test=folder.matrices["test"],
        all=folder.matrices["all"],
        segments=segments,
        allowed=allowed,
    )


def _nullable(column: pd.Series) -> list[object]:
    return column.astype(object).where(column.notna(), None).tolist()


# ------------------------------------------------------------------- evaluation ----------


@dataclass
class Evaluation:
    """A model's hold-out metrics as served, and recall@10 per group."""

    metrics: dict[str, float]
    groups: dict[str, dict[str, tuple[float, int]]]


def evaluate(
    model: Recommender,
    history: sparse.csr_matrix,
    relevant: sparse.csr_matrix,
    data: TrainingData,
    *,
    fallback: Recommender | None,
    ks: Sequence[int] = K_VALUES,
    with_groups: bool = True,
) -> Evaluation:
    """Rank the citizens who have relevant services, as served, and score the ranking."""
    rows = np.flatnonzero(np.diff(relevant.indptr) > 0)
    ranking = rank_as_served(
        model, history, k=max(ks), allowed=data.allowed, segments=data.segments, fallback=fallback, rows=rows
    )
    metrics = ranking_metrics(ranking.service_idx, relevant[rows], ks=ks)
    groups = {}
    if with_groups:
        for column in GROUP_COLUMNS:
            if column in data.citizens:
                groups[column] = recall_by_group(
                    ranking.service_idx, relevant[rows], data.citizens[column].to_numpy()[rows], k=10
                )
    return Evaluation(metrics=metrics, groups=groups)


def oracle_metrics(probabilities: np.ndarray, relevant: sparse.csr_matrix, data: TrainingData, history: sparse.csr_matrix, ks: Sequence[int] = K_VALUES) -> dict[str, float]:
    """Metrics of a ranking by true probabilities (n, n_services), under the same rules."""
    rows = np.flatnonzero(np.diff(relevant.indptr) > 0)
    scores = np.array(probabilities[rows], dtype=np.float32)
    mask_scores(scores, history[rows], data.allowed[rows])
    idx, _ = top_k(scores, max(ks))
    return ranking_metrics(idx, relevant[rows], ks=ks)


# ---------------------------------------------------------------------- search ----------


def candidate_configs(name: str, budget: int, seed: int = 0) -> list[dict[str, Any]]:
    """The default configuration, then a seeded sample of the grid, ``budget`` in all."""
    space = SEARCH_SPACES.get(name, {})
    if not space:
        return [{}]
    keys = list(space)
    grid = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(space[k] for k in keys))]
    default, rest = grid[0], grid[1:]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rest))
    return [default] + [rest[i] for i in order[: max(0, budget - 1)]]


@dataclass
class SearchResult:
    name: str
    config: dict[str, Any]  # recommender.candidates.config_of of the winner
    valid_ndcg: float
    trials: list[dict[str, Any]]  # params + validation metrics per tried configuration


@dataclass
class Split:
    """Training split for model selection: fit on ``fit``, score on ``valid``."""

    fit: sparse.csr_matrix
    valid: sparse.csr_matrix
    fallback: DemographicPopularity


def make_split(data: TrainingData, seed: int = 0) -> Split:
    fit, valid = validation_split(data.train, fraction=0.2, seed=seed)
    return Split(fit=fit, valid=valid, fallback=DemographicPopularity().fit(fit, segments=data.segments))


def search(
    name: str,
    data: TrainingData,
    split: Split,
    *,
    budget: int,
    on_trial: Callable[[], None] | None = None,
) -> SearchResult:
    """Try up to ``budget`` configurations of one model on the validation split."""
    trials = []
    best: tuple[float, dict[str, Any]] | None = None
    for params in candidate_configs(name, budget):
        model = make(name, **params)
        started = time.perf_counter()
        model.fit(split.fit, segments=data.segments)
        fit_seconds = time.perf_counter() - started
        result = evaluate(model, split.fit, split.valid, data, fallback=split.fallback, ks=(10,), with_groups=False)
        ndcg = result.metrics[SELECTION_METRIC]
        trials.append({**params, "valid_ndcg@10": ndcg, "valid_recall@10": result.metrics["recall@10"], "fit_seconds": fit_seconds})
        if best is None or ndcg > best[0]:
            best = (ndcg, config_of(model))
        if on_trial:
            on_trial()
    assert best is not None
    return SearchResult(name=name, config=best[1], valid_ndcg=best[0], trials=trials)


def search_blend(
    results: dict[str, SearchResult], data: TrainingData, split: Split, *, on_trial: Callable[[], None] | None = None
) -> SearchResult | None:
    """Blend the best personalised model, the runner-up and a demographic prior.

    Component scores on the validation rows are computed once and combined for every weight
    setting, exactly as :meth:`Blend.score` would (standardised rows, weighted sum).
    """
    personalised = sorted(
        (r for r in results.values() if from_config(r.config).personalised), key=lambda r: -r.valid_ndcg
    )
    if not personalised:
        return None
    lead = personalised[0]
    runner_up = personalised[1] if len(personalised) > 1 else None
    prior_config = results["demographic"].config if "demographic" in results else config_of(DemographicPopularity())
    components = [from_config(lead.config)] + ([from_config(runner_up.config)] if runner_up else []) + [from_config(prior_config)]
    fitted = [c.fit(split.fit, segments=data.segments) for c in components]
    rows = np.flatnonzero(np.diff(split.valid.indptr) > 0)
    history = split.fit[rows]
    standardised = [standardise_rows(c.score(history, segments=data.segments[rows])) for c in fitted]
    cold = np.diff(history.indptr) == 0
    fallback_scores = split.fallback.score(history[cold], segments=data.segments[rows][cold])
    trials = []
    best: tuple[float, list[float]] | None = None
    for w_runner in BLEND_WEIGHTS["runner_up"] if runner_up else [0.0]:
        for w_prior in BLEND_WEIGHTS["prior"]:
            weights = [1.0] + ([w_runner] if runner_up else []) + [w_prior]
            scores = sum(w * s for w, s in zip(weights, standardised, strict=True))
            scores = np.array(scores, dtype=np.float32)
            scores[cold] = fallback_scores  # served cold start, as rank_as_served does
            mask_scores(scores, history, data.allowed[rows])
            idx, _ = top_k(scores, 10)
            ndcg = ranking_metrics(idx, split.valid[rows], ks=(10,))[SELECTION_METRIC]
            trials.append({"weights": weights, "valid_ndcg@10": ndcg})
            if best is None or ndcg > best[0]:
                best = (ndcg, weights)
            if on_trial:
                on_trial()
    assert best is not None
    blend = Blend(components=tuple(components_unfitted(lead, runner_up, prior_config)), weights=tuple(best[1]))
    return SearchResult(name="blend", config=config_of(blend), valid_ndcg=best[0], trials=trials)


def components_unfitted(lead: SearchResult, runner_up: SearchResult | None, prior_config: dict) -> list[Recommender]:
    return [from_config(lead.config)] + ([from_config(runner_up.config)] if runner_up else []) + [from_config(prior_config)]


def blend_trials_count(results: dict[str, SearchResult]) -> int:
    personalised = [r for r in results.values() if from_config(r.config).personalised]
    runner = len(BLEND_WEIGHTS["runner_up"]) if len(personalised) > 1 else 1
    return runner * len(BLEND_WEIGHTS["prior"]) if personalised else 0


# ------------------------------------------------------------------ MLflow names ----------

_UNSAFE = re.compile(r"[^\w\-. /]")


def metric_key(name: str) -> str:
    """MLflow-safe metric name: ``ndcg@10`` → ``ndcg_at_10``; other odd characters → ``_``."""
    return _UNSAFE.sub("_", name.replace("@", "_at_"))


# ----------------------------------------------------------------------- figures ----------


def metrics_vs_k_figure(table: dict[str, dict[str, float]], title: str):  # Figure
    """One panel per metric, one line per model, k on the x axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ("ndcg", "recall", "precision", "map", "hit_rate", "coverage")
    figure, axes = plt.subplots(2, 3, figsize=(12, 6.5), constrained_layout=True)
    for ax, metric in zip(axes.ravel(), names, strict=True):
        for model, metrics in table.items():
            ax.plot(K_VALUES, [metrics.get(f"{metric}@{k}", np.nan) for k in K_VALUES], marker="o", label=model)
        ax.set_title(f"{metric}@k")
        ax.set_xticks(K_VALUES)
        ax.set_xlabel("k")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    figure.suptitle(title)
    return figure


def group_recall_figure(groups: dict[str, dict[str, tuple[float, int]]], title: str):
    """Recall@10 per group, one panel per characteristic (groups under 10 citizens suppressed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [c for c in GROUP_COLUMNS if groups.get(c)]
    figure, axes = plt.subplots(len(columns) or 1, 1, figsize=(10, 2.2 * max(1, len(columns))), constrained_layout=True, squeeze=False)
    for ax, column in zip(axes[:, 0], columns, strict=False):
        labels = list(groups[column])
        values = [groups[column][label][0] for label in labels]
        ax.bar(range(len(labels)), values, color="#1d70b8")
        ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 8 else 0, fontsize=7, ha="right" if len(labels) > 8 else "center")
        ax.set_ylabel("recall@10")
        ax.set_title(column, fontsize=9)
        ax.set_ylim(0, max(values + [0.01]) * 1.15)
    figure.suptitle(title)
    return figure


# ------------------------------------------------------------------------- train ----------


@dataclass
class ModelReport:
    name: str
    config: dict[str, Any]
    valid_ndcg: float
    test: Evaluation
    fit_seconds: float
    run_id: str


@dataclass
class TrainResult:
    parent_run_id: str
    reports: list[ModelReport]
    best: str
    model_uri: str
    version: str | None

    def table(self) -> pd.DataFrame:
        """The comparison table (test metrics, validation NDCG used for selection)."""
        rows = []
        for r in self.reports:
            rows.append({
                "model": r.name,
                "valid ndcg@10": r.valid_ndcg,
                **{m: r.test.metrics.get(m, np.nan) for m in ("ndcg@10", "recall@10", "precision@10", "map@10", "hit_rate@10", "coverage@10")},
                "fit s": r.fit_seconds,
                "selected": "yes" if r.name == self.best else "",
            })
        return pd.DataFrame(rows)


def parse_models(models: str | Sequence[str] | None) -> list[str]:
    """``"popularity,ease"`` → names in a sensible order; unknown names are a UserError."""
    if models is None:
        return list(DEFAULT_MODELS)
    names = [m.strip() for m in (models.split(",") if isinstance(models, str) else models) if m.strip()]
    unknown = [m for m in names if m not in CANDIDATES]
    if unknown or not names:
        raise UserError(f"unknown model(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(CANDIDATES)}")
    return sorted(set(names), key=lambda m: list(CANDIDATES).index(m))


def empty_matrix_cause(manifest: dict) -> str:
    """Why no interaction reached the training matrix, from what the feature manifest records.

    The sharing policy is checked before consent: when no source may serve personalisation,
    or none of the accepted events came from one, asking about consent sends the user the
    wrong way.
    """
    allowed = manifest.get("sources_by_purpose", {}).get("personalisation", [])
    by_source = manifest.get("events_by_source", {})
    accepted, unknown = by_source.get("accepted", {}), by_source.get("unknown", {})
    lost = ""
    if unknown:
        lost = (f"; {sum(unknown.values()):,} events from sources the policy does not name were quarantined "
                f"({', '.join(unknown)})")
    if not allowed:
        return ("the data-sharing policy lets no source serve personalisation: add the sources whose agreements "
                f"allow it to SIGNPOST_SHARING_POLICY{lost}")
    if by_source and not any(accepted.get(source) for source in allowed):
        seen = ", ".join(f"{s} {n:,}" for s, n in accepted.items()) or "none"
        return (f"no accepted event came from a source the data-sharing policy allows for personalisation "
                f"({', '.join(allowed)}); accepted events by source: {seen}{lost}. Check SIGNPOST_SHARING_POLICY")
    if manifest.get("personalisation_citizens") == 0:
        return f"nobody had consented to personalisation as of {manifest.get('as_of')}"
    return (f"none of the {manifest.get('personalisation_citizens', 0):,} people who consented to personalisation "
            f"used a service of {', '.join(allowed)} before {manifest.get('split_date')}{lost}")


def train(
    processed: Path,
    *,
    models: str | Sequence[str] | None = None,
    budget: int = 6,
    register_model: bool = True,
    settings: Settings | None = None,
) -> TrainResult:
    """The `signpost train recommender` command's work; returns what was logged."""
    import tempfile

    import mlflow
    from signpost.progress import console, make_progress
    from training import tracking
    from training.recommender_pyfunc import log_signposter

    settings = settings or get_settings()
    names = parse_models(models)
    if budget < 1:
        raise UserError("--budget must be at least 1 configuration per model")
    data = load_processed(processed)
    if data.train.nnz == 0:
        raise UserError(f"{processed}: the training matrix is empty: {empty_matrix_cause(tracking.read_manifest(processed))}")
    tags = tracking.data_tags(processed)
    tracking.use_experiment(EXPERIMENT, settings)
    split = make_split(data)
    test_relevant = new_services(data.train, data.test)
    train_fallback = DemographicPopularity().fit(data.train, segments=data.segments)
    singles = [n for n in names if n != "blend"]
    reports: list[ModelReport] = []
    results: dict[str, SearchResult] = {}
    with mlflow.start_run(run_name="recommender", tags={**tags, "signpost.kind": "recommender"}) as parent, make_progress() as progress:
        mlflow.log_params({
            "models": ",".join(names),
            "budget": budget,
            "selection": f"validation {SELECTION_METRIC} (random 20% of each citizen's training services)",
            "n_citizens": data.train.shape[0],
            "n_services": data.n_services,
            "train_nnz": data.train.nnz,
            "reason_min_co_use_lift": settings.reason_min_co_use_lift,
            "reason_min_co_users": settings.reason_min_co_users,
            "test_citizens_with_new_services": int((np.diff(test_relevant.indptr) > 0).sum()),
        })
        total = sum(len(candidate_configs(n, budget)) for n in singles) + len(names)
        task = progress.add_task("searching and evaluating", total=total)
        # the blend searches over the others' winners, so it needs them even if not asked for
        needed = list(dict.fromkeys(singles + (["demographic", "ease"] if "blend" in names else [])))
        for name in needed:
            progress.update(task, description=f"search {name}")
            results[name] = search(name, data, split, budget=budget, on_trial=lambda: progress.advance(task))
        if "blend" in names:
            progress.update(task, description="search blend")
            blend_result = search_blend({n: results[n] for n in needed}, data, split)
            if blend_result is not None:
                results["blend"] = blend_result
        for name in names:
            if name not in results:
                continue
            progress.update(task, description=f"evaluate {name}")
            reports.append(_fit_evaluate_log(name, results[name], data, test_relevant, train_fallback, tags))
            progress.advance(task)
        best = max(reports, key=lambda r: (r.valid_ndcg, -list(CANDIDATES).index(r.name)))
        _log_parent_summary(reports, best)
        progress.update(task, description=f"refit {best.name} on all interactions")
        final = from_config(best.config).fit(data.all, segments=data.segments)
        fallback = from_config(results["demographic"].config) if "demographic" in results else DemographicPopularity()
        fallback.fit(data.all, segments=data.segments)
        from recommender.signposting import Signposter

        signposter = Signposter.from_processed_tables(
            data.citizens, data.services, data.all, model=final, fallback=fallback, model_name=best.name,
            reason_min_lift=settings.reason_min_co_use_lift, reason_min_co_users=settings.reason_min_co_users,
        )
        mlflow.set_tags({"recommender.best": best.name, "recommender.config": json.dumps(best.config)})
        with tempfile.TemporaryDirectory() as workdir:
            model_uri = log_signposter(signposter, Path(workdir))
        version = None
        if register_model:
            registered = tracking.register(
                model_uri,
                settings.recommender_model_name,
                alias=tracking.CHALLENGER,
                tags={
                    "recommender.model": best.name,
                    "recommender.config": json.dumps(best.config),
                    "test.ndcg_at_10": f"{best.test.metrics['ndcg@10']:.6f}",
                    "test.recall_at_10": f"{best.test.metrics['recall@10']:.6f}",
                    **tags,
                },
            )
            version = str(registered.version)
        console.print(f"best on validation NDCG@10: [bold]{best.name}[/] → registered version {version} as challenger")
    return TrainResult(parent_run_id=parent.info.run_id, reports=reports, best=best.name, model_uri=model_uri, version=version)


def _fit_evaluate_log(
    name: str,
    result: SearchResult,
    data: TrainingData,
    test_relevant: sparse.csr_matrix,
    fallback: DemographicPopularity,
    tags: dict[str, str],
) -> ModelReport:
    """Refit the chosen configuration on the training split, evaluate on the hold-out, log a nested run."""
    import mlflow
    from training import tracking

    model = from_config(result.config)
    started = time.perf_counter()
    model.fit(data.train, segments=data.segments)
    fit_seconds = time.perf_counter() - started
    evaluation = evaluate(model, data.train, test_relevant, data, fallback=fallback)
    with mlflow.start_run(run_name=name, nested=True, tags={**tags, "recommender.model": name}) as run:
        mlflow.log_params({k: json.dumps(v) if isinstance(v, (list, dict, tuple)) else v for k, v in _flat_params(result.config).items()})
        mlflow.log_param("config", json.dumps(result.config))
        metrics = {metric_key(k): v for k, v in evaluation.metrics.items() if np.isfinite(v)}
        metrics[metric_key(f"valid_{SELECTION_METRIC}")] = result.valid_ndcg
        metrics["fit_seconds"] = fit_seconds
        for column, groups in evaluation.groups.items():
            for label, (recall, _) in groups.items():
                metrics[metric_key(f"recall@10.{column}.{label}")] = recall
        mlflow.log_metrics(metrics)
        tracking.log_frame(pd.DataFrame(result.trials), "search.csv")
        tracking.log_frame(
            pd.DataFrame([
                {"characteristic": c, "group": g, "recall@10": r, "citizens": n}
                for c, groups in evaluation.groups.items() for g, (r, n) in groups.items()
            ]),
            "per_group_recall.csv",
        )
        tracking.log_figure(metrics_vs_k_figure({name: evaluation.metrics}, f"{name}: hold-out metrics vs k"), "metrics_vs_k")
        tracking.log_figure(group_recall_figure(evaluation.groups, f"{name}: recall@10 by group"), "per_group_recall")
    return ModelReport(name=name, config=result.config, valid_ndcg=result.valid_ndcg, test=evaluation, fit_seconds=fit_seconds, run_id=run.info.run_id)


def _flat_params(config: dict[str, Any]) -> dict[str, Any]:
    params = dict(config.get("params", {}))
    for i, component in enumerate(config.get("components", [])):
        params[f"component{i}"] = component["model"]
        params.update({f"component{i}.{k}": v for k, v in component.get("params", {}).items()})
    return params


def _log_parent_summary(reports: list[ModelReport], best: ModelReport) -> None:
    import mlflow
    from training import tracking

    table = TrainResult(parent_run_id="", reports=reports, best=best.name, model_uri="", version=None).table()
    tracking.log_frame(table, "comparison.csv")
    tracking.log_figure(metrics_vs_k_figure({r.name: r.test.metrics for r in reports}, "Hold-out metrics vs k"), "metrics_vs_k")
    tracking.log_figure(group_recall_figure(best.test.groups, f"{best.name}: recall@10 by group"), "per_group_recall")
    mlflow.log_metrics({metric_key(k): v for k, v in best.test.metrics.items() if np.isfinite(v)})
    mlflow.log_metric(metric_key(f"valid_{SELECTION_METRIC}"), best.valid_ndcg)
