"""The one MLflow gateway: tracking store, data lineage tags, figures, registry aliases, loading.

Training, serving and the analyst pages all reach MLflow through here (this is the only module
that builds an ``MlflowClient``), so all runs land in the same store, carry the same lineage
(which processed data, which consent snapshot, which code), promotion always leaves a reason
on the model version it moved, and "no such model" means the same everywhere. MLflow 3 API:
models are logged with ``name=`` and registry stages are replaced by aliases
(``challenger``, ``champion``). Plotting libraries are imported only when a figure is logged.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

import mlflow
from signpost.digests import sha256_file
from signpost.errors import UserError
from signpost.settings import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

CHALLENGER = "challenger"
CHAMPION = "champion"
_SQLITE = "sqlite:///"
#: What the registry answers when a model, version or alias does not exist.
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


class NoRegistry(UserError):
    """The configured tracking store does not exist yet (nothing was ever trained)."""


def is_missing(error: MlflowException) -> bool:
    """Whether the registry refused because the model, version or alias does not exist."""
    return error.error_code in _MISSING


def connect(uri: str) -> MlflowClient:
    """A client for an existing store, pointed at by MLflow's tracking and registry URIs too
    (so ``models:/`` URIs resolve); unlike `configure`, never creates a store: serving and the
    analyst pages read what training wrote. NoRegistry when a SQLite store does not exist."""
    if uri.startswith(_SQLITE) and not Path(uri[len(_SQLITE) :]).exists():
        raise NoRegistry(f"no MLflow registry at {uri[len(_SQLITE) :]}: train and promote a model first")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def client() -> MlflowClient:
    """A client on the store `configure` or `connect` pointed MLflow at."""
    return MlflowClient()


def load_model(name: str, version: str) -> Any:
    """A registered version as an MLflow pyfunc (on the store `connect` pointed at)."""
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}")


def read_artifact(run_id: str, path: str, uri: str) -> bytes | None:
    """One artifact's bytes, or None when the run has no such artifact."""
    with tempfile.TemporaryDirectory() as workdir:
        try:
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=workdir,
                                                        tracking_uri=uri)
            return Path(local).read_bytes()
        except Exception:  # noqa: BLE001 — a missing artifact is reported as missing
            return None


def configure(settings: Settings | None = None) -> MlflowClient:
    """Point MLflow's tracking and registry at the configured store and return a client.

    The URI comes from ``settings.mlflow_tracking_uri`` (itself defaulting to
    ``MLFLOW_TRACKING_URI``, then ``sqlite:///mlflow/mlflow.db``); a SQLite file's folder
    is created so a fresh checkout works.
    """
    settings = settings or get_settings()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = settings.mlflow_tracking_uri
    if uri.startswith(_SQLITE):
        Path(uri[len(_SQLITE) :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def use_experiment(name: str, settings: Settings | None = None) -> str:
    """Create (once) and activate an experiment whose artifacts live under the artifact root.

    The artifact location is an absolute ``file://`` URI so runs started from any working
    directory find the same files.
    """
    settings = settings or get_settings()
    client = configure(settings)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = (Path(settings.mlflow_artifact_root).resolve() / name).as_uri()
        experiment_id = client.create_experiment(name, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def code_version() -> str:
    """The git commit of this checkout (``+dirty`` if modified), else the package version."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        try:
            return importlib.metadata.version("signpost")
        except importlib.metadata.PackageNotFoundError:
            return "unknown"


def read_manifest(processed_dir: Path) -> dict[str, Any]:
    """The processed folder's manifest, or a `UserError` saying how to make one."""
    path = Path(processed_dir) / "manifest.json"
    if not path.is_file():
        raise UserError(
            f"{path} does not exist: build the processed folder first with "
            "`signpost features --raw RAW --out DIR --as-of DATE`"
        )
    return json.loads(path.read_text())


def data_tags(processed_dir: Path) -> dict[str, str]:
    """Lineage tags for a run: which processed data, consent snapshot and code produced it."""
    path = Path(processed_dir) / "manifest.json"
    manifest = read_manifest(processed_dir)
    return {
        "data.manifest_sha256": sha256_file(path),
        "data.consent_snapshot_id": str(manifest.get("consent_snapshot_id", "")),
        "data.pseudonym_key_id": str(manifest.get("pseudonym_key_id", "")),
        "data.as_of": str(manifest.get("as_of", "")),
        "data.split_date": str(manifest.get("split_date", "")),
        "code.version": code_version(),
    }


def log_figure(figure: Figure, name: str) -> None:
    """Log a matplotlib figure as ``figures/<name>.png`` and free it."""
    import matplotlib.pyplot as plt

    mlflow.log_figure(figure, f"figures/{name}.png")
    plt.close(figure)


def log_frame(frame: pd.DataFrame, artifact_file: str) -> None:
    """Log a small table as a CSV artifact (analysts open these in a spreadsheet)."""
    mlflow.log_text(frame.to_csv(index=False), artifact_file)


def register(
    model_uri: str,
    name: str,
    *,
    alias: str = CHALLENGER,
    tags: dict[str, str] | None = None,
) -> ModelVersion:
    """Register ``model_uri`` as a new version of ``name`` and point ``alias`` at it."""
    version = mlflow.register_model(model_uri, name, tags=tags)
    client().set_registered_model_alias(name, alias, version.version)
    return client().get_model_version(name, version.version)


def version_by_alias(name: str, alias: str, registry: MlflowClient | None = None) -> ModelVersion | None:
    """The version ``alias`` points to, or None if the model or the alias does not exist."""
    try:
        return (registry or client()).get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if is_missing(error):
            return None
        raise


def champion_version(name: str, registry: MlflowClient | None = None) -> ModelVersion | None:
    """The current champion of ``name``, or None before the first promotion."""
    return version_by_alias(name, CHAMPION, registry)


def challenger_version(name: str, registry: MlflowClient | None = None) -> ModelVersion | None:
    """The latest challenger of ``name``, or None if nothing has been trained yet."""
    return version_by_alias(name, CHALLENGER, registry)


def set_alias(
    name: str, version: str | int, alias: str, *, reason: str, forced: bool = False
) -> ModelVersion:
    """Move ``alias`` to ``version`` and record why (and whether a gate was overridden).

    The reason, the forced flag and the time are stored as tags on the version, so the
    registry itself answers "why is this the champion?".
    """
    registry = client()
    version = str(version)
    previous = version_by_alias(name, alias, registry)
    registry.set_registered_model_alias(name, alias, version)
    registry.set_model_version_tag(name, version, f"{alias}.reason", reason)
    registry.set_model_version_tag(name, version, f"{alias}.forced", str(bool(forced)).lower())
    registry.set_model_version_tag(
        name, version, f"{alias}.set_at", datetime.now(UTC).isoformat(timespec="seconds")
    )
    if previous is not None and str(previous.version) != version:
        registry.set_model_version_tag(
            name, version, f"{alias}.previous_version", str(previous.version)
        )
    return registry.get_model_version(name, version)


def run_metrics(version: ModelVersion) -> dict[str, float]:
    """Metrics of the run that produced a registered version (what promotion gates compare)."""
    if not version.run_id:
        return {}
    return dict(client().get_run(version.run_id).data.metrics)
