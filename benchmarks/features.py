"""Benchmark `signpost features`: wall time and peak memory per stage, against a yardstick.

The yardstick is the least any pipeline over these extracts must do, in plain DuckDB with
the same memory limit: read events and citizens, join them and the event weights, and
group the weighted events by (person, service). Each run happens in a fresh subprocess so
that one's memory does not count towards the other's peak; peak memory is the process's
resident set size, sampled every 20 ms and attributed to the stage running at the time.
The yardstick runs before and after the pipeline and the ratio uses the mean of the two (the
machine is shared, and its load changes within minutes); CPU seconds are reported too,
being much less sensitive to other people's load than wall time.

    .venv/bin/python benchmarks/features.py --citizens 100000            # generates into /tmp
    .venv/bin/python benchmarks/features.py --citizens 1400000 --raw /tmp/signpost-bench/raw-1400000
    .venv/bin/python benchmarks/features.py --citizens 1400000 --engine spark   # local[2], same yardstick

With ``--engine spark`` the pipeline's memory and CPU include its JVM and Python workers
(every process below the measured one, sampled while they live); cap Spark's memory with
SIGNPOST_SPARK_DRIVER_MEMORY.

Timing is noisy on a shared machine: this prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `features` package it measures.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)
END = date(2026, 9, 30)


class Sampler:
    """Samples this process's RSS in a thread; keeps the peak per labelled stage."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.stage = "start"
        self.peaks: dict[str, int] = {}
        self.child_cpu: dict[int, float] = {}  # pid -> CPU seconds, last seen
        self.seconds: dict[str, float] = {}  # stage -> seconds, for stages run under timed()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.process.memory_info().rss
            for child in self.process.children(recursive=True):  # Spark's JVM and Python workers
                try:
                    rss += child.memory_info().rss
                    times = child.cpu_times()
                    self.child_cpu[child.pid] = times.user + times.system
                except psutil.Error:
                    continue
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0), rss)
            time.sleep(0.02)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """A stage of a yardstick: its peak memory is sampled under ``name`` and its seconds kept."""
        self.stage = name
        started = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - started

    def stage_figures(self) -> dict[str, dict]:
        return {name: {"seconds": s, "peak_rss": self.peaks.get(name, 0)} for name, s in self.seconds.items()}

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_pipeline(raw: Path, out: Path, engine: str = "duckdb", spark_master: str | None = None) -> dict:
    from features.build import build
    from signpost.settings import Settings

    settings = Settings(pseudonym_key="benchmark-key-not-secret", data_dir=out.parent / "data")
    starts: dict[str, float] = {}
    with Sampler() as sampler:
        def on_stage(name: str) -> None:
            sampler.stage = name
            starts[name] = time.perf_counter()

        started = time.perf_counter()
        manifest = build(raw, out, as_of=END, engine=engine, settings=settings, on_stage=on_stage,
                         spark_master=spark_master)
        wall = time.perf_counter() - started
    return {
        "wall_seconds": wall,
        "stages": {name: {"seconds": manifest["timings"][name], "peak_rss": sampler.peaks.get(name, 0)}
                   for name in manifest["timings"] if name != "total"},
        "peak_rss": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, max(sampler.peaks.values())),
        "descendants_cpu_seconds": sum(sampler.child_cpu.values()),
        "engine": engine,
        "rows": manifest["rows"],
        "nnz": manifest["matrices"]["nnz"],
        "memory_limit": settings.features_memory_limit,
    }


def yardstick_sql(settings) -> str:
    """The yardstick's one query: events joined to citizens and the event weights, grouped."""
    weights = ", ".join(f"('{t}', {w!r})" for t, w in settings.event_weights.items())
    return f"""
SELECT e.person_id, e.service_id, sum(w.weight) AS weight
FROM events e JOIN citizens c USING (person_id) JOIN (VALUES {weights}) w(event_type, weight) USING (event_type)
GROUP BY e.person_id, e.service_id"""


