"""The server killed with SIGKILL mid-load and restarted loses no acknowledged write.

A real `signpost serve` (uvicorn) subprocess takes concurrent event posts and consent
changes; it is killed without warning while requests are in flight, restarted on the same
database, and every write that was acknowledged (2xx received) must be there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from serving.domain.auth import issue_for
from serving.domain.events import shown_event_id

from .conftest import service_settings
from .county import JWT_KEY

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env: dict, port: int, log: Path) -> subprocess.Popen:
    signpost = Path(sys.executable).with_name("signpost")
    process = subprocess.Popen([str(signpost), "serve", "--port", str(port)], env=env,
                               stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"server did not become ready: {log.read_text()[-2000:]}")


def test_sigkill_mid_load_loses_no_acknowledged_write(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
    env.update({
        "SIGNPOST_DATA_DIR": str(tmp_path), "SIGNPOST_PROCESSED_DIR": str(world.county.processed),
        "SIGNPOST_PSEUDONYM_KEY": world.county.key, "SIGNPOST_DATABASE_URL": database_url,
        "SIGNPOST_JWT_SIGNING_KEY": JWT_KEY, "MLFLOW_TRACKING_URI": world.registry_uri,
        "SIGNPOST_MLFLOW_TRACKING_URI": world.registry_uri,
        "SIGNPOST_REQUESTS_PER_MINUTE": "1000000", "SIGNPOST_PEOPLE_PER_HOUR": "1000000",
    })
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    admin = {"Authorization": "Bearer " + issue_for(settings, role="admin", subject="admin-1", minutes=30)}
    service_id = None
    log = tmp_path / "server.log"
    process = _start(env, port, log)
    service_id = httpx.get(f"{base}/v1/services?limit=1", headers=admin).json()["services"][0]["service_id"]

    acked_events: list[str] = []
    acked_consents: dict[str, list[str]] = {p: [] for p in world.people.erasable[:4]}
    stop = threading.Event()
    lock = threading.Lock()

    def post_events(worker: int) -> None:
        with httpx.Client(base_url=base, headers=admin, timeout=10) as client:
            n = 0
            while not stop.is_set():
                n += 1
                event_id = f"crash-{worker}-{n}"
                try:
                    response = client.post("/v1/events", json={"events": [{
                        "event_id": event_id, "source": "council", "person_id": world.people.citizen,
                        "service_id": service_id, "occurred_at": "2026-11-01T10:00:00", "event_type": "loan"}]})
                except httpx.HTTPError:
                    return  # the server died under us: this one was never acknowledged
                if response.status_code == 201:
                    with lock:
                        acked_events.append(event_id)

    def toggle_consent(person: str) -> None:
        with httpx.Client(base_url=base, headers=admin, timeout=10) as client:
            status = "granted"
            while not stop.is_set():
                status = "withdrawn" if status == "granted" else "granted"
                try:
                    response = client.put(f"/v1/citizens/{person}/consent",
                                          json={"purpose": "research", "status": status, "method": "paper",
                                                "note": "crash test"})
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    acked_consents[person].append(status)

    threads = [threading.Thread(target=post_events, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=toggle_consent, args=(p,)) for p in acked_consents]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked_events) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # mid-load, no shutdown hooks
    process.wait(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked_events) >= 20, f"too little load before the kill: {len(acked_events)}"

    process = _start(env, port, log)
    try:
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            # the admin's ids in the shared `council` source are stored under a namespace of theirs
            stored = {shown_event_id(source, event_id)
                      for source, event_id in connection.execute(text("SELECT source, event_id FROM events"))}
        engine.dispose()
        missing = sorted(set(acked_events) - stored)
        assert not missing, f"acknowledged events lost: {missing[:10]}"
        for person, statuses in acked_consents.items():
            if not statuses:
                continue
            data = httpx.get(f"{base}/v1/citizens/{person}/data", headers=admin, timeout=30).json()
            recorded = [c["status"] for c in data["consents"] if c["origin"] == "api" and c["purpose"] == "research"]
            # every acknowledged change is recorded, in order; at most one more (in flight at the kill)
            assert recorded[: len(statuses)] == statuses, (person, statuses[-3:], recorded[-3:])
            assert len(recorded) <= len(statuses) + 1
        # resending everything after the crash is safe: acknowledged events come back as duplicates
        resend = httpx.post(f"{base}/v1/events", headers=admin, timeout=30, json={"events": [{
            "event_id": e, "source": "council", "person_id": world.people.citizen, "service_id": service_id,
            "occurred_at": "2026-11-01T10:00:00", "event_type": "loan"} for e in acked_events[:100]]})
        assert resend.status_code == 201 and resend.json()["duplicates"] == min(100, len(acked_events))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
