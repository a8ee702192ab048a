"""`train / promote / evaluate early-help` on a real small county (generator + feature pipeline)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from pydantic import SecretStr
from sklearn.base import clone

import mlflow
from recommender import early_help as recommender_early_help
from recommender.early_help import CalibratedEarlyHelp, tune
from signpost.errors import UserError
from signpost.settings import Settings
from training import early_help, tracking

BANDS = {"low", "medium", "high"}


def small_settings(base: Path, county) -> Settings:  # tests/conftest.County
    """A throwaway MLflow store, the county's key, and capacity scaled to ~700 children."""
    return Settings(
        mlflow_tracking_uri=f"sqlite:///{base / 'mlflow.db'}",
        mlflow_artifact_root=base / "artifacts",
        pseudonym_key=county.key,
        caseworker_capacity_per_month=5,  # N = 30 of ~700 children, like 300 of ~5,000
        early_help_min_group_outcomes=5,
    )


@pytest.fixture(scope="module")
def trained(small_county, tmp_path_factory):
    """One training run on the small county, shared by the read-only tests below."""
    base = tmp_path_factory.mktemp("early_help_store")
    settings = small_settings(base, small_county)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
        result = early_help.train(small_county.processed, settings, n_resamples=50)
        yield settings, result
        while mlflow.active_run() is not None:
            mlflow.end_run()


def _artifact_text(run_id: str, path: str) -> str:
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path)).read_text()


def test_training_registers_a_documented_challenger(trained, small_county) -> None:
    settings, result = trained
    tracking.configure(settings)
    client = MlflowClient()
    version = tracking.challenger_version(settings.early_help_model_name)
    assert str(version.version) == result.version and version.run_id == result.run_id
    run = client.get_run(result.run_id)
    manifest = json.loads((small_county.processed / "manifest.json").read_text())
    assert run.data.tags["data.consent_snapshot_id"] == manifest["consent_snapshot_id"]
    for metric in ("roc_auc", "roc_auc_low", "roc_auc_high", "pr_auc", "brier", "ece",
                   "precision_at_capacity", "recall_at_capacity", "max_tpr_gap_beyond_noise"):
        assert metric in run.data.metrics, metric
    assert run.data.metrics["roc_auc_low"] <= run.data.metrics["roc_auc"] <= run.data.metrics["roc_auc_high"]
    assert run.data.params["train_snapshot"] < run.data.params["valid_snapshot"]  # temporal

    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    artifacts |= {a.path for a in client.list_artifacts(result.run_id, "figures")}
    for expected in ("model_card.md", "transparency_record.json", "transparency_record.md",
                     "figures/reliability.png", "figures/roc.png", "figures/pr.png",
                     "figures/groups_ethnicity.png", "figures/groups_calibration_sex.png"):
        assert expected in artifacts, expected
    card = _artifact_text(result.run_id, "model_card.md")
    for heading in ("## Intended use", "## Not for", "## Data window and lawful basis",
                    "## Metrics on the evaluation snapshot", "## Calibration", "## Results by group",
                    "## Limitations"):
        assert heading in card
    assert manifest["consent_snapshot_id"] in card
    record = json.loads(_artifact_text(result.run_id, "transparency_record.json"))
    assert {"owner_and_responsibility", "description_and_rationale", "decision_making_process",
            "data", "risks_and_mitigations"} <= set(record)
    assert "caseworker" in record["decision_making_process"]["human_review"]
    assert client.get_model_version(settings.early_help_model_name, result.version).description == card
    # a small county: the boosted benchmark is fitted on every child, and the run says so
    assert run.data.params["benchmark_fitted_on"] == f"every child ({run.data.params['train_rows']})"
    assert f"never served, were fitted on every child ({run.data.params['train_rows']})" in card


def test_boosting_is_a_benchmark_and_the_registered_model_explains_itself(trained) -> None:
    _, result = trained
    assert {c.kind for c in result.candidates} == {"logistic", "boosting"}
    assert result.chosen == "logistic"


def test_registered_pyfunc_scores_the_score_table(trained, small_county) -> None:
    settings, result = trained
    tracking.configure(settings)
    model = mlflow.pyfunc.load_model(f"models:/{settings.early_help_model_name}@challenger")
    rows = pd.read_parquet(small_county.processed / "early_help_score.parquet").head(50)
    out = model.predict(rows)
    assert list(out.columns) == ["pseudonym", "probability", "band", "top_factors"]
    assert out["pseudonym"].tolist() == rows["pseudonym"].tolist()
    assert set(out["band"]) <= BANDS
    assert out["probability"].between(0, 1).all()
    for factors in out["top_factors"]:
        assert all(f["direction"] == "raises" and f["text"] for f in json.loads(factors))
    assert model.metadata.signature is not None


