"""What leaves the pipeline: purpose limits, consent, weights, labels, k-anonymity, manifest."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from features.pseudonym import key_id, pseudonymise


def person(built, person_id: str) -> pd.Series:
    citizens = built.parquet("citizens.parquet")
    [pseudonym] = pseudonymise([person_id], built.settings.pseudonym_key.get_secret_value().encode(), "person")
    return citizens.set_index("pseudonym").loc[pseudonym]


def matrix(built, window: str = "all") -> sp.csr_matrix:
    return sp.load_npz(built.out / f"interactions_{window}.npz")


def service_col(built, service_id: str) -> int:
    services = built.parquet("services.parquet")
    return int(services.set_index("service_id").loc[service_id, "col"])


def test_processed_folder_has_every_output(run_build, tiny_tables):
    built = run_build(tiny_tables)
    names = {str(p.relative_to(built.out)) for p in built.out.rglob("*") if p.is_file()}
    assert names == {
        "manifest.json", "citizens.parquet", "services.parquet", "interactions_train.npz",
        "interactions_test.npz", "interactions_all.npz", "early_help_train.parquet",
        "early_help_valid.parquet", "early_help_score.parquet", "early_help_features.json",
        "consents.parquet", "caseloads.parquet", "research/usage_by_category.csv",
    }
    assert set(built.manifest["outputs"]) == names - {"manifest.json"}
    assert not list(built.out.parent.glob(".out*.partial-*"))


def test_matrices_share_the_citizen_and_service_axes(run_build, tiny_tables):
    built = run_build(tiny_tables)
    citizens, services = built.parquet("citizens.parquet"), built.parquet("services.parquet")
    assert list(citizens["row"]) == list(range(len(citizens)))
    assert list(services["col"]) == list(range(len(services)))
    for window in ("train", "test", "all"):
        m = matrix(built, window)
        assert m.shape == (len(citizens), len(services)) and m.dtype == np.float32
    assert built.manifest["shape"] == {"citizens": 9, "services": 5}


def test_citizens_without_personalisation_consent_have_empty_rows(run_build, tiny_tables):
    built = run_build(tiny_tables)
    citizens = built.parquet("citizens.parquet")
    m = matrix(built)
    without = citizens.loc[~citizens["consent_personalisation"], "row"].to_numpy()
    assert len(without) == 3  # PA2, PB1, PC2 never granted
    assert m[without].nnz == 0
    # PA2 has no events but PC2 has (after as_of) and PB1 has police events: all stay out
    assert m[citizens.loc[citizens["consent_personalisation"], "row"].to_numpy()].nnz > 0


def test_withdrawal_before_as_of_empties_the_row(run_build, tiny_tables):
    tiny_tables["consents"].append(
        {"person_id": "PD1", "purpose": "personalisation", "status": "withdrawn",
         "recorded_at": "2026-09-01T09:00:00", "method": "portal"})
    built = run_build(tiny_tables)
    row = int(person(built, "PD1")["row"])
    assert not person(built, "PD1")["consent_personalisation"]
    for window in ("train", "test", "all"):
        assert matrix(built, window)[row].nnz == 0


def test_police_events_never_feed_personalisation(run_build, tiny_tables):
    tiny_tables["consents"].append(
        {"person_id": "PB1", "purpose": "personalisation", "status": "granted",
         "recorded_at": "2025-01-01T09:00:00", "method": "portal"})
    built = run_build(tiny_tables)
    assert person(built, "PB1")["consent_personalisation"]
    assert matrix(built)[int(person(built, "PB1")["row"])].nnz == 0  # only police events
    assert matrix(built)[:, service_col(built, "POL-DA")].nnz == 0


def test_weights_decay_and_declined_counts_not_at_all(run_build, tiny_tables):
    built = run_build(tiny_tables)
    m = matrix(built).toarray()
    lei = service_col(built, "LEI-1")
    # PA4: one attendance (weight 2) at 2026-09-29 17:00, window end 2026-10-01 00:00
    age_days = 1 + 7 / 24
    expected = 2.0 * 0.5 ** (age_days / 180.0)
    assert m[int(person(built, "PA4")["row"]), lei] == pytest.approx(expected, rel=1e-5)
    # PB2 declined the swim lessons (and has consent): no entry at all
    assert m[int(person(built, "PB2")["row"]), lei] == 0
    assert matrix(built)[int(person(built, "PB2")["row"])].nnz == 0


def test_temporal_split(run_build, tiny_tables):
    built = run_build(tiny_tables)
    assert built.manifest["split_date"] == "2026-06-30"
    train, test, all_ = (matrix(built, w).toarray() for w in ("train", "test", "all"))
    lib = service_col(built, "LIB-1")
    pd1 = int(person(built, "PD1")["row"])
    assert train[pd1, lib] > 0 and test[pd1, lib] > 0  # L3 before the split, L4 after
    # train decays to the split date, all to the end of as_of: all < train + test
    assert all_[pd1, lib] < train[pd1, lib] + test[pd1, lib]
    pa3 = int(person(built, "PA3")["row"])
    assert test[pa3, lib] > 0 and train[pa3, lib] == 0  # L2 on 2026-08-01


def test_early_help_excludes_a_household_that_objected(run_build, tiny_tables, key):
    tiny_tables["consents"].append(
        {"person_id": "PA1", "purpose": "early_intervention", "status": "objected",
         "recorded_at": "2026-05-01T09:00:00", "method": "caseworker"})
    built = run_build(tiny_tables)
    kids = pseudonymise(["PA3", "PA4", "PB2"], key, "person")
    train, valid, score = (built.parquet(f"early_help_{n}.parquet") for n in ("train", "valid", "score"))
    # objection recorded 2026-05-01: after the train and valid snapshots, before scoring
    assert set(train["pseudonym"]) == set(valid["pseudonym"]) == set(kids)
    assert set(score["pseudonym"]) == {kids[2]}


def test_a_childs_own_objection_excludes_them(run_build, tiny_tables, key):
    tiny_tables["consents"].append(
        {"person_id": "PB2", "purpose": "early_intervention", "status": "objected",
         "recorded_at": "2024-05-01T09:00:00", "method": "caseworker"})
    built = run_build(tiny_tables)
    [pb2] = pseudonymise(["PB2"], key, "person")
    for name in ("train", "valid", "score"):
        assert pb2 not in set(built.parquet(f"early_help_{name}.parquet")["pseudonym"])


def test_early_help_features_and_labels(run_build, tiny_tables, key):
    built = run_build(tiny_tables)
    [pb2] = pseudonymise(["PB2"], key, "person")
    valid = built.parquet("early_help_valid.parquet").set_index("pseudonym")
    train = built.parquet("early_help_train.parquet").set_index("pseudonym")
    score = built.parquet("early_help_score.parquet").set_index("pseudonym")
    assert "label" not in score.columns
    assert valid.loc[pb2, "label"] == 1 and train.loc[pb2, "label"] == 0  # outcome 2026-08-01
    row = score.loc[pb2]
    assert row["f_hh_svc_domestic_abuse_notification"] == 2  # two police notifications for the parent
    assert row["f_svc_domestic_abuse_notification"] == 0
    # a v1 extract: family support is recorded by children's social care (early intervention only),
    # so by the contract's default it is a concern indicator
    assert row["f_svc_family_support"] == 1 and row["f_uses_family_support"] == 1
    assert row["f_hh_single_adult"] == 1 and row["f_hh_members"] == 2
    assert row["f_days_since_concern"] == (pd.Timestamp("2026-09-30") - pd.Timestamp("2026-06-01")).days
    assert row["f_hh_days_since_concern"] == (pd.Timestamp("2026-09-30") - pd.Timestamp("2026-05-05")).days
    assert row["f_supportive_services_leisure"] == 1  # a declined swimming offer: supportive, opt-in only
    assert not any(c.startswith("f_police") or "_events" in c for c in row.index)  # no per-source counts
    assert row["age_band"] == "11-15" and row["local_authority"] == "Gosport"
    features = [c for c in score.columns if c.startswith("f_")]
    assert all(score[c].dtype == np.float32 for c in features)
    described = pd.read_json(built.out / "early_help_features.json")
    assert list(described["name"]) == features
    assert set(described["kind"]) <= {"count", "days_since", "flag", "numeric"}
    group = described.set_index("name")["group"]
    assert group["f_svc_domestic_abuse_notification"] == "concern" and group["f_age"] == "composition"
    assert group["f_uses_family_support"] == "supportive_services" and group["f_imd_decile"] == "deprivation"
    assert built.manifest["early_help"]["opt_in_groups"] == []
    assert built.manifest["early_help"]["default_groups"] == ["concern", "composition"]
    assert list(train.columns) == list(valid.columns) == [*score.columns, "label"]


def test_research_export_is_k_anonymous_and_consented(run_build, tiny_tables, settings_with):
    built = run_build(tiny_tables, settings=settings_with(research_k_anonymity=1))
    cells = pd.read_csv(built.out / "research" / "usage_by_category.csv")
    assert list(cells.columns) == ["category", "local_authority", "age_band", "people"]
    assert ("learning", "Basingstoke and Deane", "25-34") in set(
        zip(cells["category"], cells["local_authority"], cells["age_band"], strict=True))
    assert "safety" not in set(cells["category"])  # police: never research

    tiny_tables["consents"].append(
        {"person_id": "PD1", "purpose": "research", "status": "withdrawn",
         "recorded_at": "2026-01-01T09:00:00", "method": "portal"})
    built = run_build(tiny_tables, settings=settings_with(research_k_anonymity=1))
    cells = pd.read_csv(built.out / "research" / "usage_by_category.csv")
    assert "Basingstoke and Deane" not in set(cells["local_authority"])

    built = run_build(tiny_tables)  # default k = 10: every tiny cell is suppressed
    cells = pd.read_csv(built.out / "research" / "usage_by_category.csv")
    assert cells.empty and built.manifest["research"]["cells_suppressed"] > 0


def test_suppress_small_cells():
    from features.research import suppress_small_cells

    cells = pd.DataFrame({"category": ["a", "b", "c"], "local_authority": ["X"] * 3,
                          "age_band": ["0-4"] * 3, "people": [9, 10, 250]})
    published, suppressed = suppress_small_cells(cells, k=10)
    assert list(published["people"]) == [10, 250] and suppressed == 1


def test_manifest_records_policy_consent_and_key_id(run_build, tiny_tables, key):
    built = run_build(tiny_tables)
    m = built.manifest
    assert m["as_of"] == "2026-09-30" and m["extract_date"] == "2026-10-15"
    assert m["pseudonym_key_id"] == key_id(key)
    assert key.decode() not in (built.out / "manifest.json").read_text()
    assert m["sharing_policy"]["police"] == ["early_intervention"]
    assert m["consent_defaults"] == built.settings.consent_defaults
    assert len(m["consent_snapshot_id"]) == 64
    assert m["snapshots"] == {"early_help_train": "2025-09-30", "early_help_valid": "2026-03-30",
                              "early_help_score": "2026-09-30"}
    for table, counts in m["rows"].items():
        assert counts["read"] == counts["accepted"] + counts["quarantined"], table
    for name in ("citizens", "services", "events", "consents", "outcomes", "caseloads"):
        assert len(m["inputs"][name]["sha256"]) == 64
    assert m["engine"] == "duckdb" and m["software_version"]
    assert math.isclose(sum(v for k, v in m["timings"].items() if k != "total"), m["timings"]["total"],
                        rel_tol=0.5)


def test_consent_snapshot_id_changes_with_consent(run_build, tiny_tables):
    first = run_build(tiny_tables).manifest["consent_snapshot_id"]
    assert run_build(tiny_tables).manifest["consent_snapshot_id"] == first
    tiny_tables["consents"][0]["status"] = "withdrawn"
    assert run_build(tiny_tables).manifest["consent_snapshot_id"] != first


def test_consents_and_caseloads_are_pseudonymised(run_build, tiny_tables, key):
    built = run_build(tiny_tables)
    consents = built.parquet("consents.parquet")
    assert len(consents) == len(tiny_tables["consents"])
    assert set(consents.columns) == {"pseudonym", "purpose", "status", "recorded_at", "method"}
    caseloads = built.parquet("caseloads.parquet")
    assert set(caseloads["household"]) == set(pseudonymise(["HA", "HB"], key, "household"))


def test_optional_tables_may_be_absent(run_build, tiny_tables):
    del tiny_tables["outcomes"], tiny_tables["caseloads"]
    built = run_build(tiny_tables)
    assert set(built.manifest["rows"]) == {"citizens", "services", "events", "consents"}
    assert built.parquet("caseloads.parquet").empty
    assert (built.parquet("early_help_valid.parquet")["label"] == 0).all()
    assert built.manifest["early_help"]["outcomes_present"] is False


def test_feature_labels_name_sources_as_a_caseworker_would() -> None:
    from features.early_help import feature_catalogue

    services = pd.DataFrame(
        {"col": [0, 1], "name": ["Children's services contact", "Talking therapies"],
         "category": ["safety", "health"], "source": ["childrens_social_care", "nhs"],
         "intervention": [False, False], "early_help_indicator": [True, False], "needs": [["family_support"], []]}
    )
    features = {f.name: f for f in feature_catalogue(services, sources=["childrens_social_care", "nhs"])}
    contact = features["f_svc_children_s_services_contact"]
    assert contact.singular == "contact with children's social care about the child concerning family support (last 12 months)"
    assert contact.label.startswith("contacts with children's social care about the child")
    assert contact.needs == ("family_support",) and contact.group == "concern"
    assert features["f_health_services_nhs"].label.startswith("NHS contacts for the child (health services")
    assert not [f.label for f in features.values() if "childrens_social_care" in f.label]


def test_concern_labels_say_the_kind_of_concern_never_a_sensitive_service() -> None:
    """Issue 15/16: a caseworker reads "1 police notification about adults in the household concerning
    domestic abuse", not the name of the sensitive service a family member used."""
    from features.contract import NEED_WORDS
    from features.early_help import feature_catalogue
    from recommender.early_help_interventions import NEED_WORDS as REASON_WORDS

    assert NEED_WORDS == REASON_WORDS  # one vocabulary, in both layers
    services = pd.DataFrame(
        {"col": [0, 1, 2], "name": ["Domestic abuse victim referral", "Exclusion appeal", "Missing from home"],
         "category": ["safety", "learning", "safety"], "source": ["police", "schools", "police"],
         "intervention": [False] * 3, "early_help_indicator": [True] * 3,
         "needs": [["domestic_abuse"], [], []], "sensitive": [True, True, False]}
    )
    features = feature_catalogue(services, sources=["police", "schools"])
    by_name = {f.name: f for f in features}
    abuse = by_name["f_hh_svc_domestic_abuse_victim_referral"]
    assert abuse.singular == "police notification about adults in the household concerning domestic abuse (last 12 months)"
    assert abuse.concern == "domestic abuse"
    # no needs: a sensitive service by its category, any other by its name
    assert by_name["f_svc_exclusion_appeal"].label == "school records about the child concerning learning (last 12 months)"
    assert "concerning Missing from home" in by_name["f_svc_missing_from_home"].label
    for feature in features:
        assert "Domestic abuse victim referral" not in feature.label + feature.singular + feature.absent
        assert "Exclusion appeal" not in feature.label + feature.singular + feature.absent


