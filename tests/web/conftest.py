"""The browser-test harness: one real server and one real chromium per test session.

Built from the real pieces, no stand-ins: the shared small county (real generator, real
feature pipeline), models trained and promoted by the real `signpost train`/`promote`
commands into a temporary MLflow store, and `signpost serve` running as a subprocess on a free
loopback port. Debian's chromium is driven by Playwright (never `playwright install`).
Screenshots go to test-artifacts/screenshots/ (git-ignored), named <test>-<viewport>.png.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SIGNPOST = str(Path(sys.executable).with_name("signpost"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
AXE = ROOT / "serving" / "static" / "vendor" / "axe" / "axe.min.js"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test shares one server and one browser: keep them on one xdist worker."""
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))


@dataclass(frozen=True)
class Site:
    url: str
    env: dict[str, str]
    processed: Path
    log: Path

    def signpost(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run the real CLI against this site's data, database and MLflow store."""
        return subprocess.run([SIGNPOST, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


@pytest.fixture(scope="session")
def site_env(small_county, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Settings for the server and the CLI: everything in one temporary folder."""
    base = tmp_path_factory.mktemp("web_site")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNPOST_", "MLFLOW_"))}
    env.update(
        SIGNPOST_ENVIRONMENT="local",
        SIGNPOST_DATA_DIR=str(base / "data"),
        SIGNPOST_RAW_DIR=str(small_county.raw),
        SIGNPOST_PROCESSED_DIR=str(small_county.processed),
        SIGNPOST_PSEUDONYM_KEY=small_county.key,
        SIGNPOST_DATABASE_URL=f"sqlite:///{base / 'data' / 'signpost.db'}",
        SIGNPOST_JWT_SIGNING_KEY_FILE=str(base / "data" / ".jwt.key"),
        MLFLOW_TRACKING_URI=f"sqlite:///{base / 'mlflow' / 'mlflow.db'}",
        SIGNPOST_MLFLOW_ARTIFACT_ROOT=str(base / "mlflow" / "artifacts"),
        SIGNPOST_REGISTRY_POLL_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    (base / "mlflow").mkdir()
    return env


@pytest.fixture(scope="session")
def trained(site_env: dict[str, str]) -> dict[str, str]:
    """Both models trained on the small county and promoted to champion by the real CLI."""
    processed = site_env["SIGNPOST_PROCESSED_DIR"]
    for args in (
        ["train", "recommender", "--processed", processed],
        ["promote", "recommender"],
        ["train", "early-help", "--processed", processed],
        ["promote", "early-help"],
    ):
        _run([SIGNPOST, *args], site_env, "signpost " + " ".join(args[:2]))
    return site_env


@pytest.fixture(scope="session")
def site(trained: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`signpost serve` on a free loopback port, stopped when the session ends."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("web_server") / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [SIGNPOST, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=trained, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    try:
        _wait_ready(url, server, log)
        yield Site(url=url, env=trained, processed=Path(trained["SIGNPOST_PROCESSED_DIR"]), log=log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _wait_ready(url: str, server: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}):\n{log.read_text()[-4000:]}")
        try:
            ready = httpx.get(f"{url}/readyz", timeout=2)
            if ready.status_code == 200 and ready.json().get("recommender", {}).get("version"):
                if ready.json().get("early_help", {}).get("version"):
                    return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server was not ready with both champions within {timeout}s:\n{log.read_text()[-4000:]}")


# ------------------------------------------------------------------------ browser ----------


@pytest.fixture(scope="session")
def browser_context(site: Site) -> Iterator[object]:
    """Debian's chromium with a fresh profile, headless, no network but the loopback server."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/setup.sh` (it installs Debian's chromium)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `bash scripts/setup.sh` (it vendors axe-core from npm)")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="signpost-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            base_url=site.url, viewport=VIEWPORTS["desktop"], locale="en-GB",
            timezone_id="Europe/London",
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def page(browser_context, viewport: str) -> Iterator[object]:
    """A fresh tab at the test's viewport; console errors and CSP violations fail the test."""
    tab = browser_context.new_page()
    tab.set_viewport_size(VIEWPORTS[viewport])
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.viewport_name = viewport
    tab.problems = problems
    yield tab
    tab.close()
    assert not problems, f"browser console errors: {problems}"


# ------------------------------------------------------------------------ helpers ----------


@pytest.fixture
def sign_in(page):
    """Sign in through the development sign-in page as a demo persona (e.g. "caseworker")."""

    def go(persona: str) -> None:
        page.context.clear_cookies()
        page.goto("/sign-in")
        page.check(f"input[name=persona][value='{persona}']")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        assert "/sign-in" not in page.url, f"sign-in as {persona} did not leave the sign-in page"

    return go


@pytest.fixture
def shoot(page, request: pytest.FixtureRequest):
    """Save a full-page screenshot as test-artifacts/screenshots/<name>-<viewport>.png."""

    def take(name: str | None = None) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        stem = name or request.node.originalname.removeprefix("test_")
        path = SCREENSHOTS / f"{stem}-{page.viewport_name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


#: Rules of WCAG 2.0/2.1/2.2 A and AA plus axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@pytest.fixture
def assert_accessible(page):
    """Run axe-core (served by the app itself) on the page; fail on serious or critical issues."""

    def check() -> list[dict]:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(url="/static/vendor/axe/axe.min.js")
        results = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            AXE_TAGS,
        )
        bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
        described = [
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(node["target"][0] if isinstance(node["target"][0], str) else str(node["target"])
                        for node in v["nodes"][:5])
            for v in bad
        ]
        assert not bad, f"accessibility violations on {page.url}:\n" + "\n".join(described)
        return results["violations"]

    return check
