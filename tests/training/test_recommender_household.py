"""`train recommender --models ease_household` end to end: households reach every refit.

On the tiny processed folder (households of 1-4, a tenth with none recorded): training picks the
candidate by name and registers it; the registered pyfunc holds weights fitted on
``interactions_all`` with the processed citizens' households (not everyone alone) and answers
for pseudonyms; promotion refits it with the same households when it is the champion.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import mlflow
from recommender.candidates import from_config
from recommender.ease import HouseholdEASE
from training.recommender import evaluate_split, load_processed, temporal_split, train
from training.recommender_promotion import promote

from .recommender_fixtures import write_processed


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> Path:
    return write_processed(tmp_path_factory.mktemp("processed_household"), n_citizens=500, seed=3)


def test_ease_household_is_trained_registered_served_and_promoted(processed, mlflow_settings) -> None:
    result = train(processed, models="ease_household", budget=2, settings=mlflow_settings, search_sample=300)
    assert result.best == "ease_household" and [r.name for r in result.reports] == ["ease_household"]
    client = MlflowClient()
    version = client.get_model_version_by_alias("signpost-recommender", "challenger")
    config = json.loads(version.tags["recommender.config"])
    assert config["model"] == "ease_household" and 0 <= config["params"]["household_weight"] <= 1

    data = load_processed(processed)
    assert (data.households >= 0).any() and (data.households < 0).any()
    # consent is applied where the matrices are built: no row for anyone who did not opt in
    assert not np.diff(data.all.indptr)[~data.citizens["consent_personalisation"].to_numpy(dtype=bool)].any()

    pyfunc = mlflow.pyfunc.load_model("models:/signpost-recommender@challenger")
    served = pyfunc.unwrap_python_model().signposter.model
    assert isinstance(served, HouseholdEASE)
    with_households = from_config(config).fit(data.all, households=data.households)
    np.testing.assert_array_equal(served.weights_, with_households.weights_)
    if config["params"]["household_weight"] > 0:
        alone = from_config(config).fit(data.all, households=np.full(len(data.households), -1))
        assert not np.allclose(served.weights_, alone.weights_)

    pseudonyms = data.citizens.loc[data.citizens["consent_personalisation"], "pseudonym"].head(6).tolist()
    out = pyfunc.predict(pd.DataFrame({"pseudonym": pseudonyms}), params={"k": 3})
    assert set(out["pseudonym"]) == set(pseudonyms) and out["reason"].map(bool).all()
    assert out["personalised"].any()

    # as champion, promotion refits it on the training split with the same households
    assert promote(processed, settings=mlflow_settings).promoted
    train(processed, models="ease", budget=1, settings=mlflow_settings, search_sample=300)
    decision = promote(processed, settings=mlflow_settings, force=True)
    split = temporal_split(data)
    expected = evaluate_split(split.fit_model(from_config(config)), split, data)[0].metrics["ndcg@10"]
    champion_column = f"champion v{version.version}"
    assert decision.table.set_index("metric").loc["ndcg@10", champion_column] == pytest.approx(expected)
