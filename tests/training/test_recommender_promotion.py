"""`promote recommender`: first promotion, fair comparison with a margin, forced promotion recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from signpost.errors import UserError
from training.recommender import train
from training.recommender_promotion import promote

from .recommender_fixtures import write_processed


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> Path:
    return write_processed(tmp_path_factory.mktemp("processed_promo"), n_citizens=400, seed=1)


def test_promotion_flow(processed, mlflow_settings) -> None:
    with pytest.raises(UserError, match="no challenger"):
        promote(processed, settings=mlflow_settings)

    first = train(processed, models="popularity", budget=1, settings=mlflow_settings)
    decision = promote(processed, settings=mlflow_settings)
    assert decision.promoted and "first promotion" in decision.reason
    client = MlflowClient()
    assert str(client.get_model_version_by_alias("signpost-recommender", "champion").version) == first.version

    # a stronger challenger passes the fair comparison
    second = train(processed, models="ease", budget=1, settings=mlflow_settings)
    decision = promote(processed, settings=mlflow_settings)
    assert decision.promoted and not decision.forced, decision.reason
    assert list(decision.table["metric"])[0] == "ndcg@10"
    champion = client.get_model_version_by_alias("signpost-recommender", "champion")
    assert str(champion.version) == second.version
    assert champion.tags["champion.forced"] == "false"

    # popularity as challenger loses beyond the margin: refused, then forced and recorded
    third = train(processed, models="popularity", budget=1, settings=mlflow_settings)
    decision = promote(processed, settings=mlflow_settings)
    assert not decision.promoted and "below the champion" in decision.reason
    assert str(client.get_model_version_by_alias("signpost-recommender", "champion").version) == second.version
    decision = promote(processed, force=True, settings=mlflow_settings)
    assert decision.promoted and decision.forced
    champion = client.get_model_version_by_alias("signpost-recommender", "champion")
    assert str(champion.version) == third.version
    assert champion.tags["champion.forced"] == "true" and "forced despite" in champion.tags["champion.reason"]
