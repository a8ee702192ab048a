"""The clerical review queue the feature build writes (``linkage_review.csv``, 0600, beside the quarantine).

Read as text, exactly as written: each compared field is ``same`` or ``partner | master``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: The compared fields, in the queue's column order.
COMPARED = ("given_name", "family_name", "birth_date", "postcode", "address", "nhs_number", "upn")
SCORES = ("match_probability", "runner_up", "margin_bits")


def read_review_queue(path: Path) -> pd.DataFrame | None:
    """The queue, best match first, or None when no build has written one there yet."""
    if not Path(path).is_file():
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in SCORES:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame
