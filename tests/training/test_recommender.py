"""`train recommender` end to end on a small processed folder, with a throwaway MLflow store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from recommender.selection import choose_simplest
from signpost.errors import UserError
from training.recommender import (
    candidate_configs,
    load_processed,
    metric_key,
    parse_models,
    train,
)

from .recommender_fixtures import write_processed


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> Path:
    return write_processed(tmp_path_factory.mktemp("processed"))


def test_metric_keys_are_mlflow_safe() -> None:
    assert metric_key("ndcg@10") == "ndcg_at_10"
    assert metric_key("recall@10.age_band.75+") == "recall_at_10.age_band.75_"


def test_parse_models() -> None:
    assert parse_models("ease,popularity") == ["popularity", "ease"]
    with pytest.raises(UserError, match="unknown model"):
        parse_models("ease,magic")


def test_budget_limits_configurations() -> None:
    configs = candidate_configs("ease", 3)
    assert len(configs) == 3 and configs[0] == {"l2": 200.0, "binary": True}
    assert candidate_configs("popularity", 5) == [{}]


def test_missing_processed_folder_says_what_to_do(tmp_path) -> None:
    with pytest.raises(UserError, match="signpost features"):
        load_processed(tmp_path)


def test_train_logs_runs_and_registers_a_challenger(processed, mlflow_settings, tmp_path) -> None:
    result = train(processed, models="popularity,demographic,ease,ease_recent,itemknn,als,blend", budget=2,
                   settings=mlflow_settings, search_sample=300)
    client = MlflowClient()
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags["data.consent_snapshot_id"] == "test-snapshot"
    assert "code.version" in parent.data.tags and "data.manifest_sha256" in parent.data.tags
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.parent_run_id}'"
    )
    models = {"popularity", "demographic", "ease", "ease_recent", "itemknn", "als", "blend"}
    assert {r.data.tags["recommender.model"] for r in children} == models
    assert parent.data.params["search_citizens"] == "300"
    for run in children:
        for k in (5, 10, 20):
            assert f"ndcg_at_{k}" in run.data.metrics and f"recall_at_{k}" in run.data.metrics
        assert "fit_seconds" in run.data.metrics and "search_ndcg_at_10" in run.data.metrics
        assert run.data.metrics["ndcg_at_10_low"] <= run.data.metrics["ndcg_at_10"] <= run.data.metrics["ndcg_at_10_high"]
        assert any(m.startswith("recall_at_10.age_band.") for m in run.data.metrics)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
        assert artifacts == {"figures/metrics_vs_k.png", "figures/per_group_recall.png"}
    # the choice: the simplest model level with the best on the temporal hold-out
    choice = choose_simplest({r.name: r.per_citizen_ndcg for r in result.reports}, min_gain=mlflow_settings.recommender_min_gain)
    assert result.best == choice.chosen and result.reason == choice.reason
    version = client.get_model_version_by_alias("signpost-recommender", "challenger")
    assert str(version.version) == result.version
    assert json.loads(version.tags["recommender.config"])["model"] == result.best
    assert float(version.tags["test.ndcg_at_10_low"]) <= float(version.tags["test.ndcg_at_10_high"])
    assert version.tags["recommender.versus_ease"]
    table = result.table()
    assert set(table["model"]) == models
    assert (table["ndcg@10 low"] <= table["ndcg@10"]).all() and (table["ndcg@10"] <= table["ndcg@10 high"]).all()

    # the registered version carries its model card and fairness report
    artifacts = {a.path for a in client.list_artifacts(version.run_id)}
    assert {"model_card.md", "fairness.csv", "comparison.csv", "selection.json"} <= artifacts
    assert "figures/fairness.png" in {a.path for a in client.list_artifacts(version.run_id, "figures")}
    card = client.download_artifacts(version.run_id, "model_card.md", str(tmp_path))
    text = Path(card).read_text()
    for heading in ("## Data", "## Policy", "## Selection and evaluation", "## Results by group", "## Limitations"):
        assert heading in text
    assert f"**Chosen: {result.best}**" in text and "95%" in text and "sensitive" in text
    fairness = pd.read_csv(client.download_artifacts(version.run_id, "fairness.csv", str(tmp_path)))
    assert {"age_band", "postcode_district", "sex"} <= set(fairness["characteristic"])
    assert (fairness["citizens"] >= 10).all() and fairness["personalised share"].between(0, 1).all()

    # the registered pyfunc answers for pseudonyms, in a fresh process, without raw ids
    pseudonyms = pd.read_parquet(processed / "citizens.parquet")["pseudonym"].head(5).tolist()
    script = (
        "import json, sys, mlflow, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models:/signpost-recommender@challenger')\n"
        "out = m.predict(pd.DataFrame({'pseudonym': json.loads(sys.argv[1])}), params={'k': 3})\n"
        "print(out.to_json(orient='records'))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, json.dumps(pseudonyms)], capture_output=True, text=True, check=True
    )
    rows = json.loads(completed.stdout.strip().splitlines()[-1])
    assert rows and {r["pseudonym"] for r in rows} <= set(pseudonyms)
    assert set(rows[0]) == {"pseudonym", "rank", "service_id", "name", "score", "reason", "means_tested", "personalised"}
    for pseudonym in {r["pseudonym"] for r in rows}:
        ranks = [r["rank"] for r in rows if r["pseudonym"] == pseudonym]
        assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) <= 3
    assert all(r["reason"] for r in rows)


def test_notebook_runs_on_the_logged_runs(processed, mlflow_settings, tmp_path) -> None:
    import nbformat
    from nbclient import NotebookClient

    train(processed, models="popularity,ease", budget=1, register_model=False, settings=mlflow_settings)
    root = Path(__file__).resolve().parents[2]
    notebook = nbformat.read(root / "notebooks" / "evaluate_recommenders.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(
        o.get("text", "") + json.dumps(o.get("data", {})) for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "ndcg@10" in outputs and "image/png" in outputs
