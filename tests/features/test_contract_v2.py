"""Contract version 2: partner records, identifying columns on citizens, events by a partner's id.

One test per validation rule (break one value of a tiny version 2 extract, expect that row
quarantined with a reason that says why), then what linkage does with the tiny extract:
exact copies link, their events reach the outputs under the master person, nothing of the
partner's identifiers reaches an output.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from features.pseudonym import pseudonymise

IDENTITIES = {  # person_id -> given, family, address, nhs_number, upn
    "PA1": ("Alice", "Archer", "1 High Street", "9434765919", ""),
    "PA2": ("Brian", "Archer", "1 High Street", "4010232137", ""),
    "PA3": ("Chloe", "Archer", "1 High Street", "1234567881", "A850123456789"),
    "PA4": ("Daniel", "Archer", "1 High Street", "9876543210", "B850987654321"),
    "PB1": ("Erin", "Okafor", "22 Forest Road", "4505577104", ""),
    "PB2": ("Femi", "Okafor", "22 Forest Road", "1112223339", "C850111222333"),
    "PC1": ("Graham", "Patel", "7 Manor Close", "4445556661", ""),
    "PC2": ("Helen", "Patel", "7 Manor Close", "7778889994", ""),
    "PD1": ("Isla", "Nowak", "3 Mill Lane", "5556667772", ""),
}


def partner_record(source: str, local_id: str, person: dict, **changes) -> dict[str, str]:
    given, family, address, nhs, upn = IDENTITIES[person["person_id"]]
    record = {"source": source, "local_id": local_id, "given_name": given, "family_name": family,
              "birth_date": person["birth_date"], "sex": person["sex"], "postcode": person["postcode"],
              "address": address, "nhs_number": nhs if source == "nhs" else "", "upn": upn if source == "schools" else ""}
    return record | changes


@pytest.fixture
def v2_tables(tiny_tables):
    tables = copy.deepcopy(tiny_tables)
    people = {c["person_id"]: c for c in tables["citizens"]}
    for citizen in tables["citizens"]:
        given, family, address, nhs, upn = IDENTITIES[citizen["person_id"]]
        citizen |= {"given_name": given, "family_name": family, "address": address, "nhs_number": nhs, "upn": upn}
    tables["partner_people"] = [
        partner_record("police", "POL-77", people["PB1"]),
        partner_record("nhs", "NHS-5", people["PC1"]),
        partner_record("schools", "SCH-9", people["PB2"]),
    ]
    for event in tables["events"]:
        event["partner_person_id"] = ""
    # the police know PB1 only by their own id
    for event in tables["events"]:
        if event["source"] == "police":
            event["person_id"], event["partner_person_id"] = "", "POL-77"
    return tables


PARTNER_RULES = [
    ({"given_name": "", "family_name": "", "birth_date": "", "postcode": ""}, "fewer than 2 of name"),
    ({"nhs_number": "9434765918"}, "is not a valid NHS number"),
    ({"nhs_number": "94347659"}, "is not a valid NHS number"),
    ({"sex": "female"}, "is not one of F, M, X, U"),
    ({"birth_date": "1995/03/03"}, "is not an ISO 8601 date"),
    ({"birth_date": "2031-01-01"}, "after the extract date"),
    ({"source": "tesco"}, "unknown source"),
    ({"postcode": "NOT A POSTCODE"}, "is not a UK postcode"),
    ({"upn": "12345"}, "is not a unique pupil number"),
    ({"local_id": ""}, "local_id is blank"),
]


@pytest.mark.parametrize(("changes", "expected"), PARTNER_RULES, ids=[e for _, e in PARTNER_RULES])
def test_partner_record_rules(run_build, v2_tables, changes, expected):
    v2_tables["partner_people"][1] |= changes
    built = run_build(v2_tables)
    reasons = built.reasons("partner_people")
    assert set(reasons) == {2} and expected in reasons[2]
    counts = built.manifest["rows"]["partner_people"]
    assert counts["read"] == counts["accepted"] + counts["quarantined"] == 3


def test_local_id_is_unique_within_its_source_only(run_build, v2_tables):
    v2_tables["partner_people"].append(dict(v2_tables["partner_people"][0], given_name="Erin"))  # police again
    v2_tables["partner_people"].append(dict(v2_tables["partner_people"][1], source="fire"))  # same id, other source
    built = run_build(v2_tables)
    reasons = built.reasons("partner_people")
    assert set(reasons) == {4} and "duplicate" in reasons[4] and "first seen at row 1" in reasons[4]


def test_citizens_nhs_number_is_checked(run_build, v2_tables):
    v2_tables["citizens"][0]["nhs_number"] = "1234567890"
    built = run_build(v2_tables)
    assert "is not a valid NHS number" in built.reasons("citizens")[1]


EVENT_RULES = [
    ({"person_id": "PB1", "partner_person_id": "POL-77"}, "both person_id and partner_person_id"),
    ({"person_id": "", "partner_person_id": ""}, "person_id is blank (required"),
    ({"person_id": "", "partner_person_id": "POL-404"}, "is not in partner_people"),
]


@pytest.mark.parametrize(("changes", "expected"), EVENT_RULES, ids=[e for _, e in EVENT_RULES])
def test_event_names_its_person_by_exactly_one_reference(run_build, v2_tables, changes, expected):
    v2_tables["events"][7] |= changes  # D1, a police event
    built = run_build(v2_tables)
    reasons = built.reasons("events")
    assert set(reasons) == {8} and expected in reasons[8]


def test_version_1_extract_is_read_unchanged(run_build, tiny_tables):
    built = run_build(tiny_tables, accept_quarantine=False)
    assert "partner_people" not in built.manifest["rows"]
    assert built.manifest["linkage"]["partner_records"] == 0
    assert not (built.out / "link_outcomes.parquet").exists()


def test_exact_partner_copies_link_and_their_events_follow_the_master_person(run_build, v2_tables, tiny_tables,
                                                                             key):
    built = run_build(v2_tables, accept_quarantine=False)
    assert built.manifest["rows"]["events"]["quarantined"] == 0
    outcomes = built.parquet("link_outcomes.parquet")
    assert set(outcomes.columns) == {"source", "partner_record", "method", "outcome", "match_probability",
                                     "runner_up", "margin_bits", "dice", "decided_by", "person"}
    assert set(outcomes["method"]) == {"splink"} and outcomes["dice"].isna().all()
    police = outcomes.set_index("source").loc["police"]
    assert police["outcome"] == "linked"
    assert police["person"] == pseudonymise(["PB1"], key, "person")[0]
    # the same outputs as when the police had named PB1 directly
    v1 = run_build(tiny_tables)
    for name in ("interactions_all.npz", "early_help_score.parquet"):
        assert (built.out / name).read_bytes() == (v1.out / name).read_bytes(), name
    # nothing the partner or the master index knew about PB1 is in any output
    words = {"Erin", "Okafor", "22 Forest Road", "4505577104", "POL-77", "NHS-5", "SCH-9", "C850111222333"}
    for path in built.out.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("latin-1")
            if path.suffix == ".parquet":
                text += pd.read_parquet(path).to_csv()
            assert not any(w in text for w in words), path.name
