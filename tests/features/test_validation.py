"""One test per validation rule: break one value of the tiny extract, expect that row quarantined."""

from __future__ import annotations

import pytest

# (table, 0-based row in the baseline, column, bad value, words the reason must contain)
ROW_RULES = [
    ("citizens", 0, "person_id", "", "person_id is blank"),
    ("citizens", 0, "birth_date", "1985/02/11", "is not an ISO 8601 date"),
    ("citizens", 0, "birth_date", "1985-02-30", "is not an ISO 8601 date"),
    ("citizens", 0, "birth_date", "11-02-1985", "is not an ISO 8601 date"),
    ("citizens", 0, "birth_date", "2030-01-01", "after the extract date"),
    ("citizens", 0, "birth_date", "1820-01-01", "implausible"),
    ("citizens", 0, "birth_date", "", "birth_date is blank"),
    ("citizens", 0, "sex", "female", "is not one of F, M, X, U"),
    ("citizens", 0, "ethnicity", "white", "is not one of White"),
    ("citizens", 0, "disability", "Yes", "is not one of Y, N, U"),
    ("citizens", 0, "postcode", "NOT A POSTCODE", "is not a UK postcode"),
    ("citizens", 0, "postcode", "SO23 9A", "is not a UK postcode"),
    ("citizens", 0, "postcode", "SW1A 1AA", "postcode outside the county"),
    ("citizens", 0, "postcode", "", "postcode is blank"),
    ("citizens", 0, "imd_decile", "11", "outside 1..10"),
    ("citizens", 0, "imd_decile", "0", "outside 1..10"),
    ("citizens", 0, "imd_decile", "three", "is not a whole number"),
    ("services", 0, "service_id", "", "service_id is blank"),
    ("services", 0, "name", "   ", "name is blank"),
    ("services", 0, "means_tested", "yes", "is not one of true, false"),
    ("services", 0, "active", "TRUE", "is not one of true, false"),
    ("services", 1, "min_age", "ten", "is not a whole number"),
    ("services", 1, "min_age", "17", "is above max_age"),
    ("services", 1, "max_age", "130", "outside 0..120"),
    ("services", 1, "districts", "SO23,PO12", "is not * or a ;-separated list"),
    ("services", 1, "districts", "", "districts is blank"),
    ("services", 0, "needs", "loneliness", "has a need outside the vocabulary"),
    ("services", 0, "needs", "family_support;Money", "has a need outside the vocabulary"),
    ("services", 0, "early_help_indicator", "yes", "is not one of true, false"),
    ("events", 0, "event_id", "", "event_id is blank"),
    ("events", 0, "occurred_at", "2026/01/10 10:00", "is not an ISO 8601 timestamp"),
    ("events", 0, "occurred_at", "10 Jan 2026", "is not an ISO 8601 timestamp"),
    ("events", 0, "occurred_at", "2026-01-10T25:00:00", "is not an ISO 8601 timestamp"),
    ("events", 0, "occurred_at", "2030-01-10T10:00:00", "after the extract date"),
    ("events", 0, "event_type", "borrow", "is not one of enquiry"),
    ("events", 0, "source", "tesco", "unknown source"),
    ("events", 0, "person_id", "PZZ", "person_id \"PZZ\" is not in citizens"),
    ("events", 0, "service_id", "NOPE", "service_id \"NOPE\" is not in services"),
    ("consents", 0, "purpose", "marketing", "is not one of personalisation"),
    ("consents", 0, "status", "revoked", "is not one of granted, withdrawn, objected"),
    ("consents", 0, "method", "email", "is not one of portal"),
    ("consents", 0, "recorded_at", "yesterday", "is not an ISO 8601 timestamp"),
    ("consents", 0, "recorded_at", "2031-01-01T00:00:00", "after the extract date"),
    ("consents", 0, "person_id", "PZZ", "is not in citizens"),
    ("outcomes", 0, "outcome", "arrested", "is not one of early_help_assessment"),
    ("outcomes", 0, "occurred_at", "2026-08-01T10:00:00", "is not an ISO 8601 date"),
    ("outcomes", 0, "occurred_at", "2029-08-01", "after the extract date"),
    ("outcomes", 0, "person_id", "PZZ", "is not in citizens"),
    ("caseloads", 0, "caseworker_id", "", "caseworker_id is blank"),
    ("caseloads", 0, "household_id", "HZZ", "household_id \"HZZ\" is not in citizens"),
    ("caseloads", 1, "end_date", "2025-01-01", "is before start_date"),
    ("caseloads", 0, "start_date", "2026-1-1", "is not an ISO 8601 date"),
]


@pytest.mark.parametrize(("table", "row", "column", "value", "expected"), ROW_RULES,
                         ids=[f"{t}.{c}={v!r}" for t, _, c, v, _ in ROW_RULES])
def test_row_rule_quarantines_the_row(run_build, tiny_tables, table, row, column, value, expected):
    tiny_tables[table][row][column] = value
    built = run_build(tiny_tables)
    reasons = built.reasons(table)
    assert row + 1 in reasons, f"row {row + 1} of {table} was accepted"
    assert expected in reasons[row + 1]
    # only that row: every other row of the table was accepted
    assert built.manifest["rows"][table]["quarantined"] == len(reasons)
    assert set(reasons) == {row + 1} or table in ("citizens", "services")


def test_quarantine_keeps_original_values_and_row_numbers(run_build, tiny_tables):
    tiny_tables["events"][3]["event_type"] = "borrow"
    built = run_build(tiny_tables)
    q = built.quarantine("events")
    assert list(q.columns) == ["row_number", *tiny_tables["events"][0], "reason"]
    record = q.iloc[0]
    assert int(record["row_number"]) == 4
    assert record["event_id"] == tiny_tables["events"][3]["event_id"]
    assert record["event_type"] == "borrow"


