"""The truth folder: valid probabilities, in the documented order, and honest about visibility."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthetic import early_help
from synthetic.calendar import months_before
from synthetic.catalogue import INDICATORS, NEEDS
from tests.synthetic.conftest import END
from tests.synthetic.contract_check import all_tables


@pytest.fixture(scope="module")
def tables(clean_county: Path) -> dict[str, pd.DataFrame]:
    return all_tables(clean_county)


@pytest.fixture(scope="module")
def truth(clean_county: Path) -> dict:
    folder = clean_county / "truth"
    return {
        "persons": pd.read_parquet(folder / "persons.parquet"),
        "services": pd.read_parquet(folder / "services.parquet"),
        "needs": pd.read_parquet(folder / "needs.parquet"),
        "early_help": pd.read_parquet(folder / "early_help.parquet"),
        "usage": np.load(folder / "usage_probability.npy"),
        "about": json.loads((folder / "about.json").read_text()),
    }


def test_rows_and_columns_follow_the_extract_order(tables, truth):
    assert truth["persons"].person_id.tolist() == tables["citizens"].person_id.tolist()
    assert truth["needs"].person_id.tolist() == tables["citizens"].person_id.tolist()
    assert truth["services"].service_id.tolist() == tables["services"].service_id.tolist()
    assert truth["usage"].shape == (len(tables["citizens"]), len(tables["services"]))
    assert truth["usage"].dtype == np.float32
    assert truth["about"]["usage_probability"]["shape"] == list(truth["usage"].shape)


def test_probabilities_are_probabilities(truth):
    usage = truth["usage"]
    assert np.isfinite(usage).all() and (usage >= 0).all() and (usage <= 1).all()
    needs = truth["needs"][list(NEEDS)].to_numpy()
    assert ((needs > 0) & (needs < 1)).all()
    eh = truth["early_help"][["p_window_1", "p_window_2"]].to_numpy()
    assert ((eh > 0) & (eh < 1) | np.isnan(eh)).all()
    assert (~np.isnan(eh)).any(axis=1).all(), "every listed person is a child in some window"


def test_usage_truth_respects_eligibility(tables, truth):
    usage, persons, services = truth["usage"], truth["persons"], tables["services"]
    col = {s: j for j, s in enumerate(services.service_id)}
    gosport = persons.local_authority == "Gosport"
    assert usage[~gosport.to_numpy(), col["GBC-LEISURE"]].max() == 0
    assert usage[gosport.to_numpy(), col["GBC-LEISURE"]].max() > 0
    babies = (persons.age <= 3).to_numpy()
    assert usage[~babies & (persons.age >= 6).to_numpy(), col["PH-HEALTHVISIT"]].max() == 0
    for j in np.flatnonzero((services.active == "false").to_numpy()):
        assert usage[:, j].max() == 0


def test_usage_truth_predicts_the_final_quarter(tables, truth):
    usage = truth["usage"]
    events = tables["events"]
    final = events[events.occurred_at >= truth["about"]["final_window"][0]]
    person = pd.Index(tables["citizens"].person_id).get_indexer(final.person_id)
    service = pd.Index(tables["services"].service_id).get_indexer(final.service_id)
    used = np.zeros(usage.shape, dtype=bool)
    used[person, service] = True
    expected, observed = usage.sum(), used.sum()
    assert abs(expected - observed) / observed < 0.05, (expected, observed)
    assert usage[used].mean() > 10 * usage[~used].mean()


def _visible_logit(tables, truth, snapshot: date) -> pd.Series:
    """The early-help log-odds recomputed from the extract files alone (no latent term)."""
    citizens = tables["citizens"].copy()
    born = pd.to_datetime(citizens.birth_date)
    s = pd.Timestamp(snapshot)
    before_birthday = (s.month < born.dt.month) | ((s.month == born.dt.month) & (s.day < born.dt.day))
    citizens["age"] = s.year - born.dt.year - before_birthday.astype(int)
    citizens = citizens[born <= s]
    child = citizens.age <= 17
    indicator = truth["services"].set_index("service_id").indicator.dropna()
    events = tables["events"][tables["events"].service_id.isin(indicator.index)].copy()
    events["day"] = events.occurred_at.str[:10]
    events["indicator"] = events.service_id.map(indicator)
    year_before, quarter_before = months_before(snapshot, 12).isoformat(), months_before(snapshot, 3).isoformat()
    on = snapshot.isoformat()
    year = events[(events.day > year_before) & (events.day <= on)]
    counts = year.groupby(["person_id", "indicator"]).size().unstack(fill_value=0).reindex(
        columns=list(INDICATORS), fill_value=0
    )
    quarter = events[(events.day > quarter_before) & (events.day <= on)].groupby("person_id").size()
    people = citizens.set_index("person_id")
    own = counts.reindex(people.index, fill_value=0)
    adult = (people.age >= 18).to_numpy()
    household = people.household_id
    adult_counts = own[adult].groupby(household[adult]).sum().reindex(household.unique(), fill_value=0)
    adult_recent = quarter.reindex(people.index, fill_value=0)[adult].groupby(household[adult]).sum()
    n_adults = pd.Series(adult, index=people.index).groupby(household).sum()
    n_children = (~pd.Series(adult, index=people.index)).groupby(household).sum()
    kids = people[child.to_numpy()]
    hh = kids.household_id
    imd = pd.to_numeric(kids.imd_decile, errors="coerce")
    w_child = np.array([early_help.CHILD_WEIGHTS.get(k, 0.0) for k in INDICATORS])
    w_house = np.array([early_help.HOUSEHOLD_WEIGHTS.get(k, 0.0) for k in INDICATORS])
    recent = quarter.reindex(kids.index, fill_value=0).to_numpy() + adult_recent.reindex(hh, fill_value=0).to_numpy()
    logit = (
        early_help.INTERCEPT
        + np.log1p(own.loc[kids.index].to_numpy()) @ w_child
        + np.log1p(adult_counts.loc[hh].to_numpy()) @ w_house
        + early_help.RECENT * (recent > 0)
        + early_help.LONE_PARENT * (n_adults.loc[hh].to_numpy() == 1)
        + early_help.LARGE_FAMILY * (n_children.loc[hh].to_numpy() >= 3)
        + early_help.UNDER_FIVE * (kids.age.to_numpy() < 5)
        + early_help.TEENAGER * (kids.age.to_numpy() >= 11)
        + early_help.DEPRIVATION * np.where(imd.isna(), 0.5, (10 - imd) / 9)
    )
    return pd.Series(logit, index=kids.index)


@pytest.mark.parametrize("window, months", [("p_window_1", 12), ("p_window_2", 6)])
def test_early_help_truth_is_a_function_of_what_the_extracts_show(tables, truth, window, months):
    """logit(p) − (the same formula over the files) is only the small latent term."""
    visible = _visible_logit(tables, truth, months_before(END, months))
    p = truth["early_help"].set_index("person_id")[window].dropna()
    assert set(p.index) == set(visible.index), "children at the snapshot, exactly"
    residual = np.log(p / (1 - p)) - visible.reindex(p.index)
    assert abs(residual.mean()) < 0.02
    assert abs(residual.std() - early_help.LATENT_SD) < 0.02
    # the visible part carries most of the variation
    assert visible.std() > 2 * residual.std()


def test_windows_are_documented(truth):
    windows = truth["about"]["early_help_windows"]
    assert windows["window_2"] == [months_before(END, 6).isoformat(), END.isoformat()]
    assert windows["window_1"] == [months_before(END, 12).isoformat(), months_before(END, 6).isoformat()]
