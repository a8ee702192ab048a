"""Benchmark the API: recommendations against a trivial endpoint of the same app.

Starts `signpost serve` with 1 and then 2 workers on a generated county with a registered
champion, and drives it from a *separate process* (an asyncio + uvloop HTTP/1.1 keep-alive
load generator, below) with 32 concurrent connections:

- closed loop: each connection sends its next request as soon as the last one is answered —
  the saturation throughput (and the latency that queueing at saturation implies);
- open loop: the same 32 connections, paced to fixed total rates (default 1,000, 2,000, 2,500
  and 3,000 req/s), the latency a client sees when the service is not saturated.

In the closed loop the 32 connections are always waiting, so by Little's law the mean
latency is 32 / throughput whatever the server does; the summary prints that bound.

Recommendations are requested as 500 different citizens, each with their own token (a
citizen may read only their own records), so consent, events and eligibility are looked up
per request as in production. `/healthz` is the trivial endpoint: same middleware, logging
and metrics, no auth, no database, no model.

"CPU us/req" is the server processes' CPU time per answered request; "batch" is the mean
number of recommendation requests answered by one model call in that run (from `/metrics`).
A recommendation's cost falls steeply as batches fill, so compare runs (and machines) at
similar batch sizes.

    .venv/bin/python benchmarks/serve.py                         # 20k-citizen county in /tmp
    .venv/bin/python benchmarks/serve.py --citizens 100000 --seconds 20

Timing is noisy on a shared 2-core machine (the load generator takes one core): this prints
figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this folder comes first on sys.path and benchmarks/features.py would
# shadow the `features` package. The checkout goes last, so PYTHONPATH can name another one's code.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
    sys.path.append(str(ROOT))
END = date(2026, 9, 30)
KEY = "benchmark-pseudonym-key-not-secret"
JWT_KEY = "benchmark-jwt-signing-key-not-secret-0123456789"
METRICS_TOKEN = "benchmark-metrics-token-not-secret"


# ------------------------------------------------------------------ load generator ----------


async def _connection(host, port, requests, deadline, warmup_until, latencies, errors, interval, start_at):
    reader, writer = await asyncio.open_connection(host, port)
    i = random.randrange(len(requests))
    next_at = start_at
    try:
        while True:
            now = time.perf_counter()
            if now >= deadline:
                return
            if interval:
                if next_at > now:
                    await asyncio.sleep(next_at - now)
                sent = max(now, next_at)  # open loop: latency from the scheduled time
                next_at += interval
            else:
                sent = now
            writer.write(requests[i])
            i = (i + 1) % len(requests)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            done = time.perf_counter()
            if done >= warmup_until:
                if status != 200:
                    errors.append(status)
                latencies.append(done - sent)
    finally:
        writer.close()


async def _drive(host, port, requests, connections, seconds, warmup, rate):
    start = time.perf_counter()
    warmup_until = start + warmup
    deadline = warmup_until + seconds
    latencies: list[float] = []
    errors: list[int] = []
    interval = connections / rate if rate else 0.0
    await asyncio.gather(*(
        _connection(host, port, requests, deadline, warmup_until, latencies, errors, interval,
                    start + (interval * c / connections if interval else 0))
        for c in range(connections)
    ))
    return latencies, errors


def load_main(args) -> None:
    """Entry point of the load-generator process: prints one JSON line of results."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    spec = json.loads(Path(args.load).read_text())
    requests = [
        (f"GET {r['path']} HTTP/1.1\r\nHost: bench\r\n"
         + (f"Authorization: Bearer {r['token']}\r\n" if r.get("token") else "") + "\r\n").encode()
        for r in spec["requests"]
    ]
    latencies, errors = asyncio.run(_drive(
        "127.0.0.1", spec["port"], requests, spec["connections"], spec["seconds"], spec["warmup"], spec["rate"]))
    latencies.sort()

    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    print(json.dumps({
        "requests": len(latencies), "errors": len(errors), "throughput": len(latencies) / spec["seconds"],
        "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1.0),
    }))