@pytest.mark.parametrize("postcode", ["so23 9ab", "SO239AB", "  SO23   9AB ", "So23 9aB"])
def test_messy_but_valid_postcodes_are_accepted_and_generalised(run_build, tiny_tables, postcode):
    tiny_tables["citizens"][0]["postcode"] = postcode
    built = run_build(tiny_tables)
    assert built.manifest["rows"]["citizens"]["quarantined"] == 0
    citizens = built.parquet("citizens.parquet")
    assert set(citizens["postcode_district"]) == {"SO23", "PO12", "GU51", "RG21"}
    assert (citizens.loc[citizens["postcode_district"] == "SO23", "local_authority"] == "Winchester").all()


def test_duplicate_person_id_keeps_the_first(run_build, tiny_tables):
    tiny_tables["citizens"].append(dict(tiny_tables["citizens"][2], sex="M"))
    built = run_build(tiny_tables)
    n = len(tiny_tables["citizens"])
    assert built.reasons("citizens") == {n: 'duplicate person_id "PA3" (first seen at row 3)'}
    # the person's events still resolve to the kept row
    assert built.manifest["rows"]["events"]["quarantined"] == 0


def test_duplicate_service_id(run_build, tiny_tables):
    tiny_tables["services"].append(dict(tiny_tables["services"][0]))
    built = run_build(tiny_tables)
    assert built.reasons("services") == {6: 'duplicate service_id "LIB-1" (first seen at row 1)'}


def test_duplicate_event_within_a_source_is_quarantined_across_sources_is_not(run_build, tiny_tables):
    events = tiny_tables["events"]
    events.append(dict(events[1]))  # exact copy: row 13
    events.append(dict(events[0], source="leisure", service_id="LEI-1"))  # same id, other source: row 14
    built = run_build(tiny_tables)
    assert built.reasons("events") == {
        13: 'duplicate source "libraries" + event_id "L2" (first seen at row 2)'
    }


def test_duplicate_of_a_rejected_row_is_not_a_duplicate(run_build, tiny_tables):
    events = tiny_tables["events"]
    events.append(dict(events[0]))
    events[0]["event_type"] = "borrow"  # the first copy is rejected; the second is kept
    built = run_build(tiny_tables)
    reasons = built.reasons("events")
    assert set(reasons) == {1}


def test_quarantined_citizen_takes_their_events_consents_outcomes_with_them(run_build, tiny_tables):
    tiny_tables["citizens"][5]["postcode"] = "SW1A 1AA"  # PB2 (row 6)
    built = run_build(tiny_tables)
    cascade = "was quarantined in citizens (row 6: postcode outside the county (district SW1A))"
    events = built.reasons("events")
    assert {r for r, reason in events.items() if cascade in reason} == {6, 10}  # E2, F1
    assert cascade in built.reasons("consents")[5]
    assert cascade in built.reasons("outcomes")[1]
    # HB still has an accepted member (PB1): the caseload stays
    assert built.manifest["rows"]["caseloads"]["quarantined"] == 0


def test_caseload_of_a_household_whose_members_were_all_quarantined(run_build, tiny_tables):
    for i in (4, 5):  # PB1, PB2: household HB
        tiny_tables["citizens"][i]["sex"] = "?"
    built = run_build(tiny_tables)
    reason = built.reasons("caseloads")[1]
    assert 'household_id "HB" was quarantined in citizens (row 5' in reason


def test_quarantined_service_takes_its_events_with_it(run_build, tiny_tables):
    tiny_tables["services"][2]["active"] = "maybe"  # POL-DA, row 3
    built = run_build(tiny_tables)
    events = built.reasons("events")
    assert set(events) == {8, 9}
    assert "was quarantined in services (row 3" in events[8]


def test_first_failing_rule_is_reported_once_per_row(run_build, tiny_tables):
    tiny_tables["events"][0].update(event_type="borrow", occurred_at="2030-01-01T00:00:00", person_id="PZZ")
    built = run_build(tiny_tables)
    assert built.reasons("events") == {1: 'occurred_at 2030-01-01T00:00:00 is after the extract date 2026-10-15 '
                                       '(a future date)'}


def test_events_after_as_of_are_accepted_but_outside_the_snapshot(run_build, tiny_tables):
    built = run_build(tiny_tables)
    assert built.manifest["rows"]["events"]["quarantined"] == 0
    assert built.manifest["after_as_of"]["events"] == 1


def test_extract_date_defaults_to_today(run_build, tiny_tables):
    from datetime import date

    tiny_tables["events"][0]["occurred_at"] = "2026-10-20T10:00:00"  # after the fixture's extract date
    built = run_build(tiny_tables, extract_date=None)
    assert built.manifest["extract_date"] == date.today().isoformat()
    assert built.manifest["rows"]["events"]["quarantined"] == (0 if date.today() >= date(2026, 10, 20) else 1)


def test_timestamps_with_an_offset_are_converted_to_uk_time(run_build, tiny_tables):
    events = tiny_tables["events"]
    # 23:30 UTC on 30 Sept is 00:30 BST on 1 Oct: after as_of. 23:30+01:00 is still 30 Sept.
    events.append(dict(events[0], event_id="Z1", occurred_at="2026-09-30T23:30:00Z"))
    events.append(dict(events[0], event_id="Z2", occurred_at="2026-09-30T23:30:00+01:00"))
    events.append(dict(events[0], event_id="Z3", occurred_at="2026-09-30 23:30"))
    built = run_build(tiny_tables)
    assert built.manifest["rows"]["events"]["quarantined"] == 0
    assert built.manifest["after_as_of"]["events"] == 2  # A1 and Z1