def run_yardstick(raw: Path, work: Path) -> dict:
    import duckdb

    from signpost.settings import Settings

    settings = Settings()
    con = duckdb.connect(str(work / "yardstick.duckdb"), config={
        "memory_limit": settings.features_memory_limit, "temp_directory": str(work / "spill")})
    with Sampler() as sampler:
        started = time.perf_counter()
        with sampler.timed("read"):
            con.execute(f"""
CREATE TABLE events AS SELECT * FROM read_csv('{raw / "events.csv"}', header = true);
CREATE TABLE citizens AS SELECT * FROM read_csv('{raw / "citizens.csv"}', header = true)""")
        with sampler.timed("join + weighted group-by"):
            con.execute(f"CREATE TABLE usage AS {yardstick_sql(settings)}")
        wall = time.perf_counter() - started
    groups = con.execute("SELECT count(*) FROM usage").fetchall()[0][0]
    con.close()
    return {"wall_seconds": wall, "stages": sampler.stage_figures(), "groups": groups,
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def run_spark_yardstick(raw: Path, work: Path, spark_master: str | None = None) -> dict:
    """The same least work on Spark, in the session the build would start: Spark's own floor.

    Starting the session counts, as it does in the pipeline's wall time. Each table is read as
    text (every column a string, as the build reads extracts) and kept with ``localCheckpoint``,
    as the build keeps a table; the grouped result is kept the same way.
    """
    from features.engine import spark_session
    from signpost.settings import Settings

    settings = Settings()
    with Sampler() as sampler:
        started = time.perf_counter()
        with sampler.timed("start Spark"):
            spark = spark_session(spark_master, driver_memory=settings.spark_driver_memory,
                                  shuffle_partitions=settings.spark_shuffle_partitions, local_dir=work / "spark",
                                  max_partition_bytes=settings.spark_max_partition_bytes,
                                  log_level=settings.spark_log_level)
        with sampler.timed("read"):
            for table in ("events", "citizens"):
                path = raw / f"{table}.csv"
                with path.open(encoding="utf-8") as file:
                    header = next(csv.reader(file))
                frame = spark.read.csv(str(path), header=True, schema=", ".join(f"`{c}` string" for c in header))
                frame.localCheckpoint().createOrReplaceTempView(table)
        with sampler.timed("join + weighted group-by"):
            groups = spark.sql(yardstick_sql(settings)).localCheckpoint().count()
        wall = time.perf_counter() - started
    spark.stop()
    return {"wall_seconds": wall, "stages": sampler.stage_figures(), "groups": groups,
            "peak_rss": max(sampler.peaks.values()), "descendants_cpu_seconds": sum(sampler.child_cpu.values())}


def child(kind: str, raw: Path, work: Path, extra: tuple[str, ...] = ()) -> dict:
    """Run one measurement in a fresh interpreter and return its JSON result (+ CPU seconds)."""
    work.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--raw", str(raw), "--work", str(work), *extra],
        check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Processes the child started but did not wait for (Spark's JVM) are not in RUSAGE_CHILDREN.
    figures["cpu_seconds"] += figures.get("descendants_cpu_seconds", 0.0)
    return figures


def bracket(first: dict, second: dict) -> dict:
    """One yardstick from its runs before and after the pipeline: mean times, the higher peak."""
    return {
        "wall_seconds": (first["wall_seconds"] + second["wall_seconds"]) / 2,
        "cpu_seconds": (first["cpu_seconds"] + second["cpu_seconds"]) / 2,
        "peak_rss": max(first["peak_rss"], second["peak_rss"]),
        "stages": {name: {"seconds": (first["stages"][name]["seconds"] + second["stages"][name]["seconds"]) / 2,
                          "peak_rss": max(first["stages"][name]["peak_rss"], second["stages"][name]["peak_rss"])}
                   for name in first["stages"]},
    }


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--raw", type=Path, help="existing extract folder (default: generate one into /tmp)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb", help="the pipeline's engine")
    parser.add_argument("--spark-master", help="with --engine spark: the master URL (default local[2])")
    parser.add_argument("--child", choices=["pipeline", "yardstick", "spark-yardstick"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "pipeline":
            result = run_pipeline(args.raw, args.work / "processed", args.engine, args.spark_master)
        elif args.child == "spark-yardstick":
            result = run_spark_yardstick(args.raw, args.work, args.spark_master)
        else:
            result = run_yardstick(args.raw, args.work)
        print(json.dumps(result))
        return

    raw = args.raw or Path(tempfile.gettempdir()) / "signpost-bench" / f"raw-{args.citizens}"
    if not (raw / "events.csv").exists():
        print(f"generating {args.citizens:,} residents into {raw} ...", file=sys.stderr)
        started = time.perf_counter()
        subprocess.run([str(ROOT / ".venv" / "bin" / "signpost"), "generate", "--out", str(raw),
                        "--citizens", str(args.citizens), "--seed", str(args.seed)], check=True)
        print(f"generated in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    events_bytes = (raw / "events.csv").stat().st_size
    results = {"citizens": args.citizens, "events_csv_bytes": events_bytes, "cpus": os.cpu_count()}
    work = Path(tempfile.mkdtemp(prefix="signpost-bench-"))
    master = ("--spark-master", args.spark_master) if args.spark_master else ()
    spark = args.engine == "spark"
    try:
        # The yardsticks run before and after the pipeline: on a shared machine the load
        # changes within minutes, and the mean of the two brackets the pipeline's conditions.
        first = child("yardstick", raw, work / "y1")
        spark_first = child("spark-yardstick", raw, work / "s1", master) if spark else None
        results["pipeline"] = child("pipeline", raw, work / "p", ("--engine", args.engine, *master))
        spark_second = child("spark-yardstick", raw, work / "s2", master) if spark else None
        second = child("yardstick", raw, work / "y2")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pipeline = results["pipeline"]
    results["yardstick_runs"] = [first, second]
    yardstick = results["yardstick"] = bracket(first, second)
    results["ratio"] = pipeline["wall_seconds"] / yardstick["wall_seconds"]
    results["cpu_ratio"] = pipeline["cpu_seconds"] / yardstick["cpu_seconds"]
    if spark:
        results["spark_yardstick_runs"] = [spark_first, spark_second]
        spark_yardstick = results["spark_yardstick"] = bracket(spark_first, spark_second)
        results["spark_ratio"] = pipeline["wall_seconds"] / spark_yardstick["wall_seconds"]
        results["spark_cpu_ratio"] = pipeline["cpu_seconds"] / spark_yardstick["cpu_seconds"]

    events = pipeline["rows"]["events"]["read"]
    print(f"\n{args.citizens:,} citizens · {events:,} events ({events_bytes / 2**30:.2f} GiB CSV) · "
          f"engine {args.engine} · DuckDB memory_limit {pipeline['memory_limit']}")
    print(f"\n{'stage':<42}{'seconds':>10}{'peak RSS':>12}")
    for name, s in pipeline["stages"].items():
        print(f"{name:<42}{s['seconds']:>10.1f}{gib(s['peak_rss']):>12}")
    print(f"{'pipeline total':<42}{pipeline['wall_seconds']:>10.1f}{gib(pipeline['peak_rss']):>12}")
    print()
    for name, s in yardstick["stages"].items():
        print(f"{'yardstick: ' + name:<42}{s['seconds']:>10.1f}{gib(s['peak_rss']):>12}")
    print(f"{'yardstick total (mean of 2 runs)':<42}{yardstick['wall_seconds']:>10.1f}{gib(yardstick['peak_rss']):>12}")
    print(f"  (yardstick runs before/after: {first['wall_seconds']:.1f}s / {second['wall_seconds']:.1f}s)")
    print(f"\npipeline / yardstick wall time: {results['ratio']:.2f}x   "
          f"CPU time: {pipeline['cpu_seconds']:.0f}s / {yardstick['cpu_seconds']:.0f}s = {results['cpu_ratio']:.2f}x")
    if spark:
        print()
        for name, s in spark_yardstick["stages"].items():
            print(f"{'Spark yardstick: ' + name:<42}{s['seconds']:>10.1f}{gib(s['peak_rss']):>12}")
        print(f"{'Spark yardstick total (mean of 2 runs)':<42}{spark_yardstick['wall_seconds']:>10.1f}"
              f"{gib(spark_yardstick['peak_rss']):>12}")
        print(f"  (Spark yardstick runs before/after: {spark_first['wall_seconds']:.1f}s / "
              f"{spark_second['wall_seconds']:.1f}s)")
        print(f"pipeline / Spark yardstick wall time: {results['spark_ratio']:.2f}x   CPU time: "
              f"{pipeline['cpu_seconds']:.0f}s / {spark_yardstick['cpu_seconds']:.0f}s = {results['spark_cpu_ratio']:.2f}x")
        print(f"Spark yardstick / DuckDB yardstick (the engines' floor): wall "
              f"{spark_yardstick['wall_seconds'] / yardstick['wall_seconds']:.2f}x, CPU "
              f"{spark_yardstick['cpu_seconds'] / yardstick['cpu_seconds']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
