"""Generalising quasi-identifiers: birth date → age band, postcode → district → authority.

Birth date and full postcode single people out; an age band and a postcode district (about
10,000 households in Hampshire) do not, yet still say enough for eligibility and fairness
reporting. The functions here are SQL expression builders so that the 1.4M-citizen table is
generalised inside DuckDB.
"""

from __future__ import annotations

#: (label, min age, max age) in years; 75+ is capped at 120 so the band has finite bounds.
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("0-4", 0, 4),
    ("5-10", 5, 10),
    ("11-15", 11, 15),
    ("16-17", 16, 17),
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35-49", 35, 49),
    ("50-59", 50, 59),
    ("60-64", 60, 64),
    ("65-74", 65, 74),
    ("75+", 75, 120),
)
AGE_BAND_LABELS: tuple[str, ...] = tuple(label for label, _, _ in AGE_BANDS)

#: A full UK postcode once spaces are removed and letters upper-cased: outward code
#: (area letters, district digit, optional digit/letter) then inward code (digit, two letters).
POSTCODE_PATTERN = r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$"
#: A postcode district on its own (the outward code), as in services' `districts`.
DISTRICT_PATTERN = r"^[A-Z]{1,2}[0-9][A-Z0-9]?$"


def age_sql(birth_date: str, on: str) -> str:
    """Whole years between two DATE expressions (the age on a day, birthdays counted)."""
    return (
        f"(year({on}) - year({birth_date}) - CASE WHEN month({on}) < month({birth_date}) "
        f"OR (month({on}) = month({birth_date}) AND day({on}) < day({birth_date})) "
        f"THEN 1 ELSE 0 END)"
    )


def age_band_sql(age: str) -> str:
    """The age band label for an integer age expression (NULL for a negative age)."""
    cases = " ".join(f"WHEN {age} <= {high} THEN '{label}'" for label, _, high in AGE_BANDS)
    return f"(CASE WHEN {age} < 0 THEN NULL {cases} ELSE '75+' END)"


def age_band_bounds_sql(age: str) -> tuple[str, str]:
    """SQL for the lower and upper bound of the band an age falls in."""
    low = " ".join(f"WHEN {age} <= {high} THEN {low}" for _, low, high in AGE_BANDS)
    high = " ".join(f"WHEN {age} <= {high} THEN {high}" for _, _, high in AGE_BANDS)
    return f"(CASE {low} ELSE 75 END)", f"(CASE {high} ELSE 120 END)"


def compact_postcode_sql(postcode: str) -> str:
    """Upper case with every space removed: the form the postcode checks run on."""
    return f"regexp_replace(upper({postcode}), '\\s+', '', 'g')"


def district_sql(compact: str) -> str:
    """The outward code (district) of a compact, already valid postcode."""
    return f"left({compact}, length({compact}) - 3)"


def age_band(age: int) -> str:
    """The band label for an age in whole years (Python twin of :func:`age_band_sql`)."""
    if age < 0:
        raise ValueError("age must not be negative")
    for label, _, high in AGE_BANDS:
        if age <= high:
            return label
    return AGE_BANDS[-1][0]
