"""Households and residents of one chunk: who lives together, their ages and latent needs.

Everything is vectorised over the chunk. Household types follow the census picture of
Hampshire (one in four households is someone living alone; about one in four has
dependent children); birth dates follow the roles in the household (parents are 18–45
years older than their children). Latent needs are standard-normal-ish scores built from
demographics, a household part shared by everyone at the address and a personal part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.areas import Districts
from synthetic.catalogue import NEEDS

#: Household types and their shares of households.
HOUSEHOLD_TYPES = (
    "single_older",
    "older_couple",
    "single_adult",
    "couple",
    "couple_with_children",
    "single_parent",
    "multi_adult",
)
HOUSEHOLD_SHARES = np.array([0.16, 0.14, 0.12, 0.17, 0.21, 0.07, 0.11])
HOUSEHOLD_SHARES = HOUSEHOLD_SHARES / HOUSEHOLD_SHARES.sum()

ROLES = ("older", "adult", "parent", "child", "adult_child")
OLDER, ADULT, PARENT, CHILD, ADULT_CHILD = range(5)

#: Correlation of the household part of the needs (order of `NEEDS`): money, family stress
#: and skills for work travel together; so do isolation and health.
_NEED_CORRELATION = np.array(
    [
        [1.0, 0.1, 0.2, 0.5, 0.5, 0.1, -0.1, 0.0],
        [0.1, 1.0, 0.4, 0.1, 0.1, 0.2, -0.2, 0.0],
        [0.2, 0.4, 1.0, 0.1, 0.1, 0.3, -0.3, 0.0],
        [0.5, 0.1, 0.1, 1.0, 0.3, 0.2, 0.0, 0.0],
        [0.5, 0.1, 0.1, 0.3, 1.0, 0.0, 0.0, 0.2],
        [0.1, 0.2, 0.3, 0.2, 0.0, 1.0, -0.1, 0.0],
        [-0.1, -0.2, -0.3, 0.0, 0.0, -0.1, 1.0, 0.3],
        [0.0, 0.0, 0.0, 0.0, 0.2, 0.0, 0.3, 1.0],
    ]
)
_NEED_CHOLESKY = np.linalg.cholesky(_NEED_CORRELATION)


@dataclass
class Population:
    """One chunk's residents (indexed by `person_idx`) and households (`household_idx`)."""

    # households
    household_type: np.ndarray  # (n_households,) int8, index into HOUSEHOLD_TYPES
    district_idx: np.ndarray  # (n_households,) int16
    imd_decile: np.ndarray  # (n_households,) int8, 1..10 (the true value)
    imd_visible: np.ndarray  # (n_households,) bool, False where the extract leaves it blank
    inward_code: np.ndarray  # (n_households,) int32, index of the postcode's inward part
    # people
    household_idx: np.ndarray  # (n,) int32
    role: np.ndarray  # (n,) int8
    birth_day: np.ndarray  # (n,) int32, days since 1970-01-01
    sex: np.ndarray  # (n,) int8, index into contract SEX
    ethnicity: np.ndarray  # (n,) int8, index into contract ETHNICITY
    disability: np.ndarray  # (n,) int8, index into contract DISABILITY
    needs: np.ndarray  # (n, len(NEEDS)) float32, latent need scores
    engagement: np.ndarray  # (n,) float32, how readily this person uses services at all

    @property
    def n(self) -> int:
        return len(self.household_idx)


