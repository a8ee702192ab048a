"""The analysts' research export: service usage by category × local authority × age band.

Each cell counts distinct people who used at least one service of that category in the 12
months up to ``as_of``, among people whose research state allows it, from sources whose
sharing policy allows research. The export is k-anonymous by small-cell suppression:

- a cell with fewer than k people (``settings.research_k_anonymity``, default 10) is
  removed, not shown as a number; the manifest says how many cells were removed;
- no totals or margins are published, so no suppressed cell can be recovered by
  subtraction (which is why there is no complementary suppression to do);
- every published count is at least k.

A person may appear in several categories (each cell counts people, not events), so the
cells never add up to a population — another reason totals would mislead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd
from dateutil.relativedelta import relativedelta

from features.validate import quote_literal

WINDOW_MONTHS = 12
CELL_COLUMNS = ("category", "local_authority", "age_band")


def usage_sql(events: str, people: str, services: str, *, sources: Sequence[str], as_of: date) -> str:
    """SELECT ``category, local_authority, age_band, people`` before suppression.

    ``events``: ``cid, col, source, occurred_at``; ``people``: ``cid, local_authority,
    age_band`` of research-allowed citizens; ``services``: ``col, category``.
    """
    listed = ", ".join(quote_literal(s) for s in sources) or "NULL"
    start = as_of - relativedelta(months=WINDOW_MONTHS) + timedelta(days=1)
    end = as_of + timedelta(days=1)
    return f"""
SELECT s.category, p.local_authority, p.age_band, count(DISTINCT e.cid) AS people
FROM {events} e JOIN {people} p ON p.cid = e.cid JOIN {services} s ON s.col = e.col
WHERE e.source IN ({listed})
  AND e.occurred_at >= TIMESTAMP '{start.isoformat()} 00:00:00'
  AND e.occurred_at < TIMESTAMP '{end.isoformat()} 00:00:00'
GROUP BY ALL"""


def suppress_small_cells(cells: pd.DataFrame, *, k: int) -> tuple[pd.DataFrame, int]:
    """Remove cells counting fewer than ``k`` people.

    Parameters
    ----------
    cells : DataFrame
        ``category, local_authority, age_band, people``.
    k : int
        Smallest publishable count (k >= 1).

    Returns
    -------
    published : DataFrame
        The cells with ``people >= k``, sorted by the cell columns.
    suppressed : int
        How many cells were removed.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    keep = cells["people"] >= k
    published = cells.loc[keep].sort_values(list(CELL_COLUMNS), kind="stable").reset_index(drop=True)
    return published, int((~keep).sum())
