"""Partner-local extracts: each partner keeps its own person ids and its own copy of identifiers.

`signpost generate --partners local` adds to the county what partner systems really hold:
the master person index's identifying columns on `citizens` (given and family name, first
line of address, NHS number, UPN for school-age children), one `partner_people` record per
person a local partner has seen (its own `local_id` and its own, imperfect copy of the
identifiers), events that name the person by `partner_person_id`, and `truth/links`.

Errors a real partner copy has, each at a stated rate per record: nicknames, typos (one
letter substituted, dropped or two swapped), day and month of birth swapped, a birth day off
by one, an old address (the person moved), blanks, a few records with `U` for sex. Twins (two
children of one household with the same birth date) and shared household surnames are in the
master index itself, so the hard cases are real. A few records per source belong to people
who are not county residents (visitors): they must stay unlinked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from synthetic import names

#: Sources whose systems do not hold the council's person id: their events use their own ids.
LOCAL_SOURCES = ("police", "nhs", "public_health", "schools", "voluntary", "fire", "leisure")
#: Probability that a source records an NHS number for a person who has one.
NHS_NUMBER_RECORDED = {"nhs": 0.95, "public_health": 0.9, "police": 0.1}
#: Per-record error rates of a partner's copy.
ERRORS = {
    "nickname": 0.06, "given_typo": 0.03, "given_blank": 0.01, "family_typo": 0.03, "family_blank": 0.01,
    "day_month_swap": 0.02, "birth_day_off": 0.01, "birth_blank": 0.02, "moved": 0.06,
    "address_blank": 0.03, "postcode_blank": 0.02, "sex_unknown": 0.02,
}
#: Twins: share of households with two or more children whose second child shares the first's birth date.
TWIN_SHARE = 0.03
#: Visitors (not in the master index) per source, as a share of that source's records.
VISITOR_SHARE = 0.01
_SCRAMBLE = (98_765_431, 31_415_927)
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass
class Identities:
    """The master person index's identifiers for one chunk (object arrays, None = not held)."""

    given: np.ndarray
    family: np.ndarray
    address: np.ndarray
    nhs_number: np.ndarray
    upn: np.ndarray


def make_twins(rng: np.random.Generator, household_idx: np.ndarray, is_child: np.ndarray,
               birth_day: np.ndarray) -> np.ndarray:
    """Birth days with some second children given their older sibling's birth day."""
    birth_day = birth_day.copy()
    children = np.flatnonzero(is_child)
    same = household_idx[children[1:]] == household_idx[children[:-1]]
    pick = same & (rng.random(len(same)) < TWIN_SHARE)
    birth_day[children[1:][pick]] = birth_day[children[:-1][pick]]
    return birth_day


def master_identities(rng: np.random.Generator, *, person_number: np.ndarray, household_idx: np.ndarray,
                      sex: np.ndarray, age_years: np.ndarray, sharers: np.ndarray) -> Identities:
    """Names, addresses and NHS numbers of the master index.

    ``sex`` indexes the contract's SEX (F, M, X, U); ``sharers`` marks people in households
    of unrelated adults (each has their own surname; everyone else shares the household's,
    except 12% of partners who kept theirs).
    """
    n = len(sex)
    female = rng.choice(len(names.FEMALE), n, p=names.zipf_weights(len(names.FEMALE), 0.7))
    male = rng.choice(len(names.MALE), n, p=names.zipf_weights(len(names.MALE), 0.7))
    either = rng.random(n) < 0.5
    is_female = (sex == 0) | ((sex >= 2) & either)
    given = np.where(is_female, np.array(names.FEMALE, dtype=object)[female], np.array(names.MALE, dtype=object)[male])
    surname_p = names.zipf_weights(len(names.SURNAMES), 0.9)
    n_households = int(household_idx.max()) + 1 if n else 0
    household_surname = rng.choice(len(names.SURNAMES), n_households, p=surname_p)
    own_surname = rng.choice(len(names.SURNAMES), n, p=surname_p)
    keeps_own = sharers | ((age_years >= 18) & (rng.random(n) < 0.12))
    family = np.array(names.SURNAMES, dtype=object)[np.where(keeps_own, own_surname, household_surname[household_idx])]
    address = _addresses(rng, n_households)[household_idx]
    nhs = np.array([_nhs_number(int(k)) for k in _scrambled(person_number)], dtype=object)
    upn = np.full(n, None, dtype=object)
    pupils = np.flatnonzero((age_years >= 4) & (age_years < 19))
    for i in pupils:
        number = int(_scrambled(np.array([person_number[i]]))[0])
        upn[i] = f"{_LETTERS[number % len(_LETTERS)]}850{number:09d}"
    return Identities(given, family, address, nhs, upn)


