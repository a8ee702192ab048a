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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.processes import stop

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
VIEWPORTS = {
    "narrow": {"width": 320, "height": 640},  # the smallest phone WCAG reflow asks for
    "phone": {"width": 390, "height": 844},
    "desktop": {"width": 1280, "height": 800},
}
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
    cwd: Path | None = None  # where the settings' relative defaults point (the demo's own folder)

    def signpost(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run the real CLI against this site's data, database and MLflow store."""
        return subprocess.run([SIGNPOST, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False, cwd=self.cwd)

    def train_recommender(self) -> subprocess.CompletedProcess:
        """Register one more recommender version (the challenger), as the fixture trains them."""
        return self.signpost(*TRAIN_RECOMMENDER, "--processed", str(self.processed))


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
        # the steward's review queue: written by the steward's test (the shared county has no partner records)
        SIGNPOST_LINKAGE_REVIEW_QUEUE=str(base / "data" / "quarantine" / "linkage_review.csv"),
        SIGNPOST_JWT_SIGNING_KEY_FILE=str(base / "data" / ".jwt.key"),
        MLFLOW_TRACKING_URI=f"sqlite:///{base / 'mlflow' / 'mlflow.db'}",
        SIGNPOST_MLFLOW_ARTIFACT_ROOT=str(base / "mlflow" / "artifacts"),
        SIGNPOST_REGISTRY_POLL_SECONDS="1",
        # An impossible per-group FPR limit: the early-help gate always refuses, so the admin's
        # refused-promotion flow does not depend on this small county's fairness figures.
        SIGNPOST_MAX_FPR_GAP="-1",
        # One reviewed child is a publishable cell, so the analyst's disagreement rate shows the
        # decisions the browser tests record (the default suppresses groups under 10).
        SIGNPOST_RESEARCH_K_ANONYMITY="1",
        PYTHONUNBUFFERED="1",
    )
    (base / "mlflow").mkdir()
    return env


#: Small and quick: the pages need registered models, not the best ones.
TRAIN_RECOMMENDER = ["train", "recommender", "--models", "ease", "--budget", "1"]
TRAIN_EARLY_HELP = ["train", "early-help", "--resamples", "50"]


@pytest.fixture(scope="session")
def trained(site_env: dict[str, str]) -> dict[str, str]:
    """Models trained on the small county and promoted by the real CLI, plus one challenger.

    The small county is too small for the early-help fairness gate, so its first version is
    promoted with `--force` (recorded on the version, which the analyst page shows), and a
    second version is left as challenger for the admin's refused-promotion flow.
    """
    processed = ["--processed", site_env["SIGNPOST_PROCESSED_DIR"]]
    for args in (
        [*TRAIN_RECOMMENDER, *processed],
        ["promote", "recommender"],
        [*TRAIN_EARLY_HELP, *processed],
        ["promote", "early-help", "--force"],
        [*TRAIN_EARLY_HELP, *processed],
    ):
        _run([SIGNPOST, *args], site_env, "signpost " + " ".join(args[:2]))
    return site_env


@pytest.fixture(scope="session")
def site(trained: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`signpost serve` on a free loopback port, stopped when the session ends."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with served(trained, url, tmp_path_factory.mktemp("web_server") / "server.log") as site:
        yield site


@contextmanager
def served(env: dict[str, str], url: str, log: Path, *, cwd: Path | None = None,
           processed: Path | None = None) -> Iterator[Site]:
    """`signpost serve` with `env` at `url` (a loopback port), logging to `log`; stopped on exit.

    `cwd`: the folder the settings' relative defaults resolve in (then `processed` names the
    processed folder there; otherwise `SIGNPOST_PROCESSED_DIR` does).
    """
    port = url.rsplit(":", 1)[1]
    with log.open("w") as out:
        server = subprocess.Popen(
            [SIGNPOST, "serve", "--host", "127.0.0.1", "--port", port],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
        )
    try:
        _wait_ready(url, server, log)
        yield Site(url=url, env=env, processed=processed or Path(env["SIGNPOST_PROCESSED_DIR"]), log=log, cwd=cwd)
    finally:
        stop(server, timeout=20)


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
def playwright(site: Site) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/setup.sh` (it installs Debian's chromium)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `bash scripts/setup.sh` (it vendors axe-core from npm)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


def _chromium(playwright, site: Site, **options) -> tuple[object, str]:
    """Debian's chromium with a fresh profile, headless, talking only to the loopback server."""
    profile = tempfile.mkdtemp(prefix="signpost-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, base_url=site.url,
        locale="en-GB", timezone_id="Europe/London", **options,
    )
    context.set_default_timeout(20_000)
    return context, profile


@pytest.fixture(scope="session")
def browser_context(playwright, site: Site) -> Iterator[object]:
    context, profile = _chromium(playwright, site, viewport=VIEWPORTS["desktop"])
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
    """A fresh tab at the test's viewport; console errors and CSP violations fail the test.

    A page the test deliberately opens with an error status (403, 404) makes chromium log
    "Failed to load resource" for that document; only those are forgiven.
    """
    tab = browser_context.new_page()
    tab.set_viewport_size(VIEWPORTS[viewport])
    problems: list[tuple[str, str]] = []
    failed_documents: set[str] = set()

    def on_console(message) -> None:
        if message.type == "error":
            problems.append((message.text, (message.location or {}).get("url", "")))

    def on_response(response) -> None:
        if response.status >= 400:
            if response.request.resource_type == "document":
                failed_documents.add(response.url)
            else:
                problems.append((f"{response.status} for {response.url}", response.url))

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append((str(error), "")))
    tab.on("response", on_response)
    tab.viewport_name = viewport
    yield tab
    close_tab(tab)
    real = [text for text, url in problems
            if not (text.startswith("Failed to load resource") and url in failed_documents)]
    assert not real, f"browser console errors: {real}"


def close_tab(tab) -> None:
    """Close a tab once no navigation is in flight.

    Chromium can acknowledge closing a tab whose navigation is committing and then never close
    it, so `close()` waits forever (crbug.com/536385539, microsoft/playwright#42366): a test
    that ends right after a click that navigates hung CI for the whole test timeout. Going to
    about:blank first waits for any navigation to finish and starts none that could race.
    """
    from playwright.sync_api import Error as PlaywrightError

    try:
        tab.goto("about:blank", wait_until="load", timeout=20_000)
    except PlaywrightError:  # a tab that cannot settle is closed all the same
        pass
    tab.close()


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
def shoot(request: pytest.FixtureRequest):
    """Save a full-page screenshot as test-artifacts/screenshots/<name>-<viewport>.png."""
    from playwright.sync_api import Error as PlaywrightError

    def take(name: str | None = None, tab=None) -> Path:
        tab = tab or request.getfixturevalue("page")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        stem = name or request.node.originalname.removeprefix("test_")
        path = SCREENSHOTS / f"{stem}-{tab.viewport_name}.png"
        # A screenshot taken while a navigation commits fails in Chromium ("Unable to capture
        # screenshot"): a click's navigation can still be committing when the test's check of
        # the new page has passed. Let it finish first; the picture is evidence, not a check.
        tab.wait_for_load_state("load")
        try:
            tab.screenshot(path=str(path), full_page=True)
        except PlaywrightError as error:
            if "Unable to capture screenshot" not in str(error):
                raise
            tab.wait_for_timeout(250)
            tab.screenshot(path=str(path), full_page=True)
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


@dataclass(frozen=True)
class Api:
    """The JSON API of the same server, with development tokens from the real `signpost token`."""

    site: Site

    def token(self, role: str, subject: str) -> str:
        done = self.site.signpost("token", "--role", role, "--subject", subject, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def audit(self, *, subject: str | None = None) -> list[dict]:
        """Every audit entry (for one pseudonym if given), read as an admin through /v1/audit."""
        headers = {"Authorization": f"Bearer {self.token('admin', 'web-test-auditor')}"}
        entries, after = [], 0
        while True:
            params = {"after": after, "limit": 500, **({"subject": subject} if subject else {})}
            page = httpx.get(f"{self.site.url}/v1/audit", params=params, headers=headers, timeout=30).json()
            entries += page["entries"]
            if page["next_after"] is None:
                return entries
            after = page["next_after"]


@pytest.fixture(scope="session")
def api(site: Site) -> Api:
    return Api(site)


@pytest.fixture
def no_js_page(playwright, site: Site, viewport: str) -> Iterator[object]:
    """A separate chromium with JavaScript switched off: the pages must work without it."""
    context, profile = _chromium(playwright, site, viewport=VIEWPORTS[viewport], java_script_enabled=False)
    tab = context.new_page()
    tab.viewport_name = viewport
    try:
        yield tab
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)