def test_no_real_identifier_or_pseudonym_in_the_artifacts(trained, small_county) -> None:
    settings, result = trained
    tracking.configure(settings)
    raw_ids = pd.read_csv(small_county.raw / "citizens.csv", dtype=str)["person_id"].dropna()
    pseudonyms = pd.read_parquet(small_county.processed / "citizens.parquet")["pseudonym"]
    secrets = set(raw_ids) | set(pseudonyms)
    scanned = [p for p in Path(settings.mlflow_artifact_root).rglob("*")
               if p.is_file() and p.suffix in {".md", ".json", ".csv", ".txt", ".yaml", ".pkl", ""}]
    assert {"input_example.json", "model_card.md", "per_group.csv", "python_model.pkl"} <= {p.name for p in scanned}
    blob = "\n".join(p.read_bytes().decode(errors="ignore") for p in scanned)
    leaked = [s for s in secrets if len(s) > 6 and s in blob]
    assert not leaked, f"{len(leaked)} identifiers in MLflow artifacts"


def test_truth_comparison_prints_model_bayes_and_the_2020_bar(trained, small_county) -> None:
    settings, _ = trained
    table = early_help.compare_with_truth(small_county.raw / "truth", small_county.processed, settings)
    assert {"model", "bayes_optimal", "bar_2020"} <= set(table.columns)
    assert 0.5 < table.loc["ROC AUC", "bayes_optimal"] <= 1
    assert 0 <= table.loc["ECE", "model"] <= 1
    precision_row = [r for r in table.index if r.startswith("precision at capacity")][0]
    assert table.loc[precision_row, "bar_2020"] == 0.65
    early_help.print_comparison(table)  # renders without error
    wrong_key = settings.model_copy(update={"pseudonym_key": SecretStr("another-key")})
    with pytest.raises(UserError, match="pseudonym key"):
        early_help.compare_with_truth(small_county.raw / "truth", small_county.processed, wrong_key)


# ------------------------------------------------------------- features and meaning ----------


def test_the_registered_model_uses_concern_indicators_composition_and_age_only(trained) -> None:
    settings, result = trained
    tracking.configure(settings)
    scorer = mlflow.pyfunc.load_model(f"models:/{settings.early_help_model_name}@challenger"
                                      ).unwrap_python_model().scorer
    assert {f.group for f in scorer.features} <= {"concern", "composition"}
    assert any(f.group == "concern" for f in scorer.features)
    assert not [f.name for f in scorer.features if f.name.startswith(("f_uses_", "f_hh_uses_", "f_imd"))]
    run = MlflowClient().get_run(result.run_id)
    assert run.data.params["opt_in_feature_groups"] == "none"
    card = _artifact_text(result.run_id, "model_card.md")
    assert "not used (the council has not opted in to any of them)" in card


def test_the_indicators_meaning_travels_with_the_model_and_the_card_says_the_same(trained) -> None:
    from recommender.early_help_meaning import IndicatorMeaning

    settings, result = trained
    tracking.configure(settings)
    scorer = mlflow.pyfunc.load_model(f"models:/{settings.early_help_model_name}@challenger"
                                      ).unwrap_python_model().scorer
    meaning = scorer.meaning
    logged = IndicatorMeaning.from_dict(json.loads(_artifact_text(result.run_id, "indicator_meaning.json")))
    assert logged == meaning
    run = MlflowClient().get_run(result.run_id)
    assert meaning.children == int(run.data.params["valid_rows"])
    assert sum(b.children for b in meaning.bands) == meaning.children
    assert sum(b.outcomes for b in meaning.bands) == meaning.outcomes
    assert meaning.capacity == early_help.capacity(settings)
    card = _artifact_text(result.run_id, "model_card.md")
    assert "## What the indicator means" in card
    for b in meaning.bands:
        assert b.sentence(meaning.label_months) in card
    assert meaning.capacity_sentence() in card
    shown = meaning.explain(0.12, "medium")
    assert shown["band_meaning"] == meaning.band("medium").sentence(meaning.label_months)
    assert shown["probability_low"] <= shown["probability_high"]


