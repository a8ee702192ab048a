"""An empty training matrix blames the sharing policy when that is the cause, not consent."""

from __future__ import annotations

from training.recommender import empty_matrix_cause

BASE = {"as_of": "2026-09-30", "split_date": "2026-06-30", "personalisation_citizens": 5,
        "sources_by_purpose": {"personalisation": ["libraries", "leisure"]},
        "events_by_source": {"accepted": {"libraries": 10}, "unknown": {}}}


def test_no_personalisation_source_in_the_policy_blames_the_policy():
    manifest = BASE | {"sources_by_purpose": {"personalisation": []}}
    assert "lets no source serve personalisation" in empty_matrix_cause(manifest)


def test_events_only_from_other_or_unnamed_sources_blame_the_policy_not_consent():
    manifest = BASE | {"events_by_source": {"accepted": {"police": 40},
                                            "unknown": {"employment": 600, "transport": 13}}}
    cause = empty_matrix_cause(manifest)
    assert "police 40" in cause and "employment, transport" in cause and "613 events" in cause
    assert "consent" not in cause


def test_nobody_consenting_blames_consent():
    assert "nobody had consented" in empty_matrix_cause(BASE | {"personalisation_citizens": 0})
