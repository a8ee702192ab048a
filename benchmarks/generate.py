"""Benchmark: wall time and peak memory of `signpost generate` at 100k and 1.4M residents.

Each size runs in a fresh child process so that its peak resident memory
(`getrusage(RUSAGE_CHILDREN).ru_maxrss`) is its own. The machine is shared: the load
average before each run and the child's CPU share are printed so that contention shows.

    .venv/bin/python benchmarks/generate.py                 # both sizes
    .venv/bin/python benchmarks/generate.py --size 1400000  # one size
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys
from datetime import date
from pathlib import Path
from synthetic.generate import generate_county
generate_county(Path(sys.argv[1]), citizens=int(sys.argv[2]), seed=1, months=24,
                end=date(2026, 9, 30), error_rate=0.01, fmt=sys.argv[3])
"""


def run(size: int, fmt: str, out: Path) -> dict:
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", CHILD, str(out), str(size), fmt],
        check=True,
        stderr=subprocess.DEVNULL,  # the progress bar
        cwd=Path(__file__).resolve().parents[1],
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    about = json.loads((out / "truth" / "about.json").read_text())
    size_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "citizens": size,
        "format": fmt,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpu_share": round(cpu / wall, 2),
        "peak_rss_mib": round(after.ru_maxrss / 1024),  # the largest child so far (KiB on Linux)
        "load_before": round(load, 2),
        "rows": about["rows"],
        "faults": about["faults"],
        "output_mib": round(size_bytes / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append", help="residents (repeatable); default 100000 and 1400000")
    parser.add_argument("--format", default="csv", choices=("csv", "parquet"))
    parser.add_argument("--out", type=Path, help="folder to write into (default: a temporary folder, removed)")
    args = parser.parse_args()
    sizes = sorted(args.size or [100_000, 1_400_000])
    for size in sizes:  # smallest first, so ru_maxrss (a running maximum) is this size's peak
        folder = Path(tempfile.mkdtemp(prefix=f"signpost-generate-{size}-")) if args.out is None else args.out / str(size)
        try:
            result = run(size, args.format, folder)
        finally:
            if args.out is None:
                shutil.rmtree(folder, ignore_errors=True)
        print(
            f"{size:>9,} residents ({result['format']}): {result['wall_s']:6.1f} s wall, "
            f"{result['cpu_s']:6.1f} s CPU (share {result['cpu_share']:.2f}, load before {result['load_before']}), "
            f"peak RSS {result['peak_rss_mib']:,} MiB, output {result['output_mib']:,} MiB"
        )
        print("          rows: " + ", ".join(f"{k} {v:,}" for k, v in result["rows"].items()) + f"; faults {result['faults']:,}")
        print("          " + json.dumps(result))


if __name__ == "__main__":
    main()
