"""Nothing lost quietly: an unnamed source or a large quarantined share stops the build."""

from __future__ import annotations

import pytest

from signpost.errors import UserError


def test_an_unnamed_source_stops_the_build_naming_source_count_and_setting(run_build, tiny_tables):
    for row in tiny_tables["events"][:3]:
        row["source"] = "employment"
    with pytest.raises(UserError) as stopped:
        run_build(tiny_tables, accept_quarantine=False)
    message = str(stopped.value)
    assert "\n" not in message
    assert "employment 3" in message and "SIGNPOST_SHARING_POLICY" in message
    assert "--accept-quarantine" in message


def test_an_unnamed_source_is_built_when_accepted_and_the_manifest_says_so(run_build, tiny_tables):
    tiny_tables["events"][0]["source"] = "transport"
    built = run_build(tiny_tables, accept_quarantine=True)
    assert built.manifest["events_by_source"]["unknown"] == {"transport": 1}
    assert built.manifest["quarantine_gate"]["accepted_by_user"] is True
    assert any("transport 1" in f for f in built.manifest["quarantine_gate"]["findings"])


def test_a_table_above_the_quarantined_share_stops_the_build(run_build, tiny_tables, settings_with):
    tiny_tables["consents"][0]["method"] = "email"  # 1 of 7 consents: 14%
    with pytest.raises(UserError, match=r"^consents: 1 of 7 rows \(14\.3%\) were quarantined.*"
                                        r"SIGNPOST_QUARANTINE_MAX_SHARE=0\.05"):
        run_build(tiny_tables, accept_quarantine=False, settings=settings_with(quarantine_min_rows=1))
    # the same extract passes when the setting allows that share, or when so few rows are not worth a stop
    built = run_build(tiny_tables, accept_quarantine=False,
                      settings=settings_with(quarantine_max_share=0.2, quarantine_min_rows=1))
    assert built.manifest["quarantine_gate"]["findings"] == []
    built = run_build(tiny_tables, accept_quarantine=False)  # default: at least 10 quarantined rows
    assert built.manifest["quarantine_gate"]["findings"] == []
    assert built.manifest["rows"]["consents"]["quarantined"] == 1


def test_a_clean_extract_passes_the_gate(run_build, tiny_tables):
    built = run_build(tiny_tables, accept_quarantine=False)
    assert built.manifest["quarantine_gate"] == {"max_share": 0.05, "min_rows": 10, "accepted_by_user": False,
                                                 "findings": []}
    assert built.manifest["events_by_source"]["accepted"]["libraries"] == 5
