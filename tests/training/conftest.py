"""Fixtures for training tests: a throwaway MLflow store per test (never the repo's mlflow/)."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlflow
from signpost.settings import Settings


@pytest.fixture
def mlflow_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose tracking store and artifact root live in the test's temporary folder."""
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    settings = Settings(mlflow_tracking_uri=uri, mlflow_artifact_root=tmp_path / "artifacts")
    yield settings
    while mlflow.active_run() is not None:
        mlflow.end_run()
