"""The one file digest: every layer that records or compares a file's content uses it.

The build manifest hashes each extract and output, training tags a run with the manifest's hash,
and serving seeds its consent ledger and caseloads once per file hash; one helper keeps those
digests comparable. It lives in the shared base rather than in ``features/extracts.py`` so that
serving can use it without importing DuckDB (0.5 s and ~24 MB per worker).
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes, read in blocks (an extract may be gigabytes)."""
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