def test_model_features_keep_opt_in_groups_out_unless_named() -> None:
    from recommender.early_help import FeatureSpec

    specs = (FeatureSpec("f_svc_encompass", "x", "count", group="concern"),
             FeatureSpec("f_age", "aged {value}", "numeric", group="composition"),
             FeatureSpec("f_uses_family_hub", "x", "flag", group="supportive_services"),
             FeatureSpec("f_benefits_revenues", "x", "count", group="benefits"),
             FeatureSpec("f_imd_decile", "x", "numeric", group="deprivation"))
    assert [f.name for f in early_help.model_features(specs, ())] == ["f_svc_encompass", "f_age"]
    assert [f.name for f in early_help.model_features(specs, ("benefits",))] == [
        "f_svc_encompass", "f_age", "f_benefits_revenues"]
    with pytest.raises(UserError, match="unknown early-help opt-in"):
        early_help.model_features(specs, ("ethnicity",))
    with pytest.raises(UserError, match="rebuild"):
        early_help.model_features((FeatureSpec("f_x", "x"),), ())


def test_evaluate_sets_default_and_opt_in_features_side_by_side(small_county, tmp_path) -> None:
    settings = small_settings(tmp_path, small_county)
    table = early_help.compare_feature_sets(small_county.processed, settings, truth=small_county.raw / "truth",
                                            kinds=("logistic",))
    default, opt_in = early_help.FEATURE_SETS
    assert list(table.columns) == [default, opt_in, "Bayes-optimal"]
    for row in ("ROC AUC", "ECE", "largest TPR gap, gated attributes (beyond noise)", "TPR gap, ethnicity",
                "FPR gap, imd_decile"):
        assert row in table.index, row
    assert (table.loc["ROC AUC"].between(0.5, 1)).all()
    chosen = table.attrs["chosen"]
    assert int(chosen[default].split(", ")[1].split()[0]) < int(chosen[opt_in].split(", ")[1].split()[0])
    early_help.print_feature_sets(table)  # renders without error


# ----------------------------------------------------------------------------- search sample ---


def _train_table(county, settings: Settings) -> tuple[early_help.EarlyHelpTable, tuple]:
    manifest = tracking.read_manifest(county.processed)
    features = early_help.model_features(early_help.load_features(county.processed), ())
    as_of = pd.Timestamp(manifest["as_of"]).date()
    return early_help.load_table(county.processed, "train", features, settings=settings, as_of=as_of), features


