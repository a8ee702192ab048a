"""One pipeline, two engines: DuckDB and Apache Spark build the same processed folder.

Every build runs `signpost features` in a process of its own, so each Spark build's JVM
ends with it. Spark runs in local mode, and on a real standalone cluster (a master and a
worker started here on loopback).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthetic.generate import generate_county
from tests.conftest import END, KEY
from tests.features.engines import assert_same_outputs
from tests.processes import free_port, stop

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]
try:
    import pyspark  # noqa: F401
except ImportError:  # setup installs the 'spark' extra, so its absence is a broken setup, not a skip
    pytest.fail("pyspark is missing: run `make setup`, which installs the 'spark' extra", pytrace=False)

SIGNPOST = Path(sys.executable).with_name("signpost")


def _environment(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNPOST_", "MLFLOW_", "SPARK_", "PYSPARK_"))}
    return env | {"SIGNPOST_PSEUDONYM_KEY": KEY, "SIGNPOST_DATA_DIR": str(data), "SPARK_LOCAL_IP": "127.0.0.1",
                  "SIGNPOST_SPARK_DRIVER_MEMORY": "1g", "SIGNPOST_SPARK_SHUFFLE_PARTITIONS": "4",
                  # Extracts of a few megabytes read in many splits, as a county's gigabyte is.
                  "SIGNPOST_SPARK_MAX_PARTITION_BYTES": "1m"}


def _features(raw: Path, base: Path, name: str, *engine: str) -> tuple[Path, Path]:
    out, quarantine = base / f"out-{name}", base / f"quarantine-{name}"
    subprocess.run(
        [str(SIGNPOST), "features", "--raw", str(raw), "--out", str(out), "--quarantine", str(quarantine),
         "--as-of", END.isoformat(), "--extract-date", END.isoformat(), *engine],
        check=True, env=_environment(base / "data"), cwd=base, stdout=subprocess.DEVNULL)
    return out, quarantine


@pytest.fixture(scope="module", params=[20_000, 100_000], ids=lambda n: f"{n // 1000}k")
def county(request, tmp_path_factory) -> Iterator[tuple[Path, Path, Path, Path]]:
    """A generated county (1% faults) and its DuckDB build."""
    base = tmp_path_factory.mktemp(f"engines_{request.param}")
    raw = base / "raw"
    generate_county(raw, citizens=request.param, seed=11, months=24, end=END, error_rate=0.01, fmt="csv")
    yield (base, raw, *_features(raw, base, "duckdb", "--engine", "duckdb"))
    shutil.rmtree(base, ignore_errors=True)


def test_spark_in_local_mode_builds_what_duckdb_builds(county) -> None:
    base, raw, out, quarantine = county
    spark_out, spark_quarantine = _features(raw, base, "spark", "--engine", "spark", "--spark-master", "local[2]")
    compared = assert_same_outputs(out, spark_out, quarantine, spark_quarantine)
    assert "citizens.parquet" in compared and "quarantine/events.csv" in compared
    assert (spark_out / "interactions_train.npz").exists()


READ_SCRIPT = """
import sys
from pathlib import Path
from features.engine import SparkConnection, spark_session
from features.extracts import locate
spark = spark_session("local[2]", driver_memory="1g", shuffle_partitions=2, local_dir=Path(sys.argv[3]),
                      max_partition_bytes="32k")
try:
    con = SparkConnection(spark)
    print(con.load_text_table(locate(Path(sys.argv[1]))["events"], "events"))
    print(con._spans_lines(sys.argv[1] + "/events.csv"))
    spark.table("events_rows").toPandas().to_parquet(sys.argv[2])
finally:
    spark.stop()
"""


@pytest.mark.parametrize("line_break", [False, True], ids=["one line per row", "a value with a line break"])
def test_spark_numbers_an_extracts_rows_as_duckdb_does(tmp_path, line_break) -> None:
    """Split between tasks (no value spans lines) or read whole (one does), rows keep file order."""
    import duckdb
    import pandas as pd

    from features.extracts import load_text_table, locate

    raw = tmp_path / "raw"
    generate_county(raw, citizens=2_000, seed=3, months=12, end=END, error_rate=0.01, fmt="csv")
    if line_break:  # a partner's free text may hold a line break: quoted, it is one value
        lines = (raw / "events.csv").read_text().splitlines(keepends=True)
        fields = lines[5000].split(",")
        fields[-1] = '"spans\ntwo lines"\n'
        lines[5000] = ",".join(fields)
        (raw / "events.csv").write_text("".join(lines))
    assert (raw / "events.csv").stat().st_size > 20 * 32 * 1024  # many splits of 32 KiB
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    result = subprocess.run([sys.executable, "-c", READ_SCRIPT, str(raw), str(tmp_path / "rows.parquet"),
                             str(tmp_path / "spark")], check=True, env=env | {"SPARK_LOCAL_IP": "127.0.0.1"},
                            stdout=subprocess.PIPE, text=True)
    count, spans = result.stdout.split()[-2:]
    assert spans == str(line_break)
    spark_rows = pd.read_parquet(tmp_path / "rows.parquet").sort_values("row_number").reset_index(drop=True)
    con = duckdb.connect()
    assert int(count) == load_text_table(con, locate(raw)["events"], "events")
    duck_rows = con.execute("SELECT * FROM events_rows ORDER BY row_number").df()
    def plain(frame):  # missing values as None, whichever string type the reader chose
        return frame.astype(object).where(frame.notna(), None)

    pd.testing.assert_frame_equal(plain(spark_rows), plain(duck_rows), check_dtype=False)


def _wait_for_port(port: int, process: subprocess.Popen, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Spark {what} exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the Spark {what} did not listen on port {port} within {seconds:.0f} s")


@pytest.fixture
def standalone_cluster(tmp_path) -> Iterator[str]:
    """A Spark standalone master and one worker (2 cores, 2 GiB) on 127.0.0.1; stopped afterwards."""
    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    env = _environment(tmp_path / "data") | {"SPARK_LOG_DIR": str(tmp_path / "logs"),
                                              "SPARK_WORKER_DIR": str(tmp_path / "work")}
    port, worker_port = free_port(), free_port()
    logs = (tmp_path / "master.log").open("w"), (tmp_path / "worker.log").open("w")
    processes = []
    try:
        master = subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", "0"], env=env, stdout=logs[0], stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(master)
        _wait_for_port(port, master, "master")
        worker = subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--port",
             str(worker_port), "--webui-port", "0", "--cores", "2", "--memory", "2g",
             "--work-dir", str(tmp_path / "work"), f"spark://127.0.0.1:{port}"],
            env=env, stdout=logs[1], stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(worker)
        _wait_for_port(worker_port, worker, "worker")
        yield f"spark://127.0.0.1:{port}"
    finally:
        for process in reversed(processes):
            stop(process, timeout=30)
        for log in logs:
            log.close()


@pytest.mark.parametrize("county", [20_000], indirect=True, ids=["20k"])
def test_a_standalone_cluster_builds_what_duckdb_builds(county, standalone_cluster) -> None:
    base, raw, out, quarantine = county
    cluster_out, cluster_quarantine = _features(raw, base, "cluster", "--engine", "spark",
                                                "--spark-master", standalone_cluster)
    assert_same_outputs(out, cluster_out, quarantine, cluster_quarantine)
    assert (cluster_out / "manifest.json").read_text().count('"engine": "spark"') == 1
