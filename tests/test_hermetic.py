"""Hermetic tests: neither the checkout's `data/`, `mlflow/` nor the caller's variables reach one.

A new user runs `signpost demo` and then the tests in the same checkout; the demo's database,
keys and models must neither change what a test sees nor be changed by it. The guard in
tests/conftest.py is itself tested here by running small sessions of pytest, with and without
pytest-xdist, in a folder that stands for a checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from signpost.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
CONFTEST = ROOT / "tests" / "conftest.py"


def _sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///")).resolve()


def test_relative_defaults_land_in_the_tests_own_folder(working_folder: Path) -> None:
    settings = Settings()
    paths = [settings.data_dir, settings.raw_dir, settings.processed_dir,
             settings.pseudonym_key_file, settings.jwt_signing_key_file,
             settings.mlflow_artifact_root, _sqlite_file(settings.database_url),
             _sqlite_file(settings.mlflow_tracking_uri)]
    for path in paths:
        assert path.resolve().is_relative_to(working_folder), path
        assert not path.resolve().is_relative_to(ROOT), path


def test_no_caller_variable_and_no_cached_settings_reach_a_test() -> None:
    assert [name for name in os.environ if name.startswith(("SIGNPOST_", "MLFLOW_"))] == []
    assert get_settings.cache_info().currsize == 0


def test_each_test_has_a_working_folder_of_its_own(working_folder: Path, tmp_path: Path) -> None:
    assert Path.cwd() == working_folder and list(working_folder.iterdir()) == []
    assert working_folder != tmp_path  # so a test's own tmp_path holds only what the test put there


SESSION_TEST = '''
import os
from pathlib import Path

from signpost.settings import Settings


def test_sees_no_caller_variable_and_writes_where_told(request):
    assert "SIGNPOST_DATABASE_URL" not in os.environ and "MLFLOW_TRACKING_URI" not in os.environ
    assert Settings().database_url == "sqlite:///data/signpost.db"
    checkout = request.config.rootpath
    Path("data").mkdir()
    Path("data/signpost.db").write_text("relative: the test's own folder")
    {action}
'''

#: What the session's one test does to the checkout, and the path the guard must name for it.
NAMED = {"create": "data/new.db", "change": "mlflow/mlflow.db", "delete": "data/signpost.db"}
ACTIONS = {
    "nothing": "",
    "create": 'Path(checkout, "data", "new.db").write_text("x")',
    "change": 'Path(checkout, "mlflow", "mlflow.db").write_text("changed")',
    "delete": 'Path(checkout, "data", "signpost.db").unlink()',
}


def _run_session(checkout: Path, action: str, *options: str) -> subprocess.CompletedProcess:
    """pytest over one test in `checkout`, a folder with the demo's state and our conftest."""
    (checkout / "data").mkdir()
    (checkout / "data" / "signpost.db").write_text("the demo's database")
    (checkout / "mlflow").mkdir()
    (checkout / "mlflow" / "mlflow.db").write_text("the demo's models")
    (checkout / "tests").mkdir()
    (checkout / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    (checkout / "tests" / "conftest.py").write_text(CONFTEST.read_text())
    (checkout / "tests" / "test_one.py").write_text(SESSION_TEST.format(action=ACTIONS[action]))
    env = {**os.environ, "SIGNPOST_DATABASE_URL": "sqlite:////nowhere/bogus.db",
           "MLFLOW_TRACKING_URI": "sqlite:////nowhere/bogus-mlflow.db"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options]
    return subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.parametrize(("action", "options"), [
    ("nothing", ("-n", "1")),
    ("create", ("-p", "no:xdist")),
    ("change", ("-n", "1")),
    ("delete", ("-p", "no:xdist")),
])
def test_a_session_that_touches_the_checkouts_state_fails(tmp_path: Path, action: str,
                                                          options: tuple) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    done = _run_session(checkout, action, *options)
    output = done.stdout + done.stderr
    assert "1 passed" in output, output  # the test itself passes: the session is what fails
    assert (checkout / "data" / "signpost.db").exists() == (action != "delete")
    if action == "nothing":
        assert done.returncode == 0, output
        assert "tests changed the checkout" not in output
        assert (checkout / "data" / "signpost.db").read_text() == "the demo's database"
    else:
        assert done.returncode == pytest.ExitCode.TESTS_FAILED, output
        assert "tests changed the checkout" in output
        assert f"  {NAMED[action]}" in done.stdout.splitlines(), output
