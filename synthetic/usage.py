"""Service use over time: episodes drawn quarter by quarter from latent needs.

Each resident has a rate of starting an episode of each service: the service's base rate,
scaled by their latent needs and general engagement, zero where they are not eligible (age,
postcode district, service closed). Each quarter the rate is multiplied by the season and by
what they used in the two previous quarters (habit, and co-use such as food bank → debt
advice → council tax support), then episodes are drawn as a Poisson process. Early-help
outcomes are drawn at the start of each six-month window from the previous 12 months'
indicator episodes, and an outcome raises the household's use of early-help interventions.

The truth for the final quarter is the rate the draw used: P(at least one episode) =
1 − exp(−rate), a function of latent needs and history before the final quarter only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from synthetic import early_help
from synthetic.areas import Districts
from synthetic.calendar import (
    Blocks,
    age_on,
    day_number,
    from_day_number,
    months_before,
    year_month_day,
)
from synthetic.catalogue import INDICATORS, JOURNEYS, NEEDS, SEASONS, Service, co_use_matrix
from synthetic.journeys import Events, expand
from synthetic.population import Population

NO_BOUND_MAX = 200
INTERVENTION_BOOST = 3.0  # rate multiple for early-help interventions after an outcome
ENGAGEMENT_WEIGHT = 1.0
FRAILTY_SHAPE = 4.0
MAX_LOG_MULTIPLIER = 4.0  # needs raise a rate at most e^4 ≈ 55 times  # quarter-to-quarter variation in a person's rates (gamma, mean 1)


@dataclass(frozen=True)
class ServiceArrays:
    """The catalogue as arrays indexed by `service_idx`."""

    log_rate: np.ndarray  # (S,) log episodes per year at average need
    need_weights: np.ndarray  # (S, n_needs) float32
    min_age: np.ndarray  # (S,) int
    max_age: np.ndarray  # (S,) int
    allowed_in_district: np.ndarray  # (n_districts, S) bool
    active: np.ndarray  # (S,) bool
    intervention: np.ndarray  # (S,) bool
    journey: np.ndarray  # (S,) int8, index into JOURNEYS
    season: np.ndarray  # (12, S) float64, monthly intensity with mean 1
    co_use: np.ndarray  # (S, S) float32
    indicator: np.ndarray  # (S,) int8, index into INDICATORS or -1

    @property
    def n(self) -> int:
        return len(self.log_rate)


def service_arrays(
    services: list[Service], districts: Districts, reference: Population, reference_day: int
) -> ServiceArrays:
    """Arrays of the catalogue; `rate` is calibrated on a fixed reference population so that
    an average eligible resident starts `rate` episodes a year (before habit and co-use)."""
    need_weights = np.array([[s.needs.get(k, 0.0) for k in NEEDS] for s in services], dtype=np.float32)
    min_age = np.array([s.min_age or 0 for s in services])
    max_age = np.array([NO_BOUND_MAX if s.max_age is None else s.max_age for s in services])
    ref_age = np.floor((reference_day - reference.birth_day) / 365.25)
    ref_eligible = (ref_age[:, None] >= min_age) & (ref_age[:, None] <= max_age)
    ref_multiplier = np.exp(
        np.clip(reference.needs @ need_weights.T, None, MAX_LOG_MULTIPLIER)
        + ENGAGEMENT_WEIGHT * reference.engagement[:, None]
    )
    normaliser = (ref_multiplier * ref_eligible).sum(axis=0) / np.maximum(ref_eligible.sum(axis=0), 1)
    allowed = np.ones((len(districts.names), len(services)), dtype=bool)
    for j, s in enumerate(services):
        if s.districts != ("*",):
            allowed[:, j] = np.isin(districts.names, s.districts)
    season = np.array([SEASONS[s.season] for s in services], dtype=np.float64).T
    season = season / season.mean(axis=0, keepdims=True)
    return ServiceArrays(
        log_rate=np.log([s.rate for s in services]) - np.log(normaliser),
        need_weights=need_weights,
        min_age=min_age,
        max_age=max_age,
        allowed_in_district=allowed,
        active=np.array([s.active for s in services]),
        intervention=np.array([s.intervention for s in services]),
        journey=np.array([JOURNEYS.index(s.journey) for s in services], dtype=np.int8),
        season=season,
        co_use=co_use_matrix(services),
        indicator=np.array([INDICATORS.index(s.indicator) if s.indicator else -1 for s in services], dtype=np.int8),
    )


@dataclass
class Usage:
    """Events of one chunk, the truth for the final quarter and the early-help outcomes."""

    events: Events  # every event of the chunk, sorted by person then time
    episode_block: np.ndarray  # (n_episodes,) int8, the quarter each episode started in
    final_rate: np.ndarray  # (n, S) float32, episode rate in the final quarter
    outcome_person: np.ndarray  # (O,) int32
    outcome_day: np.ndarray  # (O,) int32
    outcome_kind: np.ndarray  # (O,) int8, index into contract OUTCOMES
    window_probability: dict[int, np.ndarray]  # window start block → (n,) float (nan = not a child)


def _sample_rows(rng: np.random.Generator, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of `rows` (sorted), a column drawn with probability ∝ that row of `weights`."""
    first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, dtype=bool)
    used_rows = rows[first]
    local = np.cumsum(first) - 1
    cdf = np.cumsum(weights[used_rows], axis=1, dtype=np.float32)
    total = cdf[:, -1:].copy()
    total[total == 0] = 1.0
    cdf /= total
    cdf[:, -1] = 1.0
    keyed = (cdf + np.arange(len(cdf), dtype=np.float64)[:, None]).ravel()
    flat = np.searchsorted(keyed, local + rng.random(len(rows)), side="right")
    return (flat - local * weights.shape[1]).clip(0, weights.shape[1] - 1)


