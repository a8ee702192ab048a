"""Registered pyfuncs load and predict in a fresh virtual environment built from their logged
requirements only: no Signpost install, no checkout on the path (see training/portable_pyfunc.py).

The slow tests build one venv with pip per distinct requirements file (both models share one)
and call `predict` through that venv's python in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import mlflow
from training import early_help
from training.early_help_pyfunc import OUTPUT_COLUMNS as EARLY_HELP_COLUMNS
from training.portable_pyfunc import model_code
from training.recommender import train
from training.recommender_pyfunc import EXAMPLE_PSEUDONYM
from training.recommender_pyfunc import OUTPUT_COLUMNS as RECOMMENDER_COLUMNS

from .recommender_fixtures import write_processed
from .test_early_help import small_settings

#: Never importable where the model is loaded: ours (beyond what travels with the model), the
#: product's own dependencies, and the full mlflow package's server side (flask, sqlalchemy).
ABSENT = ("signpost", "serving", "features", "synthetic", "training.tracking", "training.recommender",
          "duckdb", "flask", "sqlalchemy")

#: Run by the fresh venv's python in isolated mode (-I: no cwd, no PYTHONPATH, no user site).
PREDICT = textwrap.dedent(
    """
    import importlib.util, io, json, sys
    import mlflow.pyfunc
    import pandas as pd

    model_path, input_path, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    model = mlflow.pyfunc.load_model(model_path)
    given = json.loads(open(input_path).read())
    frame = pd.read_json(io.StringIO(given["frame"]), orient="split", dtype=False).astype(given["dtypes"])
    prediction = model.predict(frame, params=params)

    def importable(name):
        try:
            return importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            return False

    print(json.dumps({
        "prediction": json.loads(prediction.to_json(orient="records")),
        "importable": [name for name in json.loads(sys.argv[4]) if importable(name)],
    }))
    """
)


def test_the_logged_code_and_requirements_are_what_the_model_imports(tmp_path) -> None:
    code = model_code("training.recommender_pyfunc", tmp_path)
    names = {requirement.split("==")[0] for requirement in code.requirements}
    assert {"mlflow-skinny", "numpy", "scipy", "pandas", "implicit", "scikit-learn"} <= names
    assert all(requirement.count("==") == 1 for requirement in code.requirements)  # exact pins
    assert not names & {"mlflow", "signpost", "fastapi", "duckdb", "sqlalchemy", "uvicorn", "pyarrow"}
    shipped = {path.name for path in code.code_paths}
    assert shipped == {"recommender", "training"}
    staged = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.py")}
    assert "training/recommender_pyfunc.py" in staged and "training/tracking.py" not in staged


def test_a_pyfunc_module_that_needs_the_product_is_refused(tmp_path, monkeypatch) -> None:
    (tmp_path / "needs_settings_pyfunc.py").write_text("from signpost.settings import get_settings\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="signpost.settings.*does not travel with the model"):
        model_code("needs_settings_pyfunc", tmp_path / "staging")


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory):
    """A venv per distinct requirements file, built with pip from that file alone."""
    built: dict[str, Path] = {}

    def python_for(requirements: Path) -> Path:
        text = requirements.read_text()
        if text not in built:
            venv = tmp_path_factory.mktemp("fresh-venv")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-input", "--no-compile"]
            subprocess.run([*pip, "-r", str(requirements)], check=True, env=_clean_environment())
            built[text] = venv / "bin" / "python"
        return built[text]

    return python_for


def _clean_environment() -> dict[str, str]:
    """The caller's environment without anything that could point at the checkout or a store."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("MLFLOW_", "SIGNPOST_", "PYTHON", "VIRTUAL_ENV"))}


def _predict_fresh(python: Path, model_uri: str, frame: pd.DataFrame, params: dict | None, tmp_path: Path):
    """(prediction records, importable names) from the fresh venv; the expected records here."""
    model_dir = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(tmp_path / "model"))
    # JSON, not Parquet: pyarrow is not a requirement; the numeric dtypes travel beside it
    inputs = tmp_path / "input.json"
    numeric = {column: str(dtype) for column, dtype in frame.dtypes.items() if dtype.kind in "biuf"}
    inputs.write_text(json.dumps({"frame": frame.to_json(orient="split", index=False), "dtypes": numeric}))
    completed = subprocess.run(
        [str(python), "-I", "-c", PREDICT, model_dir, str(inputs), json.dumps(params), json.dumps(ABSENT)],
        check=False, capture_output=True, text=True, cwd=tmp_path, env=_clean_environment(),
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    expected = mlflow.pyfunc.load_model(model_dir).predict(frame, params=params)
    return answer, json.loads(expected.to_json(orient="records"))


@pytest.mark.slow
def test_recommender_predicts_in_a_fresh_environment(mlflow_settings, fresh_python, tmp_path) -> None:
    processed = write_processed(tmp_path / "processed")
    train(processed, models="als", budget=1, settings=mlflow_settings)
    uri = f"models:/{mlflow_settings.recommender_model_name}@challenger"
    known = pd.read_parquet(processed / "citizens.parquet")["pseudonym"].head(20).tolist()
    frame = pd.DataFrame({"pseudonym": [*known, EXAMPLE_PSEUDONYM]})

    python = fresh_python(Path(mlflow.pyfunc.get_model_dependencies(uri)))
    answer, expected = _predict_fresh(python, uri, frame, {"k": 3}, tmp_path)

    assert answer["importable"] == []  # no Signpost, nothing of the product, skinny MLflow
    rows = answer["prediction"]
    assert rows == expected and rows
    assert set(rows[0]) == set(RECOMMENDER_COLUMNS)
    assert {r["pseudonym"] for r in rows} <= set(frame["pseudonym"])
    assert any(r["personalised"] for r in rows) and all(r["reason"] for r in rows)
    unknown = [r for r in rows if r["pseudonym"] == EXAMPLE_PSEUDONYM]
    assert unknown and not any(r["personalised"] for r in unknown)


@pytest.mark.slow
def test_early_help_model_predicts_in_a_fresh_environment(small_county, fresh_python, tmp_path, monkeypatch) -> None:
    settings = small_settings(tmp_path / "store", small_county)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    result = early_help.train(small_county.processed, settings, kinds=("logistic",), n_resamples=20)
    uri = f"models:/{settings.early_help_model_name}/{result.version}"
    frame = pd.read_parquet(small_county.processed / "early_help_score.parquet").head(40)

    python = fresh_python(Path(mlflow.pyfunc.get_model_dependencies(uri)))
    answer, expected = _predict_fresh(python, uri, frame, None, tmp_path)

    assert answer["importable"] == []
    rows = answer["prediction"]
    assert len(rows) == len(frame) and rows == expected
    assert set(rows[0]) == set(EARLY_HELP_COLUMNS)
    assert [r["pseudonym"] for r in rows] == frame["pseudonym"].astype(str).tolist()
    assert all(0.0 <= r["probability"] <= 1.0 and r["band"] in {"low", "medium", "high"} for r in rows)
