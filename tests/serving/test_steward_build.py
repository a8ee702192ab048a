"""A steward's decision recorded through the service is what the next build does with that record.

The real generator (partner-local extracts), the real linkage, the service's own decision
function on the queue that build wrote, and the build again: an accepted pair ends linked by the
steward, a rejected one never links to the person it was rejected for, and neither is queued again.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from features import linkage_model
from features.build import build, link_extract
from features.linkage import level_descriptions
from serving.domain import linkage_review
from serving.domain.auth import Role, Viewer
from serving.infra.db import Database, upgrade
from serving.infra.service_readers import steward_decisions
from signpost.settings import Settings

pytestmark = pytest.mark.slow

END = date(2026, 9, 30)
STEWARD = Viewer(Role.data_steward, "steward-build")


def test_the_next_build_links_what_the_steward_accepted_and_not_what_they_rejected(tmp_path):
    from synthetic.generate import generate_county

    raw = tmp_path / "raw"
    generate_county(raw, citizens=1_200, seed=11, months=12, end=END, error_rate=0.01, fmt="csv", partners="local")
    url = f"sqlite:///{tmp_path / 'service.db'}"
    # A wide margin sends more close calls to review: this small county's model is sure of nearly
    # every record, and the test needs a queue to decide.
    settings = Settings(pseudonym_key="steward-build-key", data_dir=tmp_path / "data", raw_dir=raw,
                        database_url=url, linkage_margin_bits=30.0)
    first = link_extract(raw, tmp_path / "first", settings=settings, extract_date=date(2026, 10, 1))
    queue_path = tmp_path / "first" / "linkage_review.csv"
    queue = pd.read_csv(queue_path, dtype=str)
    assert first["outcomes"]["review"] == len(queue) >= 2, first["outcomes"]

    database = Database(url)
    upgrade(database)
    try:
        shown = linkage_review.next_pair(database, STEWARD, queue_path).pair
        # Each field is described by the level of the model's comparison the pair reached, in
        # the words of the model's own level descriptions; exact agreement reads "the same".
        described = {level for levels in level_descriptions(linkage_model.settings().get_settings("duckdb").as_dict()).values()
                     for level in levels.values()}
        assert all(c.description in described for c in shown.comparisons), shown.comparisons
        for c in shown.comparisons:
            if c.description == linkage_model.SAME:
                assert c.level == "agrees", c
            if c.level == "differs" and c.field in ("given_name", "family_name", "birth_date"):
                assert c.description != linkage_model.SAME, c
        linkage_review.decide(database, STEWARD, queue_path, partner_record=shown.partner_record,
                              person=shown.person, decision="accept", note="same GP practice")
        rejected = linkage_review.next_pair(database, STEWARD, queue_path).pair
        linkage_review.decide(database, STEWARD, queue_path, partner_record=rejected.partner_record,
                              person=rejected.person, decision="reject")
    finally:
        database.dispose()

    out = tmp_path / "processed"
    manifest = build(raw, out, as_of=END, quarantine=tmp_path / "quarantine", engine="duckdb", settings=settings,
                     extract_date=date(2026, 10, 1), steward=steward_decisions(url),
                     accept_quarantine=True)  # the wide margin quarantines the queue's events: expected here
    assert manifest["linkage"]["steward_decisions"] == 2
    outcomes = pd.read_parquet(out / "link_outcomes.parquet").set_index("partner_record")
    accepted = outcomes.loc[shown.partner_record]
    assert (accepted["outcome"], accepted["person"], accepted["decided_by"]) == ("linked", shown.person, "steward")
    assert outcomes.loc[rejected.partner_record, "person"] != rejected.person
    requeued = pd.read_csv(tmp_path / "quarantine" / "linkage_review.csv", dtype=str)
    pairs = set(zip(requeued["partner_record"], requeued["person"], strict=True))
    assert (shown.partner_record, shown.person) not in pairs
    assert (rejected.partner_record, rejected.person) not in pairs
