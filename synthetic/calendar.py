"""Dates of the synthetic window: quarters counted back from the end date, as day numbers.

Days are integers since 1970-01-01 so that everything vectorises. Month arithmetic clips
the day to the month's length (31 March − 1 month = 28/29 February), as pandas'
`DateOffset` and dateutil's `relativedelta` do, so the feature pipeline's split dates
(`as_of − 3 months`, `− 6`, `− 12`) fall on the generator's quarter boundaries.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def from_day_number(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def months_before(d: date, months: int) -> date:
    """`d` minus whole months, clipping the day to the target month's length."""
    index = d.year * 12 + (d.month - 1) - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def year_month_day(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calendar year, month (1–12) and day (1–31) of day numbers."""
    d = np.asarray(days).astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months).astype(np.int64) + 1
    return year, month, day


def age_on(birth: tuple[np.ndarray, np.ndarray, np.ndarray], day: int) -> np.ndarray:
    """Whole years of age on `day` (birthdays counted), from `year_month_day(birth_day)`."""
    y, m, d = (int(v[0]) for v in year_month_day(np.array([day])))
    by, bm, bd = birth
    return y - by - ((m < bm) | ((m == bm) & (d < bd)))


@dataclass(frozen=True)
class Blocks:
    """Quarter blocks of the window, oldest first; the last one ends with the end date."""

    start: np.ndarray  # (n_blocks,) int, first day of each block
    stop: np.ndarray  # (n_blocks,) int, day after the last day of each block
    end_day: int  # the end date (inclusive)
    first_day: int  # first day of the window

    @property
    def n(self) -> int:
        return len(self.start)

    def month_of_day(self) -> np.ndarray:
        """(n_days,) month 0..11 of each day of the window, from `first_day`."""
        days = np.arange(self.first_day, self.end_day + 1).astype("datetime64[D]")
        return (days.astype("datetime64[M]").astype(np.int64) % 12).astype(np.int8)


def blocks(end: date, months: int) -> Blocks:
    """Blocks of three months counted back from `end`; the oldest may be shorter."""
    n_blocks = -(-months // 3)
    first = months_before(end, months)
    bounds = [months_before(end, 3 * k) for k in range(n_blocks, -1, -1)]
    starts = [max(day_number(b), day_number(first)) for b in bounds[:-1]]
    stops = [day_number(b) for b in bounds[1:]]
    stops[-1] = day_number(end) + 1
    return Blocks(np.array(starts), np.array(stops), day_number(end), day_number(first))
