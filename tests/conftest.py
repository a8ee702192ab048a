"""Fixtures shared by every area: hermetic tests, and one small synthetic county, processed.

Hermetic: a test sees neither the checkout's `data/` and `mlflow/` (where `signpost demo` keeps
its database, keys and models) nor the caller's `SIGNPOST_*`/`MLFLOW_*` variables. The
variables are removed before anything is collected; session fixtures run in a temporary
folder of their worker, and each test in a fresh one of its own, so every relative default of
`Settings` (`data/…`, `sqlite:///mlflow/mlflow.db`) lands there, and so does every subprocess
started without an explicit `cwd`. The controlling process records the checkout's `data/` and
`mlflow/` when the session starts and fails the session if they changed by its end (under
pytest-xdist the controller starts before the workers and finishes after them).

The county is built once per test worker with the real generator and the real pipeline (no
stand-ins), then reused read-only. Tests that change data copy what they need into their own
tmp_path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from signpost.settings import get_settings

END = date(2026, 9, 30)
KEY = "test-pseudonym-key-not-secret"

#: Prefixes of the variables that point Signpost or MLflow somewhere; no test sees the caller's.
CALLER_VARIABLES = ("SIGNPOST_", "MLFLOW_")
#: The checkout's folders that hold a local run's state; a session leaves them as it found them.
CHECKOUT_STATE = ("data", "mlflow")

_state_at_start = pytest.StashKey[dict[str, tuple[int, int]]]()
_state_changed = pytest.StashKey[list[str]]()


def _scrub_caller_variables(monkeypatch: pytest.MonkeyPatch | None = None) -> None:
    for name in [name for name in os.environ if name.startswith(CALLER_VARIABLES)]:
        if monkeypatch is None:
            del os.environ[name]
        else:
            monkeypatch.delenv(name)


def checkout_state(root: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file and folder under the checkout's state folders.

    A folder's modification time changes when an entry is added, removed or renamed in it, so
    comparing two of these maps shows files created, changed or deleted.
    """
    state: dict[str, tuple[int, int]] = {}
    for name in CHECKOUT_STATE:
        top = root / name
        for path in [top, *top.rglob("*")] if top.is_dir() else []:
            try:
                stat = path.lstat()
            except FileNotFoundError:  # removed while we looked: the folder's time shows it
                continue
            state[path.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return state


def pytest_configure(config: pytest.Config) -> None:
    # Before collection: test modules build `Settings()` at import time.
    _scrub_caller_variables()


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller, or a run without xdist
        session.config.stash[_state_at_start] = checkout_state(session.config.rootpath)


def pytest_sessionfinish(session: pytest.Session) -> None:
    before = session.config.stash.get(_state_at_start, None)
    if before is None:
        return
    after = checkout_state(session.config.rootpath)
    changed = sorted(path for path in before.keys() | after.keys()
                     if before.get(path) != after.get(path))
    if changed:
        session.config.stash[_state_changed] = changed
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    changed = config.stash.get(_state_changed, [])
    if changed:
        terminalreporter.section("tests changed the checkout", red=True, bold=True)
        terminalreporter.write_line(
            f"this session created, changed or deleted {len(changed)} path(s) under "
            f"{', '.join(f'{name}/' for name in CHECKOUT_STATE)} of {config.rootpath}; "
            "a test must use its tmp_path (see tests/conftest.py), unless another process, such as "
            "a `signpost serve` in use, wrote there meanwhile:")
        for path in changed[:20]:
            terminalreporter.write_line(f"  {path}")


@pytest.fixture(scope="session", autouse=True)
def session_working_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The working folder of session-scoped fixtures (one per xdist worker)."""
    folder = tmp_path_factory.mktemp("session_cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield folder


@pytest.fixture(autouse=True)
def working_folder(session_working_folder: Path, tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test: a fresh empty working folder, no `SIGNPOST_*`/`MLFLOW_*`, no cached settings.

    The variables are removed again because code run by an earlier test may have set one
    (`training.tracking` sets `MLFLOW_DISABLE_TELEMETRY`).
    """
    folder = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(folder)
    _scrub_caller_variables(monkeypatch)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


@dataclass(frozen=True)
class County:
    raw: Path  # partner extracts, including truth/ and quarantine/
    processed: Path  # output of the feature pipeline
    as_of: date
    key: str  # the pseudonym key used for `processed`


@pytest.fixture(scope="session")
def pseudonym_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    return KEY


@pytest.fixture(scope="session")
def small_county(tmp_path_factory: pytest.TempPathFactory) -> County:
    """3,000 residents, 1% faults, seed 7, processed as of the window's last day."""
    from features.build import build
    from signpost.settings import Settings
    from synthetic.generate import generate_county

    base = tmp_path_factory.mktemp("small_county")
    raw, processed = base / "raw", base / "processed"
    generate_county(raw, citizens=3_000, seed=7, months=24, end=END, error_rate=0.01, fmt="csv")
    settings = Settings(pseudonym_key=KEY, data_dir=base / "data")
    build(raw, processed, as_of=END, quarantine=None, engine="duckdb", settings=settings)
    return County(raw=raw, processed=processed, as_of=END, key=KEY)