def server_cpu_seconds(pid: int) -> float:
    """CPU time used so far by the server and its worker processes."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def server_rss_mib(pid: int) -> float:
    """Resident memory of the server and its worker processes."""
    import psutil

    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


def batches(port: int) -> tuple[float, float]:
    """(requests, model calls) the recommendation batcher has answered so far, from `/metrics`
    (every worker's, summed)."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10,
                     headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    found = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        for part in found:
            if line.startswith((f"signpost_recommendation_batch_size_{part} ",
                                f"signpost_recommendation_batch_size_{part}{{")):
                found[part] += float(line.rsplit(" ", 1)[1])
    return found["sum"], found["count"]


def run_load(port: int, requests: list[dict], *, connections: int, seconds: float, warmup: float,
             rate: float, workdir: Path, server_pid: int | None = None) -> dict:
    spec = workdir / f"load-{time.monotonic_ns()}.json"
    spec.write_text(json.dumps({"port": port, "requests": requests, "connections": connections,
                                "seconds": seconds, "warmup": warmup, "rate": rate}))
    cpu_before = server_cpu_seconds(server_pid) if server_pid else None
    batched_before = batches(port)
    try:
        out = subprocess.run([sys.executable, __file__, "--load", str(spec)], capture_output=True, text=True,
                             check=True, timeout=seconds + warmup + 120)
    finally:
        spec.unlink()  # it holds the run's tokens
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if cpu_before is not None:
        # CPU per answered request (warm-up included in both): robust to other load on the machine
        cpu = server_cpu_seconds(server_pid) - cpu_before
        result["server_cpu_us"] = cpu / max(1, result["requests"] * (seconds + warmup) / seconds) * 1e6
    answered, calls = (after - before for after, before in zip(batches(port), batched_before, strict=True))
    # Requests per model call (warm-up included): the per-request cost of a recommendation
    # falls steeply with it, so it explains most differences between runs and machines.
    result["mean_batch"] = answered / calls if calls else float("nan")
    return result


# ------------------------------------------------------------------ the service -------------


def prepare(workdir: Path, citizens: int) -> dict:
    """A county, its processed folder and a registered champion (reused if already there)."""
    import pandas as pd
    from scipy import sparse

    raw, processed = workdir / f"raw-{citizens}", workdir / f"processed-{citizens}"
    registry = workdir / f"registry-{citizens}"
    uri = f"sqlite:///{registry / 'mlflow.db'}"
    from signpost.settings import Settings

    if not (processed / "manifest.json").exists():
        from features.build import build
        from synthetic.generate import generate_county

        print(f"generating a county of {citizens:,} and building features ...", flush=True)
        generate_county(raw, citizens=citizens, seed=1, months=24, end=END, error_rate=0.01, fmt="parquet")
        build(raw, processed, as_of=END, quarantine=None, engine="duckdb",
              settings=Settings(pseudonym_key=KEY, data_dir=workdir))
    if not (registry / "mlflow.db").exists():
        import mlflow
        from recommender.ease import EASE
        from recommender.signposting import Signposter
        from training import tracking
        from training.recommender_pyfunc import log_signposter

        print("fitting EASE and registering it as champion ...", flush=True)
        registry.mkdir(parents=True, exist_ok=True)
        history = sparse.load_npz(processed / "interactions_all.npz").tocsr()
        signposter = Signposter.from_processed_tables(
            pd.read_parquet(processed / "citizens.parquet"), pd.read_parquet(processed / "services.parquet"),
            history, model=EASE(l2=50.0).fit(history), model_name="ease")
        settings = Settings(mlflow_tracking_uri=uri)
        experiment = tracking.configure(settings).create_experiment(
            "bench", artifact_location=(registry / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            model_uri = log_signposter(signposter, registry / "work")
        tracking.register(model_uri, settings.recommender_model_name, alias=tracking.CHAMPION)
    return {"raw": raw, "processed": processed, "uri": uri}


def citizen_requests(data: dict, n: int, workdir: Path) -> list[dict]:
    """`n` citizens with history and consent, each with their own token."""
    import pandas as pd

    from features.pseudonym import pseudonymise
    from signpost.settings import Settings

    issue_for = _first_module("serving.domain.auth", "serving.auth").issue_for

    raw = pd.read_parquet(data["raw"] / "citizens.parquet", columns=["person_id"]).drop_duplicates()
    raw = raw[raw["person_id"].astype(str).str.match(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
    processed = pd.read_parquet(data["processed"] / "citizens.parquet").set_index("pseudonym")
    raw["pseudonym"] = pseudonymise(raw["person_id"].astype(str).tolist(), KEY.encode(), "person")
    raw = raw[raw["pseudonym"].isin(processed.index)]
    consenting = processed.loc[raw["pseudonym"], "consent_personalisation"].fillna(False).to_numpy(dtype=bool)
    chosen = raw[consenting].sample(n=min(n, int(consenting.sum())), random_state=0)["person_id"].tolist()
    settings = Settings(pseudonym_key=KEY, jwt_signing_key=JWT_KEY, data_dir=workdir)
    return [{"path": f"/v1/citizens/{p}/recommendations?k=10",
             "token": issue_for(settings, role="citizen", subject=p, minutes=120)} for p in chosen]


def server_env(data: dict, workdir: Path, database: str) -> dict[str, str]:
    """The service's environment, on a fresh service database `workdir / database`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
    env.update({
        "SIGNPOST_DATA_DIR": str(workdir), "SIGNPOST_PROCESSED_DIR": str(data["processed"]),
        "SIGNPOST_PSEUDONYM_KEY": KEY, "SIGNPOST_JWT_SIGNING_KEY": JWT_KEY,
        "SIGNPOST_DATABASE_URL": f"sqlite:///{workdir / database}",
        "SIGNPOST_MLFLOW_TRACKING_URI": data["uri"], "MLFLOW_TRACKING_URI": data["uri"],
        "SIGNPOST_REQUESTS_PER_MINUTE": str(10**9), "SIGNPOST_METRICS_TOKEN": METRICS_TOKEN,
    })
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # A fresh service database each run: the served-suggestions log grows by every request,
    # and inserting into a larger index costs more, so reused files made runs drift apart.
    for stale in workdir.glob(f"{database}*"):
        stale.unlink()
    return env


def start_server(data: dict, workdir: Path, port: int, workers: int) -> subprocess.Popen:
    import httpx

    env = server_env(data, workdir, f"bench-{workers}.db")
    signpost = Path(sys.executable).with_name("signpost")
    log = (workdir / f"server-{workers}.log").open("wb")
    process = subprocess.Popen([str(signpost), "serve", "--port", str(port), "--workers", str(workers)],
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            if ready.status_code == 200 and not ready.json()["degraded"]:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit(f"the server did not become ready; see {workdir / f'server-{workers}.log'}")


# ------------------------------------------------------------------ in process ------------


def _first_module(*names: str):
    """The first of `names` whose file is in the checkout that provides the top package (older
    commits, measured with this script through PYTHONPATH, kept the service's modules elsewhere;
    an editable install would otherwise fill the gaps from this checkout)."""
    import importlib

    base = Path(importlib.import_module(names[0].split(".")[0]).__file__).parent.parent
    for name in names:
        path = base.joinpath(*name.split("."))
        if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
            return importlib.import_module(name)
    raise ModuleNotFoundError(f"none of {names} in {base}")


def in_process(data: dict, workdir: Path, requests: list[dict], *, rounds: int, concurrency: int,
               repeat: int) -> dict[str, list[float]]:
    """CPU time per request of the worker's app called directly as ASGI: no sockets, no uvicorn,
    no load generator, `concurrency` requests at a time (so batches of that size).

    Under other load this is steadier than the server runs: one process, one thread doing the
    work, timed by its own CPU clock. It leaves out uvicorn's share (HTTP parsing, writes),
    which is the same for both endpoints. Used to find what each commit cost.
    """
    import asyncio

    env = server_env(data, workdir, "in-process.db")
    os.environ.clear()
    os.environ.update(env)
    sys.stderr = (workdir / "in-process.log").open("w")  # the app's JSON log lines
    settings = _first_module("signpost.settings").get_settings()
    _first_module("serving.http.server", "serving.server").prepare(settings)
    app = _first_module("serving.http.asgi", "serving.asgi").app

    async def call(path: str, token: str | None) -> int:
        route, _, query = path.partition("?")
        headers = [(b"host", b"bench")] + ([(b"authorization", f"Bearer {token}".encode())] if token else [])
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": route, "raw_path": route.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
                 "server": ("127.0.0.1", 8000), "state": {}}
        status = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        return status[0]

    async def measure(chosen: list[dict], n: int) -> float:
        started, answered = time.process_time(), 0
        for turn in range(n):
            batch = [chosen[(turn * concurrency + i) % len(chosen)] for i in range(concurrency)]
            statuses = await asyncio.gather(*(call(r["path"], r.get("token")) for r in batch))
            if set(statuses) != {200}:
                raise SystemExit(f"in-process requests failed: {sorted(set(statuses))}")
            answered += len(batch)
        return (time.process_time() - started) / answered * 1e6

    async def main() -> dict[str, list[float]]:
        out: dict[str, list[float]] = {"trivial /healthz": [], "recommendations": []}
        async with app.router.lifespan_context(app):
            for _ in range(repeat):
                for name, chosen in (("trivial /healthz", [{"path": "/healthz"}]), ("recommendations", requests)):
                    await measure(chosen, max(1, rounds // 10))  # warm
                    out[name].append(await measure(chosen, rounds))
        return out

    import uvloop

    return uvloop.run(main())


def machine() -> str:
    """What a reader needs to compare figures: commit, Python, CPU and BLAS kernel."""
    import platform

    import numpy  # noqa: F401 — loaded, so threadpoolctl can name its BLAS
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_info

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or "unknown"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    blas = ", ".join(f"{i.get('internal_api')} {i.get('architecture', '?')}" for i in threadpool_info()) or "none"
    return f"commit {commit}; Python {platform.python_version()}; {os.cpu_count()} x {cpu}; BLAS {blas}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "signpost-bench-serve")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rate", default="1000,2000,2500,3000", help="comma-separated total req/s of the open-loop runs")
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--in-process", action="store_true",
                        help="CPU per request of the app called directly (no server): see `in_process`")
    parser.add_argument("--concurrency", type=int, default=32, help="--in-process: requests at a time")
    parser.add_argument("--rounds", type=int, default=150, help="--in-process: rounds of --concurrency requests")
    parser.add_argument("--repeat", type=int, default=3, help="--in-process: measurements of each endpoint")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = prepare(args.workdir, args.citizens)
    recommendations = citizen_requests(data, args.people, args.workdir)
    if args.in_process:
        described = machine()
        cpu = in_process(data, args.workdir, recommendations, rounds=args.rounds, concurrency=args.concurrency,
                         repeat=args.repeat)
        sys.stderr = sys.__stderr__
        for name, figures in cpu.items():
            print(f"in process, {args.concurrency} at a time: {name:<18} CPU us/req "
                  + " ".join(f"{f:,.0f}" for f in figures))
        ratios = [t / r for t, r in zip(cpu["trivial /healthz"], cpu["recommendations"], strict=True)]
        print(f"trivial / recommendations CPU per request: {' '.join(f'{r:.2f}' for r in ratios)}")
        print(described, "; code measured:", Path(_first_module("serving").__file__).parent.parent)
        print(f"machine load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return
    trivial = [{"path": "/healthz"}]
    rows = []
    ready: dict[int, tuple[float, float]] = {}
    for workers in [int(w) for w in args.workers.split(",")]:
        port = free_port()
        started = time.perf_counter()
        server = start_server(data, args.workdir, port, workers)
        ready[workers] = (time.perf_counter() - started, server_rss_mib(server.pid))
        try:
            for mode, rate in (("closed", 0.0), *(("open", float(r)) for r in args.rate.split(","))):
                for name, requests in (("trivial /healthz", trivial), ("recommendations", recommendations)):
                    result = run_load(port, requests, connections=args.connections, seconds=args.seconds,
                                      warmup=args.warmup, rate=rate, workdir=args.workdir, server_pid=server.pid)
                    rows.append({"workers": workers, "mode": mode if not rate else f"open {rate:g}/s",
                                 "endpoint": name, **result})
                    print(json.dumps(rows[-1]), flush=True)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    print()
    print(f"county: {args.citizens:,} citizens; {args.connections} connections; {args.seconds:g} s per run "
          f"after {args.warmup:g} s warm-up; load generator in a separate process")
    print(f"{'workers':>7}  {'mode':<14} {'endpoint':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU us/req':>10} {'batch':>6} {'errors':>6}")
    for r in rows:
        print(f"{r['workers']:>7}  {r['mode']:<14} {r['endpoint']:<18} {r['throughput']:>9,.0f} "
              f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r.get('server_cpu_us', float('nan')):>10,.0f} "
              f"{'-' if math.isnan(r['mean_batch']) else format(r['mean_batch'], '.1f'):>6} {r['errors']:>6}")
    for workers in sorted({r["workers"] for r in rows}):
        closed = {r["endpoint"]: r for r in rows if r["workers"] == workers and r["mode"] == "closed"}
        ratio = closed["recommendations"]["throughput"] / closed["trivial /healthz"]["throughput"]
        cpu_ratio = closed["trivial /healthz"]["server_cpu_us"] / closed["recommendations"]["server_cpu_us"]
        print(f"{workers} worker(s): recommendations / trivial throughput = {ratio:.2f} "
              f"(by server CPU per request: {cpu_ratio:.2f}); closed-loop mean latency by Little's law "
              f"= {args.connections} / throughput = "
              f"{1000 * args.connections / closed['recommendations']['throughput']:.1f} ms")
        under = [r for r in rows if r["workers"] == workers and r["endpoint"] == "recommendations"
                 and r["mode"] != "closed" and r["p99_ms"] < 10 and not r["errors"]]
        if under:
            best = max(under, key=lambda r: r["throughput"])
            print(f"{workers} worker(s): recommendations p99 under 10 ms up to {best['throughput']:,.0f} req/s offered "
                  f"over {args.connections} connections (p99 {best['p99_ms']:.1f} ms)")
    for workers, (seconds, rss) in ready.items():
        print(f"{workers} worker(s): ready {seconds:.1f} s after start, {rss:,.0f} MiB resident (all processes)")
    print(machine())
    print(f"machine load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