def test_the_search_and_folds_use_the_sample_and_the_winner_is_refitted_on_everyone(small_county, tmp_path) -> None:
    settings = small_settings(tmp_path, small_county)
    table, features = _train_table(small_county, settings)
    rows = early_help.search_rows(table, len(table.y) // 2, seed=3)
    assert len(rows) == len(table.y) // 2 and len(np.unique(rows)) == len(rows)
    # stratified by outcome: the positives' share is the table's to within one child
    assert abs(table.y[rows].sum() - table.y.mean() * len(rows)) <= 1

    steps = []
    model, report = early_help.fit_candidate("logistic", table, features, rows=rows, on_step=lambda: steps.append(1))
    assert len(steps) == len(early_help.GRIDS["logistic"]) + 1  # one per setting, one for calibrate and refit
    base = early_help.base_estimator("logistic", features)
    on_sample = tune(base, early_help.GRIDS["logistic"], table.X[rows], table.y[rows], groups=table.household[rows])[1]
    on_everyone = tune(base, early_help.GRIDS["logistic"], table.X, table.y, groups=table.household)[1]
    losses = [r["log_loss"] for r in report]
    assert losses == pytest.approx([r["log_loss"] for r in on_sample], rel=1e-5)  # the L1 solver's last digits wobble
    assert losses != pytest.approx([r["log_loss"] for r in on_everyone], rel=1e-5)
    # the calibration map was chosen on the sample's folds ...
    best = {k: v for k, v in min(report, key=lambda r: r["log_loss"]).items() if k != "log_loss"}
    sample_only = CalibratedEarlyHelp(clone(base).set_params(**best)).fit(
        table.X[rows], table.y[rows], groups=table.household[rows])
    assert model.calibration_report_ == sample_only.calibration_report_
    # ... and the base model refitted on every child
    everyone = clone(base).set_params(**best).fit(table.X, table.y)
    np.testing.assert_allclose(model.estimator_.decision_function(table.X), everyone.decision_function(table.X))
    assert not np.allclose(everyone.decision_function(table.X), sample_only.estimator_.decision_function(table.X))


def test_a_table_within_the_sample_size_is_searched_whole(trained, small_county) -> None:
    settings, result = trained
    table, _ = _train_table(small_county, settings)
    assert len(table.y) < settings.early_help_search_sample
    np.testing.assert_array_equal(early_help.search_rows(table, settings.early_help_search_sample), np.arange(len(table.y)))
    params = tracking.connect(settings.mlflow_tracking_uri).get_run(result.run_id).data.params
    assert params["search_rows"] == params["train_rows"] == str(len(table.y))


# ----------------------------------------------------------------------------- consent ---------


def _copy(processed: Path, to: Path) -> Path:
    shutil.copytree(processed, to)
    return to


def _objection(consents: pd.DataFrame, pseudonym: str, when) -> pd.DataFrame:
    row = {"pseudonym": pseudonym, "purpose": "early_intervention", "status": "objected",
           "recorded_at": pd.Timestamp(when), "method": "portal"}
    return pd.concat([consents, pd.DataFrame([row]).astype(consents.dtypes.to_dict())], ignore_index=True)


def test_consent_is_checked_again_at_training(small_county, tmp_path) -> None:
    settings = small_settings(tmp_path, small_county)
    features = early_help.load_features(small_county.processed)
    table = pd.read_parquet(small_county.processed / "early_help_train.parquet")
    citizens = pd.read_parquet(small_county.processed / "citizens.parquet")
    child = table.dropna(subset=["household"]).iloc[0]
    parent = citizens[(citizens["household"] == child["household"])
                      & (citizens["pseudonym"] != child["pseudonym"])]["pseudonym"]
    objector = parent.iloc[0] if len(parent) else child["pseudonym"]
    snapshot = pd.Timestamp(child["snapshot_date"])

    # an objection recorded since the snapshot: the child is dropped now, and counted
    later = _copy(small_county.processed, tmp_path / "later")
    consents = pd.read_parquet(later / "consents.parquet")
    _objection(consents, objector, snapshot + timedelta(days=30)).to_parquet(later / "consents.parquet")
    loaded = early_help.load_table(later, "train", features, settings=settings, as_of=small_county.as_of)
    assert child["pseudonym"] not in set(loaded.frame["pseudonym"])
    assert loaded.excluded_for_objection >= 1
    assert len(loaded.frame) == len(table) - loaded.excluded_for_objection

    # an objection before the snapshot that the table ignored: training refuses
    earlier = _copy(small_county.processed, tmp_path / "earlier")
    _objection(consents, objector, snapshot - timedelta(days=30)).to_parquet(earlier / "consents.parquet")
    with pytest.raises(UserError, match="objected"):
        early_help.load_table(earlier, "train", features, settings=settings, as_of=small_county.as_of)


# ----------------------------------------------------------------------------- gates -----------


def test_gate_compares_with_the_champion() -> None:
    settings = Settings(early_help_auc_margin=0.01, early_help_ece_margin=0.0)
    champion = {"roc_auc": 0.70, "ece": 0.010}
    fair = {"max_tpr_gap": 0.02, "max_tpr_gap_beyond_noise": 0.0, "max_fpr_gap": 0.01,
            "max_fpr_gap_beyond_noise": 0.0}
    checks, reasons = early_help.gate({"roc_auc": 0.695, "ece": 0.009, **fair}, champion, settings)
    assert not reasons and len(checks) == 4
    _, reasons = early_help.gate({"roc_auc": 0.68, "ece": 0.02, **fair}, champion, settings)
    assert len(reasons) == 2
    assert "ROC AUC 0.680 is worse than the champion's 0.700" in reasons[0]
    assert "ECE 0.0200 is worse than the champion's 0.0100" in reasons[1]
    _, reasons = early_help.gate({"roc_auc": 0.7}, champion, settings)
    assert "lacks metrics" in reasons[0]


def _unfair_copy(processed: Path, to: Path, seed: int = 0) -> tuple[Path, str]:
    """The county with ethnicity as a feature and biased historical labels for one group.

    In the training snapshot, 60% of the children of the largest minority group are labelled
    with an outcome (over-referral in the past); the evaluation snapshot keeps the real labels.
    A model that learns from this uses ethnicity directly and flags that group's children far
    more often than their outcomes justify.
    """
    unfair = _copy(processed, to)
    train = pd.read_parquet(unfair / "early_help_train.parquet")
    group = train.loc[train["ethnicity"] != "White", "ethnicity"].value_counts().index[0]
    column = f"f_ethnicity_{group.lower()}"
    rng = np.random.default_rng(seed)
    for name in ("train", "valid", "score"):
        path = unfair / f"early_help_{name}.parquet"
        table = pd.read_parquet(path)
        table[column] = (table["ethnicity"] == group).astype("float32")
        if name == "train":
            biased = (table["ethnicity"] == group) & (rng.random(len(table)) < 0.6)
            table.loc[biased, "label"] = 1
        table.to_parquet(path)
    features = json.loads((unfair / "early_help_features.json").read_text())
    # smuggled in as if it were a concern indicator: the gate must still refuse the model
    features.append({"name": column, "label": f"recorded ethnicity is {group}", "kind": "flag", "group": "concern"})
    (unfair / "early_help_features.json").write_text(json.dumps(features))
    return unfair, group


def test_promotion_gate_refuses_a_deliberately_unfair_model(small_county, tmp_path, monkeypatch) -> None:
    settings = small_settings(tmp_path, small_county)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    name = settings.early_help_model_name

    fair = early_help.train(small_county.processed, settings, kinds=("logistic",), n_resamples=50)
    first = early_help.promote(settings)
    assert first.promoted and not first.forced, first.reasons
    assert str(tracking.champion_version(name).version) == fair.version

    unfair_dir, group = _unfair_copy(small_county.processed, tmp_path / "unfair")
    unfair = early_help.train(unfair_dir, settings, kinds=("logistic",), n_resamples=50)
    refused = early_help.promote(settings)
    assert not refused.promoted
    assert str(tracking.champion_version(name).version) == fair.version  # champion unchanged
    fpr = [r for r in refused.reasons if "FPR gap" in r]
    assert fpr and "over the limit" in fpr[0] and "ethnicity" in fpr[0] and group in fpr[0], refused.reasons
    assert any("ROC AUC" in r for r in refused.reasons), refused.reasons  # biased labels also cost accuracy

    forced = early_help.promote(settings, force=True)
    assert forced.promoted and forced.forced
    champion = tracking.champion_version(name)
    assert str(champion.version) == unfair.version
    assert champion.tags["champion.forced"] == "true"
    assert champion.tags["champion.reason"].startswith("forced over: ")
    assert "FPR gap" in champion.tags["champion.reason"]

    again = early_help.promote(settings)
    assert not again.promoted and "already the champion" in again.reasons[0]


def test_promote_without_a_challenger_says_what_to_do(tmp_path, small_county) -> None:
    with pytest.raises(UserError, match="signpost train early-help"):
        early_help.promote(small_settings(tmp_path, small_county))


def test_boosting_alone_is_refused_because_it_cannot_explain_its_scores(tmp_path, small_county) -> None:
    with pytest.raises(UserError, match="explain"):
        early_help.train(small_county.processed, small_settings(tmp_path, small_county), kinds=("boosting",))


def test_one_fold_assignment_per_run_and_a_large_countys_benchmark_is_fitted_on_the_sample(
        small_county, tmp_path, monkeypatch) -> None:
    settings = small_settings(tmp_path, small_county).model_copy(
        update={"early_help_search_sample": 300, "early_help_benchmark_max_children": 100,
                "early_help_benchmark_sample": 150})
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    plans = []

    def counted(*args, **kwargs):  # the real fold assignment, counted
        plans.append(real(*args, **kwargs))
        return plans[-1]

    real = early_help.fold_plan
    monkeypatch.setattr(early_help, "fold_plan", counted)
    monkeypatch.setattr(recommender_early_help, "fold_plan", counted)
    result = early_help.train(small_county.processed, settings, n_resamples=20)
    while mlflow.active_run() is not None:
        mlflow.end_run()
    # households assigned to folds once, for both models' searches and calibrations
    assert len(plans) == 1 and plans[0].n_rows == 300

    client = MlflowClient()
    parent = client.get_run(result.run_id).data.params
    sample_words = "a stratified sample of 150 children from the search sample"
    assert parent["benchmark_fitted_on"] == sample_words
    boosting = next(c for c in result.candidates if c.kind == "boosting")
    assert client.get_run(boosting.run_id).data.params["fitted_on"] == sample_words
    card = _artifact_text(result.run_id, "model_card.md")
    assert f"never served, were fitted on {sample_words}" in card
    # the served logistic model is still refitted on every child; the benchmark on the sample only
    table, _ = _train_table(small_county, settings)
    rows = early_help.search_rows(table, 300)
    logistic = next(c for c in result.candidates if c.kind == "logistic").model
    everyone = clone(logistic.estimator).fit(table.X, table.y)
    np.testing.assert_allclose(logistic.estimator_.decision_function(table.X), everyone.decision_function(table.X))
    bench = rows[early_help.search_rows(early_help.sample_table(table, rows), 150)]
    assert len(bench) == 150 and set(bench) <= set(rows)
    on_sample = clone(boosting.model.estimator).fit(table.X[bench], table.y[bench])
    np.testing.assert_allclose(boosting.model.estimator_.decision_function(table.X),
                               on_sample.decision_function(table.X))
