"""The recommender on the real pipeline's output: a generated county, processed by `features`."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from training.recommender import train
from training.recommender_evaluation import compare_with_oracle
from training.recommender_promotion import promote

pytestmark = pytest.mark.slow


def test_train_promote_and_compare_with_oracle(small_county, mlflow_settings) -> None:
    settings = mlflow_settings.model_copy(update={"pseudonym_key": SecretStr(small_county.key)})
    result = train(small_county.processed, models="popularity,demographic,ease,itemknn,blend", budget=2, settings=settings)
    table = result.table().set_index("model")
    assert table.loc["ease", "ndcg@10"] > table.loc["popularity", "ndcg@10"]
    assert promote(small_county.processed, settings=settings).promoted

    frame = compare_with_oracle(small_county.raw / "truth", small_county.processed, settings).set_index("ranking")
    assert list(frame.columns)[:2] == ["recall@10", "ndcg@10"]
    oracle = frame.loc["oracle"]
    model_row = frame.drop(index=["oracle", "popularity"]).iloc[0]
    # the truth's probabilities rank better than anything learned from data
    assert oracle["ndcg@10"] >= model_row["ndcg@10"] and oracle["ndcg@10"] > frame.loc["popularity", "ndcg@10"]


def test_champion_loads_in_a_fresh_process(small_county, mlflow_settings) -> None:
    """The acceptance check: `models:/signpost-recommender@champion` answers for pseudonyms."""
    import json
    import subprocess
    import sys

    import pandas as pd

    train(small_county.processed, models="popularity,ease", budget=1, settings=mlflow_settings)
    assert promote(small_county.processed, settings=mlflow_settings).promoted
    citizens = pd.read_parquet(small_county.processed / "citizens.parquet")
    pseudonyms = citizens.loc[citizens["consent_personalisation"], "pseudonym"].head(8).tolist()
    script = (
        "import json, sys, mlflow, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models:/signpost-recommender@champion')\n"
        "print(m.predict(pd.DataFrame({'pseudonym': json.loads(sys.argv[1])})).to_json(orient='records'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, json.dumps(pseudonyms)], capture_output=True, text=True, check=True)
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert {r["pseudonym"] for r in rows} == set(pseudonyms)
    assert all(r["service_id"] and r["reason"] and r["score"] == r["score"] for r in rows)
    assert any(r["personalised"] for r in rows) and max(r["rank"] for r in rows) == 10
