"""Owner-only files: what Signpost writes holds keys, personal data and models.

New files are private through the `signpost` command's umask (signpost/cli.py `main`); this
module tightens what already existed before it ran — the checkout's own `mlflow/` folder, or
the data of a demo run by an earlier version — so that no one but the owner can read any of it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from signpost.settings import Settings

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def make_private(roots: Iterable[Path]) -> int:
    """Give every folder under `roots` 0700 and every file 0600; returns how many changed.

    Symbolic links are neither followed nor changed (a link's own mode means nothing), and
    roots that do not exist yet are skipped: they will be created private.
    """
    changed = 0
    for root in roots:
        if not root.exists() or root.is_symlink():
            continue
        changed += _chmod(root, PRIVATE_FOLDER if root.is_dir() else PRIVATE_FILE)
        for folder, subfolders, files in os.walk(root):
            for name in subfolders:
                path = Path(folder, name)
                if not path.is_symlink():
                    changed += _chmod(path, PRIVATE_FOLDER)
            for name in files:
                path = Path(folder, name)
                if not path.is_symlink():
                    changed += _chmod(path, PRIVATE_FILE)
    return changed


def written_paths(settings: Settings) -> list[Path]:
    """What Signpost writes by default: data, extracts, processed data, MLflow's store, databases.

    A SQLite database's folder is included only when it is MLflow's own store (it holds the
    artifact root too); otherwise only the database file is, so a database configured in a
    shared folder never has that folder's other files changed.
    """
    paths = [settings.data_dir, settings.raw_dir, settings.processed_dir, settings.mlflow_artifact_root]
    for url in (settings.mlflow_tracking_uri, settings.database_url):
        if not url.startswith("sqlite:///"):
            continue
        database = Path(url.removeprefix("sqlite:///"))
        if settings.mlflow_artifact_root.resolve().is_relative_to(database.parent.resolve()) and database.parent != Path("."):
            paths.append(database.parent)
        paths.extend(database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm", "-journal"))
    return [path for path in paths if path != Path(".")]


def _chmod(path: Path, mode: int) -> int:
    # Keep the owner's own bits where they are stricter (a read-only file stays read-only).
    current = stat.S_IMODE(path.stat().st_mode)
    wanted = current & mode
    if current == wanted:
        return 0
    path.chmod(wanted)
    return 1
