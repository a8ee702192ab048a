"""A data steward decides an uncertain partner-record link on their page, at phone and desktop widths."""

from __future__ import annotations

import secrets
from pathlib import Path

import pandas as pd
from playwright.sync_api import expect


def write_queue(path: Path) -> tuple[str, str]:
    """A review queue as the build writes it (best pair first), with fresh pseudonyms for this run."""
    records, people = [secrets.token_hex(32) for _ in range(2)], [secrets.token_hex(32) for _ in range(2)]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({
        "source": ["adult_social_care", "police"], "partner_record": records, "person": people,
        "match_probability": [0.87, 0.55], "runner_up": [0.31, 0.0], "margin_bits": [3.9, float("inf")],
        "given_name": ["katie | kathryn", "same"], "family_name": ["same", "same"],
        "birth_date": ["2009-07-05 | 2009-05-07", "same"], "postcode": ["same", "(blank) | ZZ9 9ZZ"],
        "address": ["same", "same"], "nhs_number": ["(blank) | (blank)", "same"], "upn": ["same", "(blank) | (blank)"],
        "level_given_name": ["nickname of the same name", "the same"],
        "level_family_name": ["the same", "the same"],
        "level_birth_date": ["day and month swapped", "the same"],
        "level_postcode": ["same home (same postcode, similar address)", "blank on one side, not compared"],
        "level_address": ["same home (same postcode, similar address)", "the same"],
        "level_nhs_number": ["blank on one side, not compared", "the same"],
        "level_upn": ["", "blank on one side, not compared"],  # a field without a level: agreement alone
    }).to_csv(path, index=False)
    path.chmod(0o600)
    return records[0], people[0]


def test_a_steward_rejects_a_pair(page, sign_in, shoot, assert_accessible, api, site):
    record, _ = write_queue(Path(site.env["SIGNPOST_LINKAGE_REVIEW_QUEUE"]))
    sign_in("data_steward")
    assert page.url.endswith("/steward")
    assert page.get_by_role("heading", name="Is this the same person?").is_visible()
    comparisons = page.locator("#comparisons").inner_text()
    assert "katie" in comparisons and "kathryn" in comparisons and "2009-05-07" in comparisons
    assert "Nickname of the same name" in comparisons and "Day and month swapped" in comparisons
    assert "Same home (same postcode, similar address)" in comparisons
    assert "Blank on one side, not compared" in comparisons
    assert "Agrees" in comparisons  # the UPN has no level in this queue: its agreement is shown instead
    assert "adult social care" in page.locator("main").inner_text()
    assert "87.0%" in page.locator("#scores").inner_text()
    assert_accessible()
    shoot("steward-pair")

    page.get_by_role("button", name="Record decision").click()  # nothing chosen: an error, not a decision
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible()
    page.get_by_label("Not the same person: do not link").check()
    page.get_by_label("Note (optional)").fill("Different dates of birth: checked with the care team.")
    page.get_by_role("button", name="Record decision").click()
    assert "Link rejected" in page.locator(".govuk-notification-banner").inner_text()
    assert "police" in page.locator("main").inner_text()  # the next pair
    assert_accessible()
    shoot("steward-decided")

    decided = [e for e in api.audit(subject=record) if e["action"] == "linkage.decide"]
    assert [(e["actor_role"], e["actor"]) for e in decided] == [("data_steward", "steward-demo")]
    views = [e for e in api.audit(subject=record) if e["action"] == "linkage.review.view"]
    assert len(views) >= 2