def _sample_from_table(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of `rows` (any order), a column drawn with probability ∝ `table[row]`."""
    cdf = np.cumsum(table, axis=1)
    cdf /= np.where(cdf[:, -1:] > 0, cdf[:, -1:], 1.0)
    cdf[:, -1] = 1.0
    keyed = (cdf + np.arange(len(cdf))[:, None]).ravel()
    flat = np.searchsorted(keyed, rows + rng.random(len(rows)), side="right")
    return (flat - rows * table.shape[1]).clip(0, table.shape[1] - 1)


@dataclass
class _WindowOutcomes:
    probability: np.ndarray  # (n,) float64, nan for people who are not children at the snapshot
    person: np.ndarray  # (O,) int32
    day: np.ndarray  # (O,) int32
    kind: np.ndarray  # (O,) int8


def _early_help_window(
    rng: np.random.Generator,
    snapshot: int,
    blocks: Blocks,
    pop: Population,
    birth: tuple[np.ndarray, np.ndarray, np.ndarray],
    latent: np.ndarray,
    imd: np.ndarray,
    ind_person: np.ndarray,
    ind_kind: np.ndarray,
    ind_day: np.ndarray,
) -> _WindowOutcomes:
    """Outcomes in (snapshot, snapshot + 6 months] from indicators in (snapshot − 12 months, snapshot].

    The same day conventions as the feature pipeline's early-help tables, so the truth is a
    function of exactly what those tables can see.
    """
    n, n_ind = pop.n, len(INDICATORS)
    hh = pop.household_idx
    n_households = len(pop.household_type)
    snapshot_date = from_day_number(snapshot)
    year_before = day_number(months_before(snapshot_date, 12))
    quarter_before = day_number(months_before(snapshot_date, 3))
    age = age_on(birth, snapshot)
    born = pop.birth_day <= snapshot
    child = born & (age >= 0) & (age <= 17)
    adult = born & (age >= 18)

    in_year = (ind_day > year_before) & (ind_day <= snapshot)
    c12 = np.bincount(ind_person[in_year] * n_ind + ind_kind[in_year], minlength=n * n_ind).reshape(n, n_ind)
    in_quarter = (ind_day > quarter_before) & (ind_day <= snapshot)
    c3 = np.bincount(ind_person[in_quarter], minlength=n)
    adult_c12 = np.stack(
        [np.bincount(hh[adult], weights=c12[adult, k], minlength=n_households) for k in range(n_ind)], axis=1
    )
    adult_c3 = np.bincount(hh[adult], weights=c3[adult], minlength=n_households)
    n_adults = np.bincount(hh, weights=adult, minlength=n_households)
    n_children = np.bincount(hh, weights=child, minlength=n_households)
    inputs = early_help.WindowInputs(
        child=child,
        age=age,
        counts_12m=c12,
        household_adult_counts_12m=adult_c12[hh],
        recent=(c3 + adult_c3[hh]) > 0,
        lone_parent=(n_adults[hh] == 1) & (n_children[hh] >= 1),
        large_family=n_children[hh] >= 3,
        imd_decile=imd,
    )
    p = early_help.outcome_probability(inputs, latent)
    last = min(day_number(months_before(snapshot_date, -6)), blocks.end_day)
    hit = np.flatnonzero(child & (rng.random(n) < np.nan_to_num(p)))
    return _WindowOutcomes(
        probability=p,
        person=hit.astype(np.int32),
        day=rng.integers(snapshot + 1, last + 1, len(hit)).astype(np.int32),
        kind=rng.choice(3, size=len(hit), p=early_help.OUTCOME_SHARES).astype(np.int8),
    )


def simulate(
    rng: np.random.Generator,
    population: Population,
    services: ServiceArrays,
    blocks: Blocks,
) -> Usage:
    """Draw every episode of the window for one chunk of residents."""
    pop = population
    n, S = pop.n, services.n
    log_base = np.minimum(pop.needs @ services.need_weights.T, np.float32(MAX_LOG_MULTIPLIER))
    log_base += services.log_rate.astype(np.float32)
    log_base += np.float32(ENGAGEMENT_WEIGHT) * pop.engagement[:, None]
    base = np.exp(log_base, out=log_base)
    base *= services.allowed_in_district[pop.district_idx[pop.household_idx]]

    # Each day's seasonal intensity per service, for the block factors and day draws.
    season_by_day = services.season[blocks.month_of_day()]  # (n_days, S)
    closed_from = blocks.end_day - 365  # inactive services closed a year before the end
    age_years = np.arange(NO_BOUND_MAX + 1)
    eligible_by_age = (age_years[:, None] >= services.min_age) & (age_years[:, None] <= services.max_age)
    unborn_row = NO_BOUND_MAX + 1  # a row of zeros for people not yet born

    # Household structure for the early-help windows.
    hh = pop.household_idx
    n_households = len(pop.household_type)
    latent = rng.normal(0, early_help.LATENT_SD, n)
    imd = np.where(pop.imd_visible, pop.imd_decile, np.nan)[hh].astype(np.float64)

    birth = year_month_day(pop.birth_day)
    indicator_events: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    indicator_of = services.indicator
    co_use = sp.csr_matrix(services.co_use)
    intervention_from = np.full(n, np.iinfo(np.int32).max)  # block from which outcomes boost
    used = [sp.csr_matrix((n, S), dtype=np.float32), sp.csr_matrix((n, S), dtype=np.float32)]

    event_parts: list[Events] = []
    episode_block: list[np.ndarray] = []
    n_episodes_so_far = 0
    o_person, o_day, o_kind = [], [], []
    window_probability: dict[int, np.ndarray] = {}
    final_rate = np.zeros((n, S), dtype=np.float32)

    for b in range(blocks.n):
        start, stop = int(blocks.start[b]), int(blocks.stop[b])
        age = age_on(birth, start)
        born = pop.birth_day <= start
        # ---- this quarter's rates: base × (age eligibility × season) × (habit, co-use) ----
        season_factor = season_by_day[start - blocks.first_day : stop - blocks.first_day].sum(axis=0) / 365.25
        season_factor = np.where(services.active | (start < closed_from), season_factor, 0.0)
        by_age = np.zeros((NO_BOUND_MAX + 2, S), dtype=np.float32)
        by_age[: NO_BOUND_MAX + 1] = eligible_by_age * season_factor
        rate = base * by_age[np.where(born, np.clip(age, 0, NO_BOUND_MAX), unborn_row)]
        boost = ((used[0] + 0.5 * used[1]) @ co_use).tocoo()
        rate[boost.row, boost.col] *= 1 + boost.data
        boosted = np.flatnonzero(intervention_from <= b)
        if len(boosted):
            rate[np.ix_(boosted, np.flatnonzero(services.intervention))] *= INTERVENTION_BOOST
        # A person's rates vary together from quarter to quarter (mean 1).
        frailty = rng.gamma(FRAILTY_SHAPE, 1 / FRAILTY_SHAPE, n).astype(np.float32)
        if b == blocks.n - 1:
            final_rate = rate * frailty[:, None]

        # ---- draw episodes: a Poisson total per person, spread over their services -------
        n_episodes = rng.poisson(rate.sum(axis=1) * frailty)
        person = np.repeat(np.arange(n), n_episodes)
        service = _sample_rows(rng, rate, person)
        block_days = season_by_day[start - blocks.first_day : stop - blocks.first_day]  # (L, S)
        offset = _sample_from_table(rng, block_days.T, service)
        day = start + offset
        block_events = expand(rng, person, service, day, services.journey, blocks.first_day, blocks.end_day)
        block_events.episode += n_episodes_so_far
        n_episodes_so_far += len(person)
        event_parts.append(block_events)
        episode_block.append(np.full(len(person), b, dtype=np.int8))

        used = [
            sp.csr_matrix((np.ones(len(person), dtype=np.float32), (person, service)), shape=(n, S)),
            used[0],
        ]
        used[0].data[:] = 1.0
        # Indicator events as the extract will show them (every event, on its own day).
        is_indicator = indicator_of[block_events.service_idx] >= 0
        indicator_events.append(
            (
                block_events.person_idx[is_indicator].astype(np.int64),
                indicator_of[block_events.service_idx[is_indicator]].astype(np.int64),
                (block_events.second[is_indicator] // 86400),
            )
        )

        # ---- early-help window starting today: outcomes from the 12 months up to today ---
        if (blocks.n - b) % 2 == 0:
            ind_p, ind_k, ind_d = (np.concatenate(x) for x in zip(*indicator_events))
            o = _early_help_window(rng, start, blocks, pop, birth, latent, imd, ind_p, ind_k, ind_d)
            window_probability[b] = o.probability
            o_person.append(o.person)
            o_day.append(o.day)
            o_kind.append(o.kind)
            # The family is offered early help from the quarter after the outcome.
            outcome_block = np.searchsorted(blocks.start, o.day, side="right") - 1
            household_from = np.full(n_households, np.iinfo(np.int32).max)
            np.minimum.at(household_from, hh[o.person], outcome_block + 1)
            intervention_from = np.minimum(intervention_from, household_from[hh])


    events = Events(*(np.concatenate([getattr(e, f) for e in event_parts]) for f in Events.__dataclass_fields__))
    order = np.lexsort((events.second, events.person_idx))
    return Usage(
        events=Events(*(getattr(events, f)[order] for f in Events.__dataclass_fields__)),
        episode_block=np.concatenate(episode_block),
        final_rate=final_rate,
        outcome_person=np.concatenate(o_person) if o_person else np.zeros(0, np.int32),
        outcome_day=np.concatenate(o_day) if o_day else np.zeros(0, np.int32),
        outcome_kind=np.concatenate(o_kind) if o_kind else np.zeros(0, np.int8),
        window_probability=window_probability,
    )