def test_services_carry_the_version_2_columns_with_the_default_when_absent(run_build, tiny_tables):
    built = run_build(tiny_tables)  # a version 1 extract: neither column
    services = built.parquet("services.parquet").set_index("service_id")
    # default: true only for services recorded by sources that serve early intervention alone
    assert services["early_help_indicator"].to_dict() == {
        "LIB-1": False, "LEI-1": False, "POL-DA": True, "FAM-1": True, "OLD-1": False}
    assert all(len(needs) == 0 for needs in services["needs"])


def test_services_version_2_columns_are_read_and_drive_the_feature_groups(run_build, tiny_tables):
    for row in tiny_tables["services"]:
        row["early_help_indicator"] = "false"
        row["needs"] = ""
    tiny_tables["services"][2].update(early_help_indicator="true", needs="domestic_abuse; family_support")
    tiny_tables["services"][3].update(needs="family_support")  # family support: an intervention, not a concern
    built = run_build(tiny_tables)
    services = built.parquet("services.parquet").set_index("service_id")
    assert services.loc["FAM-1", "early_help_indicator"] == False
    assert list(services.loc["POL-DA", "needs"]) == ["domestic_abuse", "family_support"]
    assert list(services.loc["FAM-1", "needs"]) == ["family_support"]
    described = pd.read_json(built.out / "early_help_features.json").set_index("name")
    assert "f_svc_family_support" not in described.index
    assert list(described.loc["f_svc_domestic_abuse_notification", "needs"]) == ["domestic_abuse", "family_support"]
    assert described.loc["f_svc_domestic_abuse_notification", "singular"].startswith("police notification about")


def test_opt_in_groups_are_recorded_in_the_manifest(run_build, tiny_tables, settings_with):
    built = run_build(tiny_tables, settings=settings_with(early_help_opt_in_features=("benefits", "deprivation")))
    assert built.manifest["early_help"]["opt_in_groups"] == ["benefits", "deprivation"]


def test_feature_labels_read_in_a_caseworkers_words(run_build, tiny_tables):
    from recommender.early_help import FeatureSpec

    built = run_build(tiny_tables)
    specs = FeatureSpec.from_records(json.loads((built.out / "early_help_features.json").read_text()))
    for spec in specs:
        for value in (0.0, 1.0, 3.0):
            text = spec.describe(value)
            assert "_" not in text and "5.5" not in text and "{" not in text, text
            if spec.kind == "count" and value == 1.0:
                assert not re.search(r"\b1 (\w+ )?(notifications|records|contacts|people|children)\b", text), text
