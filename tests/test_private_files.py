"""Every file and folder Signpost writes is readable by its owner only (0600/0700).

The real `signpost` command is run as a separate process from a shell-like umask of 022, so
the test sees what a council's server would: the command itself makes its files private.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from signpost.private_files import make_private, written_paths
from signpost.settings import Settings

SIGNPOST = str(Path(sys.executable).with_name("signpost"))


def readable_by_others(root: Path) -> list[str]:
    """Paths under `root` (itself included) with any group or other permission bit set."""
    found = []
    for folder, subfolders, files in os.walk(root):
        for path in [Path(folder)] + [Path(folder, name) for name in subfolders + files]:
            if not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) & 0o077:
                found.append(f"{oct(stat.S_IMODE(path.stat().st_mode))} {path.relative_to(root.parent)}")
    return sorted(set(found))


def run(*args: str, env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run([SIGNPOST, *args], check=False, env=env, cwd=cwd, capture_output=True, text=True,
                            preexec_fn=lambda: os.umask(0o022), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_the_command_writes_only_private_files(tmp_path) -> None:
    data, mlflow = tmp_path / "data", tmp_path / "mlflow"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SIGNPOST_", "MLFLOW_"))}
    env |= {
        "SIGNPOST_DATA_DIR": str(data),
        "SIGNPOST_PSEUDONYM_KEY_FILE": str(data / ".pseudonym.key"),
        "SIGNPOST_JWT_SIGNING_KEY_FILE": str(data / ".jwt.key"),
        "SIGNPOST_DATABASE_URL": f"sqlite:///{data / 'signpost.db'}",
        "SIGNPOST_PROCESSED_DIR": str(data / "processed"),
        "SIGNPOST_MLFLOW_ARTIFACT_ROOT": str(mlflow / "artifacts"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{mlflow / 'mlflow.db'}",
    }
    run("generate", "--out", str(data / "raw"), "--citizens", "300", env=env, cwd=tmp_path)
    run("features", "--raw", str(data / "raw"), "--out", str(data / "processed"), "--as-of", "2026-09-30",
        env=env, cwd=tmp_path)
    run("db", "upgrade", env=env, cwd=tmp_path)
    run("train", "recommender", "--models", "popularity", "--budget", "1", env=env, cwd=tmp_path)

    written = {path.relative_to(tmp_path).parts[:2] for path in tmp_path.rglob("*")}
    assert {("data", "raw"), ("data", "processed"), ("data", ".pseudonym.key"), ("data", ".jwt.key"),
            ("data", "signpost.db"), ("mlflow", "mlflow.db"), ("mlflow", "artifacts")} <= written
    assert (data / "raw" / "quarantine").is_dir()
    assert readable_by_others(data) == []
    assert readable_by_others(mlflow) == []
    for key in (data / ".pseudonym.key", data / ".jwt.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_make_private_tightens_what_already_existed_and_follows_no_link(tmp_path) -> None:
    store, outside = tmp_path / "mlflow", tmp_path / "elsewhere.txt"
    (store / "artifacts" / "1").mkdir(parents=True, mode=0o755)
    (store / ".gitkeep").write_text("")
    (store / "artifacts" / "1" / "model.pkl").write_bytes(b"x")
    (store / "artifacts" / "1" / "read-only.txt").write_text("r")
    outside.write_text("not ours")
    (store / "link").symlink_to(outside)
    for path in [store, *store.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    (store / "artifacts" / "1" / "read-only.txt").chmod(0o444)
    outside.chmod(0o644)

    assert make_private([store, tmp_path / "absent"]) == 6
    assert readable_by_others(store) == []
    assert stat.S_IMODE((store / "artifacts" / "1" / "read-only.txt").stat().st_mode) == 0o400
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # the link's target is not ours
    assert make_private([store]) == 0


def test_a_database_in_a_shared_folder_is_tightened_alone(tmp_path) -> None:
    shared = tmp_path / "srv"
    shared.mkdir()
    settings = Settings(data_dir=tmp_path / "data", raw_dir=tmp_path / "data" / "raw",
                        processed_dir=tmp_path / "data" / "processed",
                        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}",
                        mlflow_artifact_root=tmp_path / "mlflow" / "artifacts",
                        database_url=f"sqlite:///{shared / 'signpost.db'}")
    paths = written_paths(settings)
    assert tmp_path / "mlflow" in paths  # MLflow's store: it holds the artifact root
    assert shared not in paths and shared / "signpost.db" in paths
