"""Fail closed, the serving half (issue 14): the API docs under the one CSP from vendored copies,
`/metrics` only with its token, development sign-in only where the server listens on loopback,
owner-only files from workers that uvicorn starts.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from serving.http.headers import CONTENT_SECURITY_POLICY

from .conftest import service_settings
from .test_problems import assert_problem

SIGNPOST = str(Path(sys.executable).with_name("signpost"))
METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"


def client_for(world, tmp_path, *, listen_host: str | None = None, **overrides) -> TestClient:
    from serving.http.app import create_app

    settings = service_settings(world, f"sqlite:///{tmp_path / 'service.db'}", tmp_path, **overrides)
    return TestClient(create_app(settings, listen_host=listen_host), raise_server_exceptions=False)


# ------------------------------------------------------------------ metrics ------------------


def test_metrics_are_off_without_a_token(world, tmp_path):
    with client_for(world, tmp_path) as client:
        off = assert_problem(client.get("/metrics"), 404)
        assert "SIGNPOST_METRICS_TOKEN" in off["detail"]
        assert "signpost_requests_total" not in client.get("/metrics", headers={"Authorization": "Bearer "}).text


def test_metrics_need_the_metrics_token(world, tmp_path):
    with client_for(world, tmp_path, metrics_token=METRICS_TOKEN) as client:
        client.get("/healthz")
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS_TOKEN},
                        {"Authorization": f"Bearer {METRICS_TOKEN}x"}):
            refused = client.get("/metrics", headers=headers)
            assert_problem(refused, 401)
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "signpost_requests_total" not in refused.text
        shown = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert shown.status_code == 200 and shown.headers["content-type"].startswith("text/plain")
        assert "signpost_requests_total" in shown.text and "signpost_model_version" in shown.text
        assert METRICS_TOKEN not in shown.text


# ------------------------------------------------------------------ docs ---------------------


def test_the_docs_load_only_this_servers_files_under_the_one_policy(world, tmp_path):
    with client_for(world, tmp_path) as client:
        swagger, redoc, again = client.get("/docs"), client.get("/redoc"), client.get("/redoc")
    assert swagger.status_code == redoc.status_code == 200
    assert swagger.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    for page in (swagger, redoc):
        assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(source.startswith("/static/") for source in sources), sources
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "script-src 'self';" in page.headers["content-security-policy"]
    nonce = re.search(r'data-nonce="([^"]+)"', redoc.text).group(1)
    assert f"style-src 'self' 'nonce-{nonce}';" in redoc.headers["content-security-policy"]
    assert re.search(r'data-nonce="([^"]+)"', again.text).group(1) != nonce  # fresh per response
    for script in ("/static/docs/swagger-init.js", "/static/docs/redoc-init.js"):
        with client_for(world, tmp_path) as client:
            assert client.get(script).status_code == 200


# ------------------------------------------------------------------ development sign-in ------


@pytest.mark.parametrize("listen_host,offered", [("127.0.0.1", True), ("::1", True), ("0.0.0.0", False),
                                                  ("192.168.1.20", False), (None, False)])
def test_development_sign_in_follows_the_listening_address(world, tmp_path, listen_host, offered):
    with client_for(world, tmp_path, listen_host=listen_host) as client:
        page = client.get("/sign-in", headers={"accept": "text/html"})
        assert (page.status_code == 200) is offered, page.text[:300]
        if not offered:
            assert page.status_code == 404 and "persona" not in page.text
            assert client.post("/sign-in", data={"persona": "citizen"}).status_code in (403, 404)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_env(world, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNPOST_", "MLFLOW_"))}
    env.update(SIGNPOST_DATA_DIR=str(tmp_path / "data"), SIGNPOST_PROCESSED_DIR=str(world.county.processed),
               SIGNPOST_PSEUDONYM_KEY=world.county.key, SIGNPOST_DATABASE_URL=f"sqlite:///{tmp_path / 'service.db'}",
               SIGNPOST_JWT_SIGNING_KEY_FILE=str(tmp_path / "data" / ".jwt.key"),
               MLFLOW_TRACKING_URI=world.registry_uri)
    return env


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[tuple[str, int]]:
    """A real server process (started from a 022 umask, as a shell would), until it answers."""
    with log.open("w") as out:
        server = subprocess.Popen(["sh", "-c", 'umask 022 && exec "$@"', "sh", *command], env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=20)


def umask_of(pid: int) -> str:
    return re.search(r"^Umask:\s+(\d+)$", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE).group(1)


def test_a_server_bound_to_every_address_offers_no_development_sign_in(world, tmp_path):
    """The real `signpost serve --host 0.0.0.0`, no SIGNPOST_ENVIRONMENT: no personas page."""
    port = _free_port()
    command = [SIGNPOST, "serve", "--host", "0.0.0.0", "--port", str(port)]
    with serving(command, _server_env(world, tmp_path), port, tmp_path / "server.log") as (url, _):
        page = httpx.get(f"{url}/sign-in", headers={"accept": "text/html"})
        assert page.status_code == 404 and "persona" not in page.text
        assert httpx.post(f"{url}/sign-in", data={"persona": "citizen"}).status_code in (403, 404)


def test_a_worker_uvicorn_starts_directly_is_owner_only_and_offers_no_development_sign_in(world, tmp_path):
    """`uvicorn serving.http.asgi:app` (no `signpost serve`): umask 077, and since nobody said where it
    listens, no development sign-in even on loopback."""
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "serving.http.asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    with serving(command, _server_env(world, tmp_path), port, tmp_path / "server.log") as (url, pid):
        assert umask_of(pid) == "0077"
        assert httpx.get(f"{url}/sign-in", headers={"accept": "text/html"}).status_code == 404
