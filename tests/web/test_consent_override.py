"""An admin's Art. 21 override is told to the person on "Your data": who decided, when, why."""

from __future__ import annotations

import httpx
import pandas as pd

from features.pseudonym import pseudonymise

GROUNDS = "The early-help panel of 2 December found that the children's safety outweighs the objection."


def council_reference(small_county, pseudonym: str) -> str:
    """The signed-in persona's council person id (the admin's API addresses people by it)."""
    people = pd.read_csv(small_county.raw / "citizens.csv", dtype=str).dropna(subset=["person_id"])
    people["pseudonym"] = pseudonymise(people["person_id"].tolist(), small_county.key.encode(), "person")
    return people.loc[people["pseudonym"] == pseudonym, "person_id"].iloc[0]


def test_the_person_reads_who_overrode_their_objection_when_and_why(page, sign_in, shoot, assert_accessible, api,
                                                                    site, small_county):
    sign_in("citizen")
    me = page.request.get("/portal/data.json").json()["pseudonym"]
    person_id = council_reference(small_county, me)
    page.goto("/portal/consent")
    page.check("#early_intervention-no")
    page.get_by_role("button", name="Save your choices").click()
    admin = {"Authorization": f"Bearer {api.token('admin', 'admin-web')}"}
    made = httpx.post(f"{site.url}/v1/citizens/{person_id}/consent/overrides", headers=admin, timeout=30,
                      json={"purpose": "early_intervention", "reason": GROUNDS})
    assert made.status_code == 201, made.text

    page.goto("/portal/data")
    told = page.locator(".govuk-inset-text").last.inner_text()
    assert "admin-web (an administrator) decided to keep using your data for early help despite your objection" \
        in told
    assert GROUNDS.rstrip(".") in told and "This stands until you make a new choice" in told
    assert_accessible()
    shoot()

    # put it back for the other tests: the person's own grant ends the override
    citizen = {"Authorization": f"Bearer {api.token('citizen', person_id)}"}
    back = httpx.put(f"{site.url}/v1/citizens/me/consent", headers=citizen, timeout=30,
                     json={"purpose": "early_intervention", "status": "granted"})
    assert back.status_code == 200 and [p["override"] for p in back.json()["purposes"]] == [None] * 3
    page.goto("/portal/data")
    assert "This ended when you made a new choice" in page.locator(".govuk-inset-text").last.inner_text()
