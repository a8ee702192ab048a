"""The shared MLflow plumbing against a real (temporary) SQLite tracking store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from sklearn.dummy import DummyClassifier

import mlflow
from signpost.errors import UserError
from training import tracking


def _manifest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    path.write_text(
        json.dumps(
            {
                "as_of": "2026-09-30",
                "split_date": "2026-06-30",
                "consent_snapshot_id": "consent-abc",
                "pseudonym_key_id": "key-1",
            }
        )
    )
    return path


def _logged_model() -> str:
    model = DummyClassifier().fit(np.zeros((4, 1)), [0, 1, 0, 1])
    return mlflow.sklearn.log_model(model, name="model").model_uri


def test_configure_uses_the_settings_store_and_creates_its_folder(mlflow_settings) -> None:
    client = tracking.configure(mlflow_settings)
    assert mlflow.get_tracking_uri() == mlflow_settings.mlflow_tracking_uri
    assert mlflow.get_registry_uri() == mlflow_settings.mlflow_tracking_uri
    db = Path(mlflow_settings.mlflow_tracking_uri.removeprefix("sqlite:///"))
    assert db.parent.is_dir()
    assert client.search_experiments()  # the store answers


def test_experiment_artifacts_live_under_the_artifact_root(mlflow_settings) -> None:
    experiment_id = tracking.use_experiment("demo", mlflow_settings)
    again = tracking.use_experiment("demo", mlflow_settings)
    assert again == experiment_id
    location = MlflowClient().get_experiment(experiment_id).artifact_location
    root = Path(mlflow_settings.mlflow_artifact_root).resolve()
    assert location == (root / "demo").as_uri()
    with mlflow.start_run():
        figure, axis = plt.subplots()
        axis.plot([0, 1], [0, 1])
        tracking.log_figure(figure, "diagonal")
    assert list(root.rglob("figures/diagonal.png"))


def test_data_tags_carry_lineage(tmp_path: Path) -> None:
    path = _manifest(tmp_path / "processed")
    tags = tracking.data_tags(tmp_path / "processed")
    assert tags["data.manifest_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert tags["data.consent_snapshot_id"] == "consent-abc"
    assert tags["data.pseudonym_key_id"] == "key-1"
    assert tags["data.as_of"] == "2026-09-30"
    assert tags["code.version"] not in ("", "unknown")


def test_data_tags_tell_the_user_to_build_features_first(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="signpost features"):
        tracking.data_tags(tmp_path)


def test_register_alias_and_promotion_reason(mlflow_settings) -> None:
    tracking.use_experiment("registry", mlflow_settings)
    assert tracking.champion_version("m") is None
    with mlflow.start_run() as run:
        mlflow.log_metric("auc", 0.8)
        first = tracking.register(_logged_model(), "m", tags={"kind": "dummy"})
    assert first.aliases == ["challenger"] and first.tags["kind"] == "dummy"
    assert first.run_id == run.info.run_id
    assert tracking.run_metrics(first) == {"auc": 0.8}
    assert str(tracking.challenger_version("m").version) == str(first.version)
    assert tracking.champion_version("m") is None

    tracking.set_alias("m", first.version, "champion", reason="first model")
    with mlflow.start_run():
        second = tracking.register(_logged_model(), "m")
    assert str(tracking.challenger_version("m").version) == str(second.version)
    promoted = tracking.set_alias("m", second.version, "champion", reason="gate skipped", forced=True)
    assert str(tracking.champion_version("m").version) == str(second.version)
    assert promoted.tags["champion.reason"] == "gate skipped"
    assert promoted.tags["champion.forced"] == "true"
    assert promoted.tags["champion.previous_version"] == str(first.version)


def test_the_gateway_reads_what_training_wrote_and_never_creates_a_store(mlflow_settings, tmp_path: Path) -> None:
    """Serving and the analyst pages connect through the same module: no store is made for
    them, a missing model is None (not an error), and artifacts read back as bytes."""
    missing = tmp_path / "nowhere" / "mlflow.db"
    with pytest.raises(tracking.NoRegistry, match="train and promote a model first"):
        tracking.connect(f"sqlite:///{missing}")
    assert not missing.parent.exists()

    tracking.use_experiment("gateway", mlflow_settings)
    with mlflow.start_run() as run:
        mlflow.log_text("# card", "model_card.md")
        version = tracking.register(_logged_model(), "m")
    registry = tracking.connect(mlflow_settings.mlflow_tracking_uri)
    assert tracking.champion_version("m", registry) is None
    assert tracking.champion_version("no-such-model", registry) is None
    assert str(tracking.challenger_version("m", registry).version) == str(version.version)
    with pytest.raises(mlflow.exceptions.MlflowException) as refused:
        registry.get_model_version("m", "99")
    assert tracking.is_missing(refused.value)
    uri = mlflow_settings.mlflow_tracking_uri
    assert tracking.read_artifact(run.info.run_id, "model_card.md", uri) == b"# card"
    assert tracking.read_artifact(run.info.run_id, "figures/none.png", uri) is None
    tracking.set_alias("m", version.version, tracking.CHAMPION, reason="test")
    loaded = tracking.load_model("m", str(tracking.champion_version("m", registry).version))
    assert loaded.predict(np.zeros((2, 1))).shape == (2,)
