"""DATA_CONTRACT v2 services columns: `sensitive` (default by category) and contact details.

Version 1 extracts (the tiny baseline has none of the columns) keep building, with `sensitive`
defaulted from `Settings.sensitive_categories`; each validation rule of the new columns has a
test that breaks one value and expects that row, and only it, quarantined with the reason.
"""

from __future__ import annotations

import pytest

V2_COLUMNS = ("sensitive", "phone", "contact", "opening_hours")


def with_v2_columns(tables, **by_service):
    """The tiny tables with the v2 columns on every service row (blank unless given)."""
    for row in tables["services"]:
        values = by_service.get(row["service_id"], {})
        for column in V2_COLUMNS:
            row[column] = values.get(column, "")
    return tables


def sensitive_by_id(built) -> dict[str, bool]:
    services = built.parquet("services.parquet")
    return dict(zip(services["service_id"], services["sensitive"].astype(bool), strict=True))


def test_version_1_extract_defaults_sensitive_by_category(run_build, tiny_tables):
    built = run_build(tiny_tables)
    assert built.manifest["rows"]["services"]["quarantined"] == 0
    # default categories include safety and care: the police notification and the care service
    assert sensitive_by_id(built) == {"LIB-1": False, "LEI-1": False, "POL-DA": True, "FAM-1": False,
                                      "OLD-1": True}
    services = built.parquet("services.parquet")
    assert services[["phone", "contact", "opening_hours"]].isna().all().all()
    policy = built.manifest["sensitive_services"]
    assert {"health", "care", "safety"} <= set(policy["default_categories"])
    assert policy == {**policy, "sensitive": 2, "defaulted_by_category": 5}


def test_explicit_value_wins_over_the_category_and_blank_defaults(run_build, tiny_tables):
    tables = with_v2_columns(tiny_tables, **{
        "LIB-1": {"sensitive": "true"}, "POL-DA": {"sensitive": "false"}, "FAM-1": {"sensitive": "false"},
    })
    built = run_build(tables)
    assert sensitive_by_id(built) == {"LIB-1": True, "LEI-1": False, "POL-DA": False, "FAM-1": False,
                                      "OLD-1": True}
    assert built.manifest["sensitive_services"]["defaulted_by_category"] == 2


def test_the_default_categories_are_configuration(run_build, tiny_tables, settings_with):
    built = run_build(tiny_tables, settings=settings_with(sensitive_categories=("Family", "LEISURE")))
    assert sensitive_by_id(built) == {"LIB-1": False, "LEI-1": True, "POL-DA": False, "FAM-1": True,
                                      "OLD-1": False}
    assert built.manifest["sensitive_services"]["default_categories"] == ["family", "leisure"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_contact_details_reach_the_processed_catalogue(run_build, tiny_tables, fmt):
    tables = with_v2_columns(tiny_tables, **{
        "LIB-1": {"phone": "0306 999 0101", "contact": "Join at any library, or online",
                  "opening_hours": "Monday to Saturday, 9am to 5pm", "sensitive": "false"},
        "LEI-1": {"phone": "+44 (0)1632 960-000"},
        "POL-DA": {"phone": "101"},
    })
    built = run_build(tables, fmt=fmt)
    assert built.manifest["rows"]["services"]["quarantined"] == 0
    services = built.parquet("services.parquet").set_index("service_id")
    assert services.loc["LIB-1", "phone"] == "0306 999 0101"
    assert services.loc["LIB-1", "contact"] == "Join at any library, or online"
    assert services.loc["LIB-1", "opening_hours"] == "Monday to Saturday, 9am to 5pm"
    assert services.loc["LEI-1", "phone"] == "+44 (0)1632 960-000"
    assert services.loc["POL-DA", "phone"] == "101"
    assert services["contact"].isna().sum() == 4


# (service row, column, bad value, words the reason must contain)
RULES = [
    (0, "sensitive", "yes", 'sensitive "yes" is not one of true, false'),
    (0, "sensitive", "TRUE", "is not one of true, false"),
    (1, "phone", "call the council", "is not a phone number"),
    (1, "phone", "info@example.org", "is not a phone number"),
    (1, "phone", "01632 960000 ext", "is not a phone number"),
    (1, "phone", "12", "has 2 digits (a phone number has 3 to 15)"),
    (1, "phone", "+44 1632 960 000 000 000", "has 18 digits"),
    (1, "phone", "0" * 41, "phone is longer than 40 characters (41)"),
    (2, "contact", "x" * 301, "contact is longer than 300 characters (301)"),
    (2, "contact", "Call us\nor write", "contact contains a line break"),
    (3, "opening_hours", "Mon\tto Fri", "opening_hours contains a line break or control character"),
    (3, "opening_hours", "9am to 5pm " * 19, "opening_hours is longer than 200 characters"),
]


@pytest.mark.parametrize(("row", "column", "value", "expected"), RULES,
                         ids=[f"{c}={v[:20]!r}" for _, c, v, _ in RULES])
def test_v2_column_rule_quarantines_the_service(run_build, tiny_tables, row, column, value, expected):
    tables = with_v2_columns(tiny_tables)
    tables["services"][row][column] = value
    built = run_build(tables)
    reasons = built.reasons("services")
    assert set(reasons) == {row + 1}, reasons
    assert expected in reasons[row + 1]
    # the quarantine keeps the original value and never more than the file held
    assert built.quarantine("services").iloc[0][column] == value
