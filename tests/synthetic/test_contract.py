"""With no faults injected, every generated table satisfies every rule of the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from features.contract import tables_in
from features.geography import AUTHORITY_POSTCODE_DISTRICTS, POSTCODE_DISTRICT_TO_AUTHORITY
from signpost.settings import Settings
from synthetic.catalogue import DISTRICT_COUNCILS
from tests.synthetic.conftest import END
from tests.synthetic.contract_check import (
    CANONICAL_POSTCODE,
    all_tables,
    duplicate_rows,
    read,
    reference_violations,
    row_violations,
)

#: The default county is a version 1 extract (`--partners local` adds version 2).
TABLES = tables_in(1)

MIN_AGE_EDGES = {0, 5, 11, 16, 18, 25, 35, 50, 60, 65, 75}
MAX_AGE_EDGES = {4, 10, 15, 17, 24, 34, 49, 59, 64, 74, 120}


@pytest.fixture(scope="module")
def tables(clean_county: Path) -> dict[str, pd.DataFrame]:
    return all_tables(clean_county)


def test_every_table_is_written_with_the_contract_columns(clean_county, tables):
    for name, table in TABLES.items():
        assert (clean_county / f"{name}.csv").exists(), name
        expected = list(table.column_names_in(1)) + (["source"] if name == "services" else [])
        assert list(tables[name].columns) == expected
        assert len(tables[name]) > 0, f"{name} is empty"


@pytest.mark.parametrize("name", list(TABLES))
def test_no_row_breaks_a_rule(tables, name):
    violations = row_violations(TABLES[name], tables[name], END)
    assert violations == {}, dict(list(violations.items())[:5])


@pytest.mark.parametrize("name", list(TABLES))
def test_keys_are_unique_and_references_resolve(tables, name):
    table = TABLES[name]
    assert duplicate_rows(table, tables[name]) == set()
    known = {
        "citizens.person_id": set(tables["citizens"].person_id),
        "citizens.household_id": set(tables["citizens"].household_id),
        "services.service_id": set(tables["services"].service_id),
    }
    assert reference_violations(table, tables[name], known) == {}


def test_values_are_clean_as_well_as_valid(tables):
    """No stray spaces or lower-case postcodes when nothing was injected."""
    citizens = tables["citizens"]
    assert citizens.postcode.str.match(CANONICAL_POSTCODE.pattern).all()
    assert citizens.postcode.str.split(" ").str[0].isin(list(POSTCODE_DISTRICT_TO_AUTHORITY)).all()
    for frame in tables.values():
        for column in frame.columns:
            assert (frame[column] == frame[column].str.strip()).all(), column
    events = tables["events"]
    assert events.occurred_at.str.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$").all()
    assert (events.occurred_at.str[:10] <= END.isoformat()).all()


def test_fault_list_is_empty(clean_county):
    faults = pd.read_csv(clean_county / "truth" / "faults.csv")
    assert list(faults.columns) == ["table", "row_number", "key", "column", "fault", "expect"]
    assert len(faults) == 0


def test_catalogue_is_large_varied_and_on_band_edges(tables):
    services = tables["services"]
    assert len(services) >= 80
    assert services.source.isin(list(Settings().sharing_policy)).all()
    assert set(services.source) == set(Settings().sharing_policy), "every partner source records something"
    assert (services.intervention == "true").sum() >= 8
    assert 1 <= (services.active == "false").sum() <= 8
    assert (services.means_tested == "true").sum() >= 10
    assert set(pd.to_numeric(services.min_age[services.min_age != ""])) <= MIN_AGE_EDGES
    assert set(pd.to_numeric(services.max_age[services.max_age != ""])) <= MAX_AGE_EDGES
    providers = set(services.provider)
    assert {"Hampshire County Council", "Hampshire and Isle of Wight Constabulary"} <= providers
    assert any("Fire" in p for p in providers) and any("NHS" in p for p in providers)
    for code, council, _ in DISTRICT_COUNCILS.values():
        local = services[services.provider == council]
        assert len(local) >= 3, council
        authority = next(a for a, (c, _, _) in DISTRICT_COUNCILS.items() if c == code)
        assert (local.districts == ";".join(AUTHORITY_POSTCODE_DISTRICTS[authority])).all()


def test_each_service_is_recorded_by_its_own_source(tables):
    events = tables["events"]
    services = tables["services"].set_index("service_id")
    assert (events.source == services.source.reindex(events.service_id).to_numpy()).all()
    sources_per_service = events.groupby("service_id").source.nunique()
    assert (sources_per_service == 1).all()


def test_event_ids_carry_their_source(tables):
    events = tables["events"]
    assert events.event_id.str.match(re.compile(r"^[A-Z]{3}\d{10}$")).all()
    assert events.groupby(events.event_id.str[:3]).source.nunique().max() == 1


def test_early_help_indicators_and_interventions_are_in_use(tables):
    used = set(tables["events"].service_id)
    for service_id in ("POL-ENCOMPASS", "SCH-ABSENCE", "CSC-CONTACT", "NHS-TALKING", "HCC-FAMSUPPORT", "HCC-HAF"):
        assert service_id in used


def test_inactive_services_have_no_recent_use(tables):
    services = tables["services"]
    inactive = set(services.service_id[services.active == "false"])
    events = tables["events"]
    recent = events[events.occurred_at.str[:10] > "2025-10-30"]
    assert not recent.service_id.isin(inactive).any()
    assert events.service_id.isin(inactive).any(), "closed services were used before they closed"


def test_parquet_has_the_same_columns_as_strings(faulty_county_parquet):
    import pyarrow.parquet as pq

    for name in TABLES:
        schema = pq.read_schema(faulty_county_parquet / f"{name}.parquet")
        assert all(str(t) == "string" for t in schema.types), name
        assert list(read(faulty_county_parquet, name).columns)[: len(TABLES[name].columns)] == list(
            TABLES[name].column_names_in(1)
        )


def test_every_intervention_lists_its_needs_and_every_service_its_indicator_flag(tables):
    services = tables["services"].set_index("service_id")
    interventions = services[services.intervention == "true"]
    assert (interventions.needs != "").all(), list(interventions.index[interventions.needs == ""])
    assert services.early_help_indicator.isin(["true", "false"]).all()
    concern = set(services.index[services.early_help_indicator == "true"])
    assert {"POL-ENCOMPASS", "POL-MISSING", "SCH-EXCLUSION"} <= concern
    # asking for help, being poor or ill is never a concern indicator
    for supportive in ("HCC-EARLYYEARS", "HCC-FAMHUB", "HCC-LIB-LOAN", "HCC-PARENTING", "VOL-FOODBANK",
                       "VOL-BENEFITS", "NHS-TALKING", "PH-HEALTHVISIT", "BDBC-CTS"):
        assert supportive not in concern
    assert not (services.loc[sorted(concern), "intervention"] == "true").any()
