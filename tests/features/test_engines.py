"""One pipeline, two engines: DuckDB and Apache Spark build the same processed folder.

Every build runs `signpost features` in a process of its own, so each Spark build's JVM
ends with it. Spark runs in local mode, and on a real standalone cluster (a master and a
worker started here on loopback).
"""

from __future__ import annotations

import os
import re
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


def _signpost(base: Path, *arguments: str, env: dict[str, str] | None = None) -> str:
    """Run the installed CLI in a process of its own (its Spark JVM ends with it); what it wrote to standard error."""
    done = subprocess.run([str(SIGNPOST), *arguments], env=_environment(base / "data") | (env or {}), cwd=base,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr[-5000:]
    return done.stderr


def _features(raw: Path, base: Path, name: str, *engine: str, env: dict[str, str] | None = None) -> tuple[Path, Path]:
    """Build into ``out-<name>`` and ``quarantine-<name>``; the console (standard error) is kept as ``console-<name>.txt``."""
    out, quarantine = base / f"out-{name}", base / f"quarantine-{name}"
    console = _signpost(base, "features", "--raw", str(raw), "--out", str(out), "--quarantine", str(quarantine),
                        "--as-of", END.isoformat(), "--extract-date", END.isoformat(), *engine, env=env)
    (base / f"console-{name}.txt").write_text(console, encoding="utf-8")
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
    # Spark's warnings about its own plan (and PySpark's about pandas 3) would bury the build's
    # progress: at the default SIGNPOST_SPARK_LOG_LEVEL the console has only the build's own lines.
    console = (base / "console-spark.txt").read_text(encoding="utf-8")
    noise = re.findall(r"^.* (?:WARN|INFO) .*$|^.*FutureWarning.*$|^Setting default log level.*$", console, re.M)
    assert not noise, noise[:5]
    assert "Row accounting" in console


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


@pytest.fixture(scope="module")
def partner_county(tmp_path_factory) -> Iterator[tuple[Path, Path, Path, Path, dict[str, str]]]:
    """A partner-local county of 2,500 residents (contract v2), one partner sending only encodings,
    and its DuckDB build. Big enough that u is estimated on a sample (2,500 x 2,600 records make
    6.5M pairs, over the 1M budget) and that every outcome occurs."""
    from tests.features.test_linkage_county import encode_one_partner

    base = tmp_path_factory.mktemp("engines_partners")
    raw = base / "raw"
    generate_county(raw, citizens=2_500, seed=5, months=24, end=END, error_rate=0.01, fmt="csv", partners="local")
    secret, _ = encode_one_partner(raw, base)
    env = {"SIGNPOST_LINKAGE_SECRET_FILE": str(secret)}
    yield (base, raw, *_features(raw, base, "duckdb", "--engine", "duckdb", env=env), env)
    shutil.rmtree(base, ignore_errors=True)


def test_spark_links_partner_records_as_duckdb_does(partner_county) -> None:
    """Linkage on Spark: the same outcomes, links and review queue as on DuckDB, probabilities to 1e-9.

    Both engines train Splink on the same pairs (u on a sample drawn by arithmetic on record
    numbers, EM on every pair of its blocking rules) with the same Jaro-Winkler. What is left
    is floating point: EM's sums over millions of pairs run in another order on Spark, so
    m probabilities agree to about 1e-12 relative, not to the bit, and a match probability or a
    margin in bits may move in its last digits. Outcomes, the person each record links to and
    every other output must be equal; probabilities within 1e-9 (absolute on values in [0, 1],
    relative on margins). Encoded (Bloom filter) linkage is plain NumPy on frames the engine
    returns, so its Dice scores must be equal too.
    """
    base, raw, out, quarantine, env = partner_county
    spark_out, spark_quarantine = _features(raw, base, "spark", "--engine", "spark", "--spark-master", "local[2]",
                                            env=env)
    outcomes = _assert_same_link_outcomes(out / "link_outcomes.parquet", spark_out / "link_outcomes.parquet")
    assert set(outcomes["method"]) == {"splink", "encoded"}
    assert set(outcomes["outcome"]) == {"linked", "review", "unlinked"}
    compared = assert_same_outputs(out, spark_out, quarantine, spark_quarantine, rtol=1e-9)
    assert "link_outcomes.parquet" in compared and "quarantine/linkage_review.csv" in compared
    assert "quarantine/partner_people.csv" in compared and "quarantine/partner_people_encoded.csv" in compared


def test_signpost_link_on_spark_gives_what_it_gives_on_duckdb(partner_county) -> None:
    """`signpost link` (linkage alone, outside a build) on Spark: DuckDB's outcomes, review queue and summary."""
    import json

    import pandas as pd

    from tests.features.engines import NUMERIC_QUARANTINE_COLUMNS, RUN_KEYS

    base, raw, _, _, env = partner_county
    duck, spark = (_link(raw, base, engine, env=env) for engine in ("duckdb", "spark"))
    outcomes = _assert_same_link_outcomes(duck / "link_outcomes.parquet", spark / "link_outcomes.parquet")
    assert len(outcomes) > 1_000 and set(outcomes["outcome"]) >= {"linked", "unlinked"}
    queues = [pd.read_csv(folder / "linkage_review.csv", dtype=str, keep_default_na=False) for folder in (duck, spark)]
    for column in NUMERIC_QUARANTINE_COLUMNS["linkage_review.csv"]:
        for queue in queues:
            queue[column] = queue[column].astype(float)
    pd.testing.assert_frame_equal(*queues, check_exact=False, rtol=1e-9, atol=1e-9)
    summaries = [json.loads((folder / "linkage.json").read_text()) for folder in (duck, spark)]
    assert [summary.pop("engine") for summary in summaries] == ["duckdb", "spark"]
    for summary in summaries:
        for key in RUN_KEYS:
            summary.pop(key, None)
    assert summaries[0] == summaries[1]


def _link(raw: Path, base: Path, engine: str, *, env: dict[str, str]) -> Path:
    out = base / f"link-{engine}"
    _signpost(base, "link", "--raw", str(raw), "--out", str(out), "--extract-date", END.isoformat(),
              "--engine", engine, *(("--spark-master", "local[2]") if engine == "spark" else ()), env=env)
    return out


def _assert_same_link_outcomes(left: Path, right: Path):
    """Outcomes, linked persons and Dice scores equal; probabilities within 1e-9 (EM's sums run in another
    order). Returns the left outcomes."""
    import pandas as pd

    duck, spark = pd.read_parquet(left), pd.read_parquet(right)
    for column in ("source", "partner_record", "method", "outcome", "decided_by", "person", "dice"):
        pd.testing.assert_series_equal(duck[column], spark[column], check_exact=True)
    for column in ("match_probability", "runner_up"):
        pd.testing.assert_series_equal(duck[column], spark[column], check_exact=False, rtol=0, atol=1e-9)
    pd.testing.assert_series_equal(duck["margin_bits"], spark["margin_bits"], check_exact=False, rtol=1e-9)
    return duck


_KEYS_ON_SPARK = """
import json, sys
from pathlib import Path
from features.engine import spark_session
from features.linkage_model import pair_key, row_key
spark = spark_session("local[1]", driver_memory="1g", shuffle_partitions=1, local_dir=Path(sys.argv[1]))
rows = spark.sql(f"SELECT l, r, {pair_key('l', 'r')} AS pair, {row_key('l', 0)} AS row0, {row_key('r', 1, 7)} AS row1 "
                 "FROM VALUES " + sys.argv[2] + " AS t(l, r) ORDER BY l, r").collect()
print(json.dumps([list(row) for row in rows]))
spark.stop()
"""


def test_the_linkage_samples_are_the_same_pairs_on_both_engines(tmp_path) -> None:
    """EM's names sample and u's record sample are integer arithmetic on record numbers (not an
    engine's ``hash()``): Spark computes the very keys DuckDB does, up to the largest id (2^31 - 1)."""
    import json
    import random

    import duckdb

    from features.linkage_model import pair_key, row_key

    rng = random.Random(18)
    pairs = [(0, 0), (2**31 - 1, 2**31 - 1), (0, 2**31 - 1)] + [
        (rng.randrange(2**31), rng.randrange(2**31)) for _ in range(500)] + [(i, i + 7) for i in range(200)]
    values = ", ".join(f"(CAST({a} AS BIGINT), CAST({b} AS BIGINT))" for a, b in pairs)
    spark = subprocess.run([sys.executable, "-c", _KEYS_ON_SPARK, str(tmp_path / "spark"), values], check=True,
                           capture_output=True, text=True, env=_environment(tmp_path / "data"), cwd=Path.cwd())
    duck = duckdb.connect().execute(
        f"SELECT l, r, {pair_key('l', 'r')}, {row_key('l', 0)}, {row_key('r', 1, 7)} "
        f"FROM (VALUES {values}) t(l, r) ORDER BY l, r").fetchall()
    assert json.loads(spark.stdout.strip().splitlines()[-1]) == [list(row) for row in duck]


_STRINGS_ON_SPARK = """
import json, sys
from pathlib import Path
from features.engine import SparkConnection, spark_session
spark = spark_session("local[1]", driver_memory="1g", shuffle_partitions=1, local_dir=Path(sys.argv[1]))
values = json.loads(sys.stdin.read())
spark.createDataFrame(list(enumerate(values)), "i int, v string").createOrReplaceTempView("t")
print(json.dumps(SparkConnection(spark).execute(sys.argv[2]).fetchall()))
spark.stop()
"""


def test_trim_and_case_on_spark_are_duckdbs(tmp_path) -> None:
    """DuckDB's ``trim`` removes every Unicode space separator (category Zs: the no-break space a
    spreadsheet leaves, an ideographic space), Spark's only ' '; DuckDB's ``lower`` and ``upper`` map
    each character to one, Spark's some to two (``ß`` to ``SS``, ``İ`` to ``i̇``) or by context (a
    final ``Σ``). Transpiled, they must agree, or an id padded with a no-break space would be a
    citizen on one engine and unknown on the other, and a name would compare differently."""
    import json
    import random
    import unicodedata

    import duckdb

    separators = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) == "Zs"]
    alphabet = separators + ["\t", "\n", "\u200b", "\u0085", "a", "Z", "7", "é", "\U0001F600", "-",
                             "İ", "ı", "ß", "ẞ", "Σ", "ς", "ﬁ", "ŉ", "ǅ", "\u212a", "\u212b", "ΐ", "Ⅻ", "ⓐ"]
    rng = random.Random(18)
    values = ["", None, " \u00a0 ", "P1234\u00a0", "\u3000P1234", "Strauß", "İlker", "ΟΔΟΣ"] + [
        "".join(rng.choices(alphabet, k=rng.randrange(1, 8))) for _ in range(2_000)]
    query = ("SELECT i, NULLIF(trim(v), '') AS both_ends, ltrim(v) AS leading, rtrim(v) AS trailing, "
             "lower(v) AS lower_case, upper(v) AS upper_case FROM t ORDER BY i")
    spark = subprocess.run([sys.executable, "-c", _STRINGS_ON_SPARK, str(tmp_path / "spark"), query], check=True,
                           input=json.dumps(values), capture_output=True, text=True,
                           env=_environment(tmp_path / "data"), cwd=Path.cwd())
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    duck = [list(row) for row in con.execute(query).fetchall()]
    assert duck[3][1] == "P1234" and duck[4][1] == "P1234" and duck[2][1] is None
    assert (duck[5][5], duck[6][4], duck[7][4]) == ("STRAUẞ", "ilker", "οδοσ")  # Spark alone: STRAUSS, i̇lker, οδος
    assert json.loads(spark.stdout.strip().splitlines()[-1]) == duck
