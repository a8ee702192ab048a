"""Benchmark partner linkage: pairs compared, time per step, peak memory, and quality against truth.

Generates a partner-local county (`--partners local`) into /tmp unless `--raw` names one,
runs `signpost link`'s work (validate citizens and partner records, Splink on DuckDB, decide
every record; timed) and then compares the outcomes with `truth/links.parquet` (not timed). Peak memory is the
process's resident set size sampled every 20 ms.

    .venv/bin/python benchmarks/link.py --citizens 100000
    .venv/bin/python benchmarks/link.py --citizens 1400000      # several million partner records

Timing is noisy on a shared machine: this prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Self

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and would shadow our packages.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)
END = date(2026, 9, 30)


class PeakMemory:
    """This process's peak RSS, sampled in a thread."""

    def __init__(self) -> None:
        self.process, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--raw", type=Path, default=None, help="An existing partner-local county.")
    args = parser.parse_args()

    from features.build import linkage_session
    from features.pseudonym import load_key
    from signpost.settings import Settings
    from synthetic.generate import generate_county
    from training.linkage_evaluation import session_quality

    # Each linkage step as it ends, so a run stopped early still says where its time went.
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.WARNING)
    logging.getLogger("features.linkage").setLevel(logging.INFO)
    raw = args.raw or Path(f"/tmp/signpost-bench/raw-link-{args.citizens}")
    if not (raw / "partner_people.csv").exists():
        started = time.perf_counter()
        generate_county(raw, citizens=args.citizens, seed=args.seed, end=END, partners="local")
        print(f"generated {args.citizens:,} residents in {time.perf_counter() - started:.1f}s into {raw}")
    settings = Settings(pseudonym_key=os.environ.get("SIGNPOST_PSEUDONYM_KEY", "benchmark-key"),
                        data_dir=Path("/tmp/signpost-bench/data"))
    cpu = time.process_time()
    started = time.perf_counter()
    with PeakMemory() as memory, linkage_session(raw, settings=settings, extract_date=date(2026, 10, 1)) as session:
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        summary = session.summary
        quality = session_quality(session, pd.read_parquet(raw / "truth" / "links.parquet"), load_key(settings))
    print(f"master people {summary['rows']['citizens']['accepted']:,}, partner records "
          f"{summary['partner_records']:,}, pairs compared {summary['pairs_compared']:,}, "
          f"candidate pairs kept {summary['candidate_pairs']:,}")
    print("time per step: " + ", ".join(f"{k} {v:.1f}s" for k, v in summary["timings"].items())
          + f"; read and validate {wall - sum(summary['timings'].values()):.1f}s")
    print(f"total wall {wall:.1f}s, CPU {cpu:.1f}s, peak RSS {memory.peak / 2**30:.2f} GiB, "
          f"load average before {os.getloadavg()[0]:.1f}")
    print(f"over records whose person the master index accepted: recall {quality['recall_linkable']:.4f}, "
          f"F1 {quality['f1_linkable']:.4f}")
    print(f"precision {quality['precision']:.4f}, recall {quality['recall']:.4f}, F1 {quality['f1']:.4f}, "
          f"review queue {quality['review_share']:.2%}, unlinked {quality['unlinked_share']:.2%}, "
          f"false links {int(quality['false_links']):,}")


if __name__ == "__main__":
    main()
