"""Batch scoring of every resident through the registered recommender pyfunc, on Apache Spark.

Model training stays on one machine: EASE's Gram matrix is services × services (500 × 500 even
for 57M residents), so fitting it needs one pass over the interactions, not a cluster. Scoring
every resident is the part that grows with the population: this runs the registered pyfunc
(logged portable by ``training.portable_pyfunc``) inside Spark as a pandas UDF over batches of
pseudonyms, so suggestions are computed on the executors and written from there, never gathered
on the driver. The pyfunc answers ``k`` rows per person, so it is applied with ``mapInPandas``
(``mlflow.pyfunc.spark_udf`` returns one value per input row and cannot carry a list of ``k``).

Needs the ``spark`` extra (features.engine names it when PySpark is missing).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from training.recommender_pyfunc import OUTPUT_COLUMNS

#: The pyfunc's output columns and types (training.recommender_pyfunc.suggestions_frame).
SCHEMA = ("pseudonym string, rank bigint, service_id string, name string, score double, reason string, "
          "means_tested boolean, personalised boolean")


def score_residents(spark, citizens: str, model_uri: str, *, k: int = 10):
    """A Spark DataFrame of ``k`` suggestions for every resident in ``citizens`` (a Parquet path).

    ``model_uri`` is any MLflow model URI the executors can load, such as
    ``models:/signpost-recommender@champion`` with ``MLFLOW_TRACKING_URI`` set on them.
    """

    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import mlflow

        model = mlflow.pyfunc.load_model(model_uri)  # once per task, then batch after batch
        for batch in batches:
            yield model.predict(batch[["pseudonym"]], params={"k": k}).loc[:, list(OUTPUT_COLUMNS)]

    return spark.read.parquet(citizens).select("pseudonym").mapInPandas(predict, SCHEMA)