def _household_members(rng: np.random.Generator, n_households: int):
    """Per household: type, and per member: role and age at the end date (years, float)."""
    htype = rng.choice(len(HOUSEHOLD_SHARES), size=n_households, p=HOUSEHOLD_SHARES).astype(np.int8)
    n_children = np.zeros(n_households, dtype=np.int64)
    fam = htype == 4
    n_children[fam] = rng.choice([1, 2, 3, 4], size=fam.sum(), p=[0.40, 0.41, 0.14, 0.05])
    sp = htype == 5
    n_children[sp] = rng.choice([1, 2, 3], size=sp.sum(), p=[0.55, 0.33, 0.12])
    n_adults = np.select(
        [htype == 0, htype == 1, htype == 2, htype == 3, htype == 4, htype == 5],
        [1, 2, 1, 2, 2, 1],
        default=0,
    )
    multi = htype == 6
    family_multi = multi & (rng.random(n_households) < 0.55)  # parents + adult children
    n_adults[multi] = np.where(
        family_multi[multi], 2 + rng.choice([1, 2], size=multi.sum(), p=[0.7, 0.3]),
        rng.choice([2, 3, 4], size=multi.sum(), p=[0.6, 0.3, 0.1]),
    )
    size = n_adults + n_children

    # Household reference ages.
    u = rng.random(n_households)
    older_age = 65 + np.minimum(rng.exponential(9.0, n_households), 37)
    adult_age = 18 + 47 * rng.beta(1.4, 1.8, n_households)
    couple_age = 22 + 52 * rng.beta(2.0, 1.6, n_households)
    youngest = rng.uniform(0, 17.99, n_households)
    gaps = rng.uniform(1.2, 4.0, (n_households, 3))
    parent_at_birth = rng.normal(30.5, 5.5, n_households).clip(18, 46)
    sharer_age = 18 + 16 * rng.beta(1.5, 2.5, n_households)
    multi_parent_age = 45 + 19 * u

    hh_idx = np.repeat(np.arange(n_households), size)
    member = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
    t = htype[hh_idx]
    na = n_adults[hh_idx]
    is_adult = member < na
    child_no = member - na  # 0 = youngest child
    child_age = youngest[hh_idx] + np.where(
        child_no > 0, np.cumsum(gaps, axis=1)[hh_idx, np.clip(child_no - 1, 0, 2)], 0.0
    )
    oldest_child = youngest + np.where(
        n_children > 1, np.cumsum(gaps, axis=1)[np.arange(n_households), np.clip(n_children - 2, 0, 2)], 0
    )
    overflow = np.maximum(oldest_child - 17.99, 0)  # keep every child under 18
    child_age = np.clip(child_age - overflow[hh_idx], 0, 17.99)
    oldest_child = oldest_child - overflow
    parent_age = (oldest_child + parent_at_birth).clip(18, 64)

    partner_shift = rng.normal(0, 3.0, len(hh_idx))
    age = np.zeros(len(hh_idx))
    role = np.zeros(len(hh_idx), dtype=np.int8)
    first = member == 0
    second = member == 1
    # older people
    sel = (t == 0) | (t == 1)
    age[sel] = older_age[hh_idx[sel]] + np.where(second[sel], partner_shift[sel], 0)
    age[sel] = np.maximum(age[sel], 60)
    role[sel] = OLDER
    # working-age adults living alone or as a couple
    sel = t == 2
    age[sel] = adult_age[hh_idx[sel]]
    role[sel] = ADULT
    sel = t == 3
    age[sel] = couple_age[hh_idx[sel]] + np.where(second[sel], partner_shift[sel], 0)
    role[sel] = ADULT
    # families
    sel = ((t == 4) | (t == 5)) & is_adult
    age[sel] = parent_age[hh_idx[sel]] + np.where(second[sel], partner_shift[sel], 0)
    role[sel] = PARENT
    sel = ((t == 4) | (t == 5)) & ~is_adult
    age[sel] = child_age[sel]
    role[sel] = CHILD
    # multi-adult: parents with grown-up children, or sharers
    fm = family_multi[hh_idx]
    sel = (t == 6) & fm & (member < 2)
    age[sel] = multi_parent_age[hh_idx[sel]] + np.where(second[sel], partner_shift[sel], 0)
    role[sel] = PARENT
    sel = (t == 6) & fm & (member >= 2)
    age[sel] = 18 + rng.uniform(0, 6.99, sel.sum())
    role[sel] = ADULT_CHILD
    sel = (t == 6) & ~fm
    age[sel] = sharer_age[hh_idx[sel]] + rng.normal(0, 2.5, sel.sum())
    role[sel] = ADULT
    adult_roles = (role == OLDER) | (role == ADULT) | (role == PARENT) | (role == ADULT_CHILD)
    age = np.where(adult_roles, np.clip(age, 18.05, 104.0), age)
    del first
    return htype, n_children, hh_idx, role, age


