"""notebooks/early_help_fairness.ipynb runs top to bottom on a small county's trained model."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

import mlflow
from signpost.settings import Settings
from training import early_help

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "early_help_fairness.ipynb"


def test_fairness_notebook_executes(small_county, tmp_path, monkeypatch) -> None:
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "SIGNPOST_MLFLOW_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "SIGNPOST_PROCESSED_DIR": str(small_county.processed),
        "SIGNPOST_CASEWORKER_CAPACITY_PER_MONTH": "5",
        "SIGNPOST_EARLY_HELP_MIN_GROUP_OUTCOMES": "5",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    early_help.train(small_county.processed, Settings(), kinds=("logistic",), n_resamples=50)
    while mlflow.active_run() is not None:
        mlflow.end_run()

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(str(o.get("data", {}).get("text/markdown", "")) + str(o.get("text", "")) for o in outputs)
    assert "children" in text and "ROC AUC" in text and "beyond sampling noise" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 1 + 5 + 1  # overall reliability, calibration per attribute, by sex
    html = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "ethnicity" in html and "imd_decile" in html  # the per-group table rendered
    pseudonyms = small_county.processed / "citizens.parquet"
    import pandas as pd

    assert not any(p in text + html for p in pd.read_parquet(pseudonyms)["pseudonym"])
