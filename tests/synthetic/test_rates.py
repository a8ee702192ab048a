"""The county's rates and shapes are within tolerance of what the generator promises."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.geography import POSTCODE_DISTRICT_TO_AUTHORITY
from synthetic import consents as consent_rates
from synthetic.areas import POPULATION
from tests.synthetic.conftest import END
from tests.synthetic.contract_check import all_tables


@pytest.fixture(scope="module")
def tables(clean_county: Path) -> dict[str, pd.DataFrame]:
    return all_tables(clean_county)


@pytest.fixture(scope="module")
def citizens(tables) -> pd.DataFrame:
    c = tables["citizens"].copy()
    c["authority"] = c.postcode.str.split(" ").str[0].map(POSTCODE_DISTRICT_TO_AUTHORITY)
    c["age"] = (pd.Timestamp(END) - pd.to_datetime(c.birth_date)).dt.days / 365.25
    return c


def test_authority_shares_follow_the_census(citizens):
    share = citizens.authority.value_counts(normalize=True)
    census = pd.Series(POPULATION) / sum(POPULATION.values())
    assert (share.reindex(census.index) - census).abs().max() < 0.012


def test_deprivation_is_where_it_should_be(citizens):
    imd = pd.to_numeric(citizens.imd_decile, errors="coerce")
    mean = imd.groupby(citizens.authority).mean()
    assert max(mean[["Gosport", "Havant", "Rushmoor"]]) < min(mean[["Hart", "Winchester"]])
    assert 0.01 < imd.isna().mean() < 0.06, "imd_decile is sometimes blank"


def test_ages_households_and_ethnicity_look_like_hampshire(citizens):
    assert 0.18 < (citizens.age < 18).mean() < 0.26
    assert 0.17 < (citizens.age >= 65).mean() < 0.25
    sizes = citizens.household_id.value_counts()
    assert 2.1 < sizes.mean() < 2.6 and sizes.max() <= 8
    assert 0.25 < (sizes == 1).mean() < 0.4
    # every child lives with someone at least 17 years older
    by_household = citizens.groupby("household_id").age
    oldest = by_household.transform("max")
    children = citizens.age < 18
    assert ((oldest - citizens.age)[children] >= 17).all()
    white = (citizens.ethnicity == "White").mean()
    assert 0.85 < white < 0.95
    asian = (citizens.ethnicity == "Asian").groupby(citizens.authority).mean()
    assert asian["Rushmoor"] > 2 * asian.drop("Rushmoor").mean()
    assert citizens.disability.value_counts(normalize=True)["Y"] > 0.1


def test_consent_rates(tables):
    consents = tables["consents"].sort_values("recorded_at", kind="stable")
    n = len(tables["citizens"])
    latest = consents.groupby(["person_id", "purpose"]).status.last().unstack()
    granted_ever = consents[(consents.purpose == "personalisation") & (consents.status == "granted")].person_id.nunique()
    assert abs(granted_ever / n - consent_rates.PERSONALISATION_GRANTED) < 0.02
    withdrawn = (latest.personalisation == "withdrawn").sum() / granted_ever
    assert 0.02 < withdrawn < 0.08
    assert 0.005 < (latest.early_intervention == "objected").sum() / n < 0.016
    assert 0.04 < latest.research.isin(["withdrawn", "objected"]).sum() / n < 0.065
    assert set(consents.method) == {"portal", "paper", "phone", "caseworker", "import"}
    months = consents.recorded_at.str[:7].nunique()
    assert months >= 24, "recorded over the whole window"


def test_early_help_base_rate_matches_the_truth(clean_county, tables):
    truth = pd.read_parquet(clean_county / "truth" / "early_help.parquet")
    about = json.loads((clean_county / "truth" / "about.json").read_text())
    outcomes = tables["outcomes"]
    for window in ("window_1", "window_2"):
        p = truth[f"p_{window}"].dropna()
        assert 0.03 < p.mean() < 0.055, window
        start, end = about["early_help_windows"][window]
        hit = set(outcomes.person_id[(outcomes.occurred_at > start) & (outcomes.occurred_at <= end)])
        observed = truth.person_id[truth[f"p_{window}"].notna()].isin(hit).mean()
        sd = np.sqrt(p.mean() * (1 - p.mean()) / len(p))
        assert abs(observed - p.mean()) < 4 * sd, (window, observed, p.mean())


def test_caseloads_hold_needier_families(tables, citizens):
    caseloads = tables["caseloads"]
    per_worker = caseloads.groupby("caseworker_id").size()
    assert 25 <= per_worker.mean() <= 42
    assert caseloads.caseworker_id.str.match(r"^CW\d{4}$").all()
    assert 0.2 < (caseloads.end_date != "").mean() < 0.5
    families = set(citizens.household_id[citizens.age < 18])
    assert caseloads.household_id.isin(families).all()
    events = tables["events"]
    indicator = events[events.source.isin(["police", "childrens_social_care", "schools"])]
    household_of = citizens.set_index("person_id").household_id
    per_family = indicator.person_id.map(household_of).value_counts().reindex(list(families), fill_value=0)
    on_caseload = per_family.index.isin(set(caseloads.household_id))
    assert per_family[on_caseload].mean() > 3 * per_family[~on_caseload].mean()


def test_seasonality(tables):
    events = tables["events"]
    month = events.occurred_at.str[5:7].astype(int)
    haf = month[events.service_id == "HCC-HAF"]
    assert haf.isin([4, 7, 8, 12]).mean() > 0.8
    hsf = month[events.service_id.isin(["HCC-HSF", "HCC-WARMHOMES", "VOL-ENERGY"])]
    assert hsf.isin([11, 12, 1, 2]).mean() > 2 * hsf.isin([5, 6, 7, 8]).mean()
    leisure = month[events.service_id.str.endswith("-LEISURE") & (events.event_type == "booking")]
    assert (leisure == 1).sum() > 1.4 * (leisure == 12).sum()


def test_co_use_and_popularity_skew(tables):
    events = tables["events"]
    users = events.groupby("service_id").person_id.unique().map(set)
    food, debt = users["VOL-FOODBANK"], users["VOL-DEBT"]
    everyone = events.person_id.nunique()
    assert len(food & debt) / len(food) > 4 * len(debt) / everyone
    counts = events.service_id.value_counts()
    top = counts.iloc[: len(counts) // 10].sum() / counts.sum()
    assert top > 0.4
    assert (events.event_type == "declined").any() and (events.event_type == "completion").any()
    journey = events[events.service_id == "HCC-ADULTLEARN"].event_type.value_counts()
    assert {"enquiry", "enrolment", "attendance", "completion"} <= set(journey.index)
