"""Benchmark: `signpost train recommender` and `signpost train early-help` at one county size.

    .venv/bin/python benchmarks/train.py --citizens 100000
    .venv/bin/python benchmarks/train.py --citizens 100000 --full-grid   # + full grid on everyone
    .venv/bin/python benchmarks/train.py --citizens 1400000 --skip-early-help
    .venv/bin/python benchmarks/train.py --citizens 1400000 --skip-recommender

Generates the synthetic county into --workdir (default /tmp/signpost-bench-train-<N>) and builds
the processed folder with the real pipeline (both reused when already there). Each training
command then runs as a child process with a throwaway MLflow store in the workdir, so its wall
time, CPU time (user + system) and peak resident memory are its own. Printed: those figures and
the registered recommender's temporal NDCG@10 with its 95% bootstrap interval. With --full-grid,
the recommender is trained again with every configuration of the grid searched on every citizen
(--full-grid-models; ALS and BPR left out by default), and the two chosen models' NDCG@10 are
set side by side. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

#: Large enough that every grid is searched in full (the biggest has 48 configurations).
FULL_GRID_BUDGET = 1000


#: Runs one command and records its own resource use (RUSAGE_CHILDREN of a fresh process is
#: that command's alone, so peaks of earlier steps do not leak into later ones).
MEASURE = """
import json, resource, subprocess, sys
code = subprocess.run(sys.argv[2:]).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(json.dumps({"cpu_s": usage.ru_utime + usage.ru_stime, "peak_kib": usage.ru_maxrss}))
sys.exit(code)
"""


def run_child(command: list[str], env: dict[str, str], usage_file: Path) -> dict:
    """Wall time, CPU time and peak RSS of one command, run in a fresh process."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", MEASURE, str(usage_file), *command], env=env, check=False,
                               cwd=_HERE.parent, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    usage = json.loads(usage_file.read_text())
    return {"wall_s": round(wall, 1), "cpu_s": round(usage["cpu_s"], 1), "peak_rss_mib": round(usage["peak_kib"] / 1024),
            "load_before": round(load, 2)}


def chosen_figures(tracking_uri: str, name: str) -> dict:
    """The challenger's model and temporal NDCG@10 with its interval, from its version tags."""
    from training import tracking

    version = tracking.connect(tracking_uri).get_model_version_by_alias(name, tracking.CHALLENGER)
    tags = version.tags
    return {"version": version.version, "model": tags["recommender.model"],
            "ndcg@10": float(tags["test.ndcg_at_10"]), "low": float(tags["test.ndcg_at_10_low"]),
            "high": float(tags["test.ndcg_at_10_high"]), "versus_ease": tags.get("recommender.versus_ease", "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--budget", type=int, default=6)
    parser.add_argument("--models", default=None, help="candidates for both recommender runs (default: the default set)")
    parser.add_argument("--full-grid", action="store_true", help="also search every configuration on everyone")
    parser.add_argument("--full-grid-models", default="popularity,demographic,ease,itemknn,blend",
                        help="candidates of the full-grid run (ALS and BPR grids are slow to search in full)")
    parser.add_argument("--skip-early-help", action="store_true")
    parser.add_argument("--skip-recommender", action="store_true", help="only early help (and --full-grid if asked)")
    args = parser.parse_args()

    from features.build import build
    from signpost.settings import Settings
    from synthetic.generate import generate_county

    workdir = (args.workdir or Path(f"/tmp/signpost-bench-train-{args.citizens}")).resolve()
    raw, processed = workdir / "raw", workdir / "processed"
    key = os.environ.get("SIGNPOST_PSEUDONYM_KEY", "benchmark-key-not-secret")
    end = date(2026, 9, 30)
    if not (raw / "truth" / "about.json").is_file():
        generate_county(raw, citizens=args.citizens, seed=args.seed, months=24, end=end, error_rate=0.01, fmt="parquet")
    if not (processed / "manifest.json").is_file():
        settings = Settings(pseudonym_key=key, data_dir=workdir / "data")
        build(raw, processed, as_of=end, quarantine=None, engine="duckdb", settings=settings)

    store = workdir / f"mlflow-{int(time.time())}"
    store.mkdir(parents=True)
    tracking_uri = f"sqlite:///{store / 'mlflow.db'}"
    env = {**os.environ, "SIGNPOST_PSEUDONYM_KEY": key, "SIGNPOST_DATA_DIR": str(workdir / "data"),
           "SIGNPOST_MLFLOW_TRACKING_URI": tracking_uri, "SIGNPOST_MLFLOW_ARTIFACT_ROOT": str(store / "artifacts"),
           "SIGNPOST_DATABASE_URL": f"sqlite:///{workdir / 'signpost.db'}"}
    signpost = [str(Path(sys.executable).parent / "signpost")]
    models = ["--models", args.models] if args.models else []
    results: dict[str, dict] = {}
    if not args.skip_recommender:
        results["train recommender"] = {
            **run_child([*signpost, "train", "recommender", "--processed", str(processed), "--budget", str(args.budget),
                         *models], env, store / "usage-recommender.json"),
            **chosen_figures(tracking_uri, "signpost-recommender"),
        }
    if not args.skip_early_help:
        results["train early-help"] = run_child([*signpost, "train", "early-help", "--processed", str(processed)],
                                                env, store / "usage-early-help.json")
    if args.full_grid:
        full_env = {**env, "SIGNPOST_SEARCH_SAMPLE": str(10 * args.citizens)}
        results["full grid on everyone"] = {
            **run_child([*signpost, "train", "recommender", "--processed", str(processed),
                         "--budget", str(FULL_GRID_BUDGET), "--models", args.full_grid_models], full_env, store / "usage-full-grid.json"),
            **chosen_figures(tracking_uri, "signpost-recommender"),
        }
    print(f"{args.citizens:,} residents, {os.cpu_count()} cores")
    for step, r in results.items():
        line = (f"{step:24s} {r['wall_s']:7.1f} s wall  {r['cpu_s']:7.1f} s CPU  peak RSS {r['peak_rss_mib']:,} MiB"
                f"  (load before {r['load_before']})")
        if "model" in r:
            line += f"\n{'':24s} chosen {r['model']}: NDCG@10 {r['ndcg@10']:.4f} (95% CI {r['low']:.4f}–{r['high']:.4f})"
        print(line)
    if args.full_grid and "train recommender" in results:
        sampled, full = results["train recommender"], results["full grid on everyone"]
        inside = sampled["low"] <= full["ndcg@10"] <= sampled["high"]
        print(f"full grid's NDCG@10 {full['ndcg@10']:.4f} is {'inside' if inside else 'outside'} the sampled "
              f"search's interval {sampled['low']:.4f}–{sampled['high']:.4f}")
    (workdir / "train_benchmark.json").write_text(json.dumps(results, indent=2))
    print(f"written {workdir / 'train_benchmark.json'}")


if __name__ == "__main__":
    main()