def generate_population(
    rng: np.random.Generator, n_citizens: int, districts: Districts, end_day: int
) -> Population:
    """Draw households until `n_citizens` residents; the last household is cut to fit."""
    n_households = int(n_citizens / 2.35 * 1.25) + 16
    htype, n_children, hh_idx, role, age = _household_members(rng, n_households)
    while len(hh_idx) < n_citizens:  # pragma: no cover - the oversample is generous
        n_households *= 2
        htype, n_children, hh_idx, role, age = _household_members(rng, n_households)
    hh_idx, role, age = hh_idx[:n_citizens], role[:n_citizens], age[:n_citizens]
    n_households = int(hh_idx[-1]) + 1
    htype = htype[:n_households]
    n = n_citizens

    # Where each household lives, and how deprived the area is.
    district_idx = rng.choice(len(districts.share), size=n_households, p=districts.share).astype(np.int16)
    imd = np.rint(districts.mean_imd[district_idx] + rng.normal(0, 1.9, n_households))
    imd = np.clip(imd, 1, 10).astype(np.int8)
    imd_visible = rng.random(n_households) >= 0.03
    inward_code = rng.integers(0, 10 * 20 * 20, n_households).astype(np.int32)

    birth_day = (end_day - np.floor(age * 365.25)).astype(np.int32) - rng.integers(0, 1, n)
    birth_day = np.minimum(birth_day, end_day).astype(np.int32)

    # Sex: couples mostly opposite sex; lone parents mostly mothers; a few records say X or U.
    sex = (rng.random(n) < 0.5).astype(np.int8)  # 0 = F, 1 = M
    first_of_household = np.r_[True, hh_idx[1:] != hh_idx[:-1]]
    second_adult = np.r_[False, (hh_idx[1:] == hh_idx[:-1])] & np.r_[False, first_of_household[:-1]]
    couple_like = second_adult & np.isin(role, (OLDER, ADULT, PARENT))
    prev_sex = np.r_[0, sex[:-1]]
    opposite = rng.random(n) < 0.96
    sex = np.where(couple_like & opposite, 1 - prev_sex, sex).astype(np.int8)
    lone_parent = (htype[hh_idx] == 5) & (role == PARENT)
    sex = np.where(lone_parent, (rng.random(n) < 0.10).astype(np.int8), sex)
    odd = rng.random(n)
    sex = np.where(odd < 0.0005, 2, np.where(odd < 0.004, 3, sex)).astype(np.int8)

    # Ethnicity: mostly shared within a household.
    eth_cdf = districts.ethnicity_cdf[district_idx]
    eth_household = (rng.random((n_households, 1)) > eth_cdf).sum(axis=1)
    eth_own = (rng.random((n, 1)) > eth_cdf[hh_idx]).sum(axis=1)
    ethnicity = np.where(rng.random(n) < 0.9, eth_household[hh_idx], eth_own)
    ethnicity = np.minimum(ethnicity, 5).astype(np.int8)

    # Disability rises with age.
    p_dis = np.interp(age, [0, 17, 18, 44, 64, 74, 85, 104], [0.05, 0.08, 0.09, 0.12, 0.2, 0.28, 0.45, 0.6])
    u = rng.random(n)
    disability = np.where(u < 0.03, 2, np.where(u < 0.03 + p_dis * 0.97, 0, 1)).astype(np.int8)

    needs = _latent_needs(rng, htype, n_children, hh_idx, role, age, imd, disability)
    engagement = rng.normal(0, 0.45, n).astype(np.float32)
    return Population(
        household_type=htype,
        district_idx=district_idx,
        imd_decile=imd,
        imd_visible=imd_visible,
        inward_code=inward_code,
        household_idx=hh_idx.astype(np.int32),
        role=role,
        birth_day=birth_day,
        sex=sex,
        ethnicity=ethnicity,
        disability=disability,
        needs=needs,
        engagement=engagement,
    )


def _latent_needs(rng, htype, n_children, hh_idx, role, age, imd, disability) -> np.ndarray:
    """(n, 8) need scores: demographic mean + shared household part + personal part."""
    n, n_households = len(hh_idx), len(htype)
    household_part = rng.standard_normal((n_households, len(NEEDS))) @ _NEED_CHOLESKY.T
    personal_part = rng.standard_normal((n, len(NEEDS)))
    t = htype[hh_idx]
    deprivation = (5.5 - imd[hh_idx]) / 4.5  # about -1 (least) .. +1 (most deprived)
    kids = n_children[hh_idx]
    is_child = role == CHILD
    has_children = (t == 4) | (t == 5)
    disabled = disability == 0
    # Someone else in the household is disabled or very old: caring falls on the adults.
    needy = (disabled | (age >= 80)).astype(np.int32)
    needy_in_household = np.bincount(hh_idx, weights=needy, minlength=n_households)[hh_idx] - needy

    mean = np.zeros((n, len(NEEDS)))
    mean[:, 0] = 0.9 * deprivation + 0.7 * (t == 5) + 0.25 * (kids >= 3) - 0.3 * (age >= 65)
    mean[:, 1] = (
        1.1 * (age >= 75) + 0.4 * ((age >= 65) & (age < 75)) + 0.8 * ((t == 0) | (t == 2))
        - 0.5 * has_children - 0.3
    )
    mean[:, 2] = np.clip((age - 50) / 18, -1.2, 2.0) + 1.3 * disabled
    mean[:, 3] = np.where(has_children, 0.2 + 0.6 * (t == 5) + 0.5 * deprivation + 0.2 * (kids >= 3), -1.5)
    mean[:, 4] = np.where((age >= 16) & (age < 65), 0.2 + 0.6 * deprivation, -1.5)
    mean[:, 5] = np.where(is_child, -1.0, -0.6 + 1.4 * (needy_in_household > 0))
    mean[:, 6] = 0.7 * (age < 18) + 0.3 * ((age >= 18) & (age < 35)) - 0.8 * (age >= 75) - 0.3 * disabled
    mean[:, 7] = 0.9 * (age < 18) + 0.5 * ((age >= 16) & (age < 25)) - 0.3 * (age >= 75)

    weight_household = np.array([0.75, 0.4, 0.3, 0.85, 0.5, 0.6, 0.4, 0.4])
    weight_personal = np.sqrt(1 - weight_household**2)
    needs = mean + household_part[hh_idx] * weight_household + personal_part * weight_personal
    return needs.astype(np.float32)
