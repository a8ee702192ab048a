"""The registered early-help model: an MLflow pyfunc around the pure `EarlyHelpScorer`.

Input: rows of ``early_help_score.parquet`` — ``pseudonym`` plus the ``f_*`` feature columns
(other columns are ignored). Output, one row per input row: ``pseudonym``, ``probability``
(calibrated), ``band`` (low/medium/high) and ``top_factors`` (JSON list of
``{feature, text, direction, contribution}``, raising factors only). A suggestion for a
caseworker to review, never a decision.

Serving can skip the DataFrame round trip:
``mlflow.pyfunc.load_model(uri).unwrap_python_model().scorer`` is the `EarlyHelpScorer`.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

import mlflow
from recommender.early_help import EarlyHelpScorer

OUTPUT_COLUMNS = ("pseudonym", "probability", "band", "top_factors")


class EarlyHelpPyfunc(mlflow.pyfunc.PythonModel):
    """Holds one `EarlyHelpScorer` (pickled with the model)."""

    def __init__(self, scorer: EarlyHelpScorer) -> None:
        self.scorer = scorer

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return score_frame(self.scorer, model_input)


def score_frame(scorer: EarlyHelpScorer, frame: pd.DataFrame) -> pd.DataFrame:
    """Score rows of the score table (see the module docstring for the columns)."""
    missing = [name for name in scorer.feature_names if name not in frame.columns]
    if missing:
        raise ValueError(f"early-help input lacks feature columns {missing}")
    X = frame[scorer.feature_names].to_numpy(dtype=np.float64, na_value=np.nan)
    scored = scorer.score(X)
    pseudonyms = frame["pseudonym"].astype(str).to_numpy() if "pseudonym" in frame else np.full(len(frame), "")
    return pd.DataFrame(
        {
            "pseudonym": pseudonyms,
            "probability": scored.probability.astype(np.float64),
            "band": scored.band.astype(str),
            "top_factors": [
                json.dumps(
                    [
                        {"feature": f.feature, "text": f.text, "direction": f.direction,
                         "contribution": round(f.contribution, 4)}
                        for f in factors
                    ]
                )
                for factors in scored.factors
            ],
        },
        columns=list(OUTPUT_COLUMNS),
    )


def input_example(frame: pd.DataFrame, feature_names: list[str], n: int = 3) -> pd.DataFrame:
    """A synthetic input example: made-up pseudonyms and per-feature quantiles, no real child.

    Each example row takes the 50th, 75th and 90th… percentile of every feature over the
    table (aggregate figures, rounded), so no row equals a real record.
    """
    quantiles = np.linspace(0.5, 0.95, n)
    values = frame[feature_names].astype("float64").quantile(quantiles).round(0)
    example = values.reset_index(drop=True).astype("float32")
    example.insert(
        0,
        "pseudonym",
        [hashlib.sha256(f"signpost-example-{i}".encode()).hexdigest() for i in range(n)],
    )
    return example
