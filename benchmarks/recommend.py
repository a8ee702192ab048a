"""Recommender benchmark: training time per model and batch recommendation throughput.

    .venv/bin/python benchmarks/recommend.py                       # 1.4M citizens (Hampshire)
    .venv/bin/python benchmarks/recommend.py --citizens 100000

Generates the synthetic county into --workdir (default /tmp/signpost-bench-recommend-<N>),
builds the processed folder with the real pipeline (both reused when already there), then
for each model: fit time on the training matrix, and the time to rank k=10 eligible,
unused services for *every* citizen in batches (citizens per second). Finally the latency of
`Signposter.suggest` for one citizen (what serving calls per request). Figures are printed
and written to <workdir>/recommend_benchmark.json; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

# run as a script, this folder would shadow the packages (benchmarks/features.py vs features/)
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

DEFAULT_MODELS = "popularity,demographic,itemknn,als,bpr,ease,blend"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=1_400_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch-rows", type=int, default=8192)
    parser.add_argument("--single", type=int, default=2000, help="single-citizen suggest calls to time")
    args = parser.parse_args()

    from rich.table import Table

    from features.build import build
    from recommender.candidates import make
    from recommender.popularity import DemographicPopularity
    from recommender.signposting import Signposter
    from signpost.progress import console
    from signpost.settings import Settings
    from synthetic.generate import generate_county
    from training.recommender import load_processed

    workdir = args.workdir or Path(f"/tmp/signpost-bench-recommend-{args.citizens}")
    raw, processed = workdir / "raw", workdir / "processed"
    end = date(2026, 9, 30)
    settings = Settings(pseudonym_key=os.environ.get("SIGNPOST_PSEUDONYM_KEY", "benchmark-key-not-secret"), data_dir=workdir / "data")
    timings: dict[str, float] = {}
    if not (raw / "truth" / "about.json").is_file():
        started = time.perf_counter()
        generate_county(raw, citizens=args.citizens, seed=args.seed, months=24, end=end, error_rate=0.01, fmt="parquet")
        timings["generate_s"] = time.perf_counter() - started
    if not (processed / "manifest.json").is_file():
        started = time.perf_counter()
        build(raw, processed, as_of=end, quarantine=None, engine="duckdb", settings=settings)
        timings["features_s"] = time.perf_counter() - started
    data = load_processed(processed)
    n, m = data.train.shape
    console.print(f"{n:,} citizens × {m} services; train nnz {data.train.nnz:,}; "
                  f"citizens with history {int((np.diff(data.train.indptr) > 0).sum()):,}")

    rows = []
    fitted = {}
    for name in [s.strip() for s in args.models.split(",") if s.strip()]:
        model = make(name)
        started = time.perf_counter()
        model.fit(data.train, segments=data.segments, households=data.households)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        for start in range(0, n, args.batch_rows):
            stop = min(n, start + args.batch_rows)
            model.recommend(data.train[start:stop], k=args.k, allowed=data.allowed[start:stop], segments=data.segments[start:stop])
        rank_s = time.perf_counter() - started
        fitted[name] = model
        rows.append({"model": name, "fit_s": fit_s, "rank_all_s": rank_s, "citizens_per_s": n / rank_s})
        console.print(f"{name:12s} fit {fit_s:8.2f} s   rank all {rank_s:8.2f} s   {n / rank_s:12,.0f} citizens/s")

    latency = {}
    for name in ("ease", "blend"):
        if name not in fitted:
            continue
        signposter = Signposter.from_processed_tables(
            data.citizens, data.services, data.train, model=fitted[name],
            fallback=DemographicPopularity().fit(data.train, segments=data.segments),
        )
        with_history = np.flatnonzero(np.diff(data.train.indptr) > 0)
        sample = np.random.default_rng(0).choice(with_history, size=min(args.single, len(with_history)), replace=False)
        pseudonyms = data.citizens["pseudonym"].to_numpy()[sample].tolist()
        signposter.suggest(pseudonyms[:10], k=args.k)
        samples = []
        for p in pseudonyms:
            started = time.perf_counter()
            signposter.suggest([p], k=args.k)
            samples.append((time.perf_counter() - started) * 1e3)
        latency[name] = {"p50_ms": float(np.percentile(samples, 50)), "p99_ms": float(np.percentile(samples, 99))}

    table = Table(title=f"recommender benchmark: {n:,} citizens × {m} services, k={args.k}")
    for column in ("model", "fit (s)", "rank every citizen (s)", "citizens / s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        table.add_row(r["model"], f"{r['fit_s']:.2f}", f"{r['rank_all_s']:.2f}", f"{r['citizens_per_s']:,.0f}")
    console.print(table)
    for name, figures in latency.items():
        console.print(f"Signposter.suggest, one citizen ({name}, with reasons): p50 {figures['p50_ms']:.3f} ms, p99 {figures['p99_ms']:.3f} ms")
    result = {
        "citizens": n, "services": m, "train_nnz": int(data.train.nnz), "k": args.k, "models": rows,
        "suggest_latency": latency, "pipeline": timings, "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    }
    (workdir / "recommend_benchmark.json").write_text(json.dumps(result, indent=2))
    console.print(f"written {workdir / 'recommend_benchmark.json'}")


if __name__ == "__main__":
    main()
