"""Every resident scored through the registered pyfunc inside Spark equals the pyfunc called directly."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

import mlflow
from training.recommender import train

pytestmark = pytest.mark.slow
try:
    import pyspark  # noqa: F401
except ImportError:  # setup installs the 'spark' extra, so its absence is a broken setup, not a skip
    pytest.fail("pyspark is missing: run `make setup`, which installs the 'spark' extra", pytrace=False)

SCRIPT = """
import sys
from features.engine import spark_session
from pathlib import Path
from training.batch_scoring import score_residents
spark = spark_session("local[2]", driver_memory="1g", shuffle_partitions=2, local_dir=Path(sys.argv[3]))
try:
    score_residents(spark, sys.argv[1], "models:/signpost-recommender@challenger").write.parquet(sys.argv[2])
finally:
    spark.stop()
"""


def test_spark_scores_every_resident_as_the_registered_model_does(small_county, mlflow_settings, tmp_path):
    train(small_county.processed, models="popularity", budget=1, settings=mlflow_settings)
    citizens = small_county.processed / "citizens.parquet"
    out = tmp_path / "scores"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    subprocess.run([sys.executable, "-c", SCRIPT, str(citizens), str(out), str(tmp_path / "spark")],
                   check=True, env=env | {"SPARK_LOCAL_IP": "127.0.0.1"}, stdout=subprocess.DEVNULL)
    scored = pd.read_parquet(out).sort_values(["pseudonym", "rank"]).reset_index(drop=True)
    everyone = pd.read_parquet(citizens, columns=["pseudonym"])
    direct = mlflow.pyfunc.load_model("models:/signpost-recommender@challenger").predict(everyone)
    direct = direct.sort_values(["pseudonym", "rank"]).reset_index(drop=True)
    assert scored["pseudonym"].nunique() == len(everyone) > 1000
    pd.testing.assert_frame_equal(scored, direct, check_dtype=False)
