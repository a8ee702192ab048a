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
