"""The processed folder `signpost features` writes, read back: the one reader training and serving share.

Both read the same files with the same checks and the same advice when something is missing;
each then derives what it needs (training: segments and the serving rules as arrays;
serving: indexes by pseudonym and households). Holds no raw id: every person and household
appears only as a pseudonym.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from signpost.errors import UserError

#: The interaction matrices a build writes, one per time window (see features/matrices.py).
WINDOWS = ("train", "test", "all")


@dataclass(frozen=True, eq=False)
class ProcessedFolder:
    """A processed folder in memory.

    ``citizens`` is in matrix-row order (``row`` = position), ``services`` in matrix-column
    order (``col`` = position); ``matrices`` holds the windows asked for, as float32 CSR of
    shape (citizens, services).
    """

    folder: Path
    manifest: dict[str, Any]
    citizens: pd.DataFrame
    services: pd.DataFrame
    matrices: dict[str, sparse.csr_matrix]


def read_processed(folder: Path, *, windows: Sequence[str] = ("all",)) -> ProcessedFolder:
    """Read `folder`; a UserError names what is missing or inconsistent and what to run."""
    folder = Path(folder)
    needed = ["manifest.json", "citizens.parquet", "services.parquet"] + [f"interactions_{w}.npz" for w in windows]
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise UserError(
            f"the processed folder {folder} lacks {', '.join(missing)}: build it with "
            "`signpost features --raw RAW --out DIR --as-of DATE` (or set SIGNPOST_PROCESSED_DIR "
            "to the folder it wrote)"
        )
    citizens = pd.read_parquet(folder / "citizens.parquet").sort_values("row").reset_index(drop=True)
    services = pd.read_parquet(folder / "services.parquet").sort_values("col").reset_index(drop=True)
    matrices = {}
    for window in windows:
        matrix = sparse.load_npz(folder / f"interactions_{window}.npz").tocsr().astype(np.float32)
        if matrix.shape != (len(citizens), len(services)):
            raise UserError(
                f"interactions_{window}.npz has shape {matrix.shape} but there are {len(citizens)} "
                f"citizens and {len(services)} services: rebuild the processed folder"
            )
        matrices[window] = matrix
    manifest = json.loads((folder / "manifest.json").read_text())
    return ProcessedFolder(folder=folder, manifest=manifest, citizens=citizens, services=services, matrices=matrices)