def _addresses(rng: np.random.Generator, n: int) -> np.ndarray:
    number = rng.integers(1, 240, n)
    street = rng.integers(0, len(names.STREETS), n)
    kind = rng.integers(0, len(names.STREET_TYPES), n)
    return np.array([f"{a} {names.STREETS[b]} {names.STREET_TYPES[c]}" for a, b, c in zip(number, street, kind)],
                    dtype=object)


def _scrambled(number: np.ndarray) -> np.ndarray:
    a, b = _SCRAMBLE
    return (np.asarray(number, dtype=np.int64) * a + b) % 10**9


def nhs_check_digit(nine: str) -> int | None:
    """The modulus 11 check digit of nine digits, or None where it would be 10 (not issued)."""
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(nine)) % 11
    return 0 if check == 11 else None if check == 10 else check


def _nhs_number(base: int) -> str | None:
    nine = f"{base:09d}"
    check = nhs_check_digit(nine)
    return None if check is None else nine + str(check)


def typo(rng: np.random.Generator, value: str) -> str:
    """One realistic keying error: a letter substituted, dropped or swapped with the next."""
    if len(value) < 3:
        return value
    at = int(rng.integers(1, len(value) - 1))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        letter = "aeiourstnlm"[int(rng.integers(0, 11))]
        return value[:at] + letter + value[at + 1:]
    if kind == 1:
        return value[:at] + value[at + 1:]
    return value[:at] + value[at + 1] + value[at] + value[at + 2:]


def partner_copy(rng: np.random.Generator, *, given, family, birth_date, sex, postcode, address, nhs_number, upn,
                 other_postcode, other_address) -> dict[str, list]:
    """A partner's imperfect copy of the identifiers (lists of str | None, one per record)."""
    n = len(given)
    u = {k: rng.random(n) < p for k, p in ERRORS.items()}
    out: dict[str, list] = {k: [] for k in ("given_name", "family_name", "birth_date", "sex", "postcode", "address")}
    for i in range(n):
        g = given[i]
        if u["nickname"][i] and names.nicknames_of(g):
            options = names.nicknames_of(g)
            g = options[int(rng.integers(0, len(options)))]
        elif u["given_typo"][i]:
            g = typo(rng, g)
        out["given_name"].append(None if u["given_blank"][i] else g)
        f = typo(rng, family[i]) if u["family_typo"][i] else family[i]
        out["family_name"].append(None if u["family_blank"][i] else f)
        b = birth_date[i]
        day, month = b[8:10], b[5:7]
        if u["day_month_swap"][i] and int(day) <= 12 and day != month:
            b = f"{b[:4]}-{day}-{month}"
        elif u["birth_day_off"][i]:
            b = f"{b[:8]}{max(1, min(28, int(day) + (1 if int(day) < 28 else -1))):02d}"
        out["birth_date"].append(None if u["birth_blank"][i] else b)
        out["sex"].append("U" if u["sex_unknown"][i] else sex[i])
        moved = u["moved"][i]
        out["postcode"].append(None if u["postcode_blank"][i] else (other_postcode[i] if moved else postcode[i]))
        out["address"].append(None if u["address_blank"][i] else (other_address[i] if moved else address[i]))
    return out | {"nhs_number": list(nhs_number), "upn": list(upn)}


def local_ids(prefix: str, number: np.ndarray) -> list[str]:
    """A partner's own person reference: its prefix and a number unrelated to the council's id."""
    return [f"{prefix}-{k:09d}" for k in _scrambled(number * 7 + 3)]


def visitors(rng: np.random.Generator, n: int) -> dict[str, list]:
    """Records of people the master index does not hold (not county residents)."""
    sex = rng.integers(0, 2, n)
    given = [names.FEMALE[int(rng.integers(0, len(names.FEMALE)))] if s == 0 else
             names.MALE[int(rng.integers(0, len(names.MALE)))] for s in sex]
    family = [names.SURNAMES[int(rng.integers(0, len(names.SURNAMES)))] for _ in range(n)]
    days = rng.integers(-20_000, 18_000, n)
    birth = [str(np.datetime64("1970-01-01") + int(d)) for d in days]
    postcode = [f"SW{int(rng.integers(1, 20))} {int(rng.integers(1, 9))}{_LETTERS[int(rng.integers(0, 20))]}"
                f"{_LETTERS[int(rng.integers(0, 20))]}" for _ in range(n)]
    return {"given_name": given, "family_name": family, "birth_date": birth, "sex": ["F" if s == 0 else "M" for s in sex],
            "postcode": postcode, "address": [None] * n, "nhs_number": [None] * n, "upn": [None] * n}


PARTNER_SCHEMA = pa.schema([(c, pa.string()) for c in (
    "source", "local_id", "given_name", "family_name", "birth_date", "sex", "postcode", "address", "nhs_number", "upn")])
