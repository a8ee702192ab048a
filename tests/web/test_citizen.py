"""The citizen portal: services with reasons, "not for me", consent per purpose, your data."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from playwright.sync_api import expect

HEX64 = re.compile(r"\b[0-9a-f]{64}\b")
#: A number with decimals or a percentage: how a score or probability would leak onto a page.
SCORE_LIKE = re.compile(r"\d\.\d|\d\s?%")


def my_data(page) -> dict:
    """The signed-in citizen's subject-access JSON, fetched with the browser's own cookies."""
    response = page.request.get("/portal/data.json")
    assert response.ok
    return response.json()


def means_tested(site) -> dict[str, bool]:
    services = pd.read_parquet(site.processed / "services.parquet")
    return dict(zip(services["service_id"], services["means_tested"].astype(bool), strict=True))


def test_services_for_you_explain_each_suggestion(page, sign_in, shoot, assert_accessible, site):
    sign_in("citizen")
    assert page.url.endswith("/portal")
    assert page.locator(".govuk-tag", has_text="Personalised").first.is_visible()
    assert "from the services you use" in page.locator("#list-notice").inner_text()
    cards = page.locator("#suggestions > li")
    assert cards.count() >= 3
    flags = means_tested(site)
    for i in range(cards.count()):
        card = cards.nth(i)
        service_id = card.get_attribute("id").removeprefix("service-")
        assert "Why we suggest this:" in card.inner_text()
        warning = card.locator(".govuk-warning-text")
        assert (warning.count() == 1) == flags[service_id], f"means-tested note wrong for {service_id}"
        if flags[service_id]:
            assert "Means-tested" in warning.inner_text()
    assert not SCORE_LIKE.search(page.locator("main").inner_text()), "a score-like number is on the page"
    assert_accessible()
    shoot()


def test_without_consent_the_list_is_labelled_not_personalised(page, sign_in, shoot, assert_accessible):
    sign_in("citizen-private")
    assert page.locator(".govuk-tag", has_text="Not personalised").first.is_visible()
    assert "you have not agreed to personalisation" in page.locator("#list-notice").inner_text()
    assert page.locator("#suggestions > li").count() >= 1
    assert_accessible()
    shoot()


def test_not_for_me_removes_the_service_at_once(page, sign_in, shoot, assert_accessible, api):
    sign_in("citizen")
    first = page.locator("#suggestions > li").first
    service_id = first.get_attribute("id").removeprefix("service-")
    name = first.locator("h2").inner_text()
    first.get_by_role("button", name=re.compile("^Not for me")).click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(f"We will not suggest {name} again")
    expect(page.locator(f"#service-{service_id}")).to_have_count(0)
    assert_accessible()
    shoot()
    page.goto("/portal")
    assert page.locator(f"#service-{service_id}").count() == 0  # and it stays gone
    feedback = my_data(page)["feedback"]
    assert {"service_id": service_id, "decision": "not_for_me"}.items() <= feedback[-1].items()


def test_this_is_useful_is_recorded(page, sign_in):
    sign_in("citizen")
    first = page.locator("#suggestions > li").first
    service_id = first.get_attribute("id").removeprefix("service-")
    first.get_by_role("button", name=re.compile("^This is useful")).click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("was useful")
    expect(page.locator(f"#service-{service_id}")).to_have_count(1)  # useful keeps it
    assert my_data(page)["feedback"][-1]["decision"] == "useful"


def test_consent_switches_take_effect_on_the_next_page(page, sign_in, shoot, assert_accessible, api):
    sign_in("citizen")
    pseudonym = my_data(page)["pseudonym"]
    page.goto("/portal/consent")
    for purpose in ("personalisation", "early_intervention", "research"):
        assert page.locator(f"input[name={purpose}]").count() == 2
    assert page.locator("#personalisation").is_checked()
    assert_accessible()
    shoot("consent")

    page.check("#personalisation-no")
    page.get_by_role("button", name="Save your choices").click()
    assert "Your choices have been saved" in page.locator(".govuk-notification-banner").inner_text()
    assert page.locator("#personalisation-no").is_checked()
    shoot("consent-saved")
    page.goto("/portal")
    assert page.locator(".govuk-tag", has_text="Not personalised").first.is_visible()
    # saving the form records every first answer too; this one is personalisation's
    changes = [e for e in api.audit(subject=pseudonym)
               if e["action"] == "consent.change" and e["detail"]["purpose"] == "personalisation"]
    assert changes[-1]["detail"]["to"] == "withdrawn" and changes[-1]["actor_role"] == "citizen"

    page.goto("/portal/consent")  # put it back for the other tests
    page.check("#personalisation")
    page.get_by_role("button", name="Save your choices").click()
    page.goto("/portal")
    assert page.locator(".govuk-tag", has_text="Personalised").first.is_visible()


def test_your_data_page_and_json_download(page, sign_in, shoot, assert_accessible, api):
    sign_in("citizen")
    page.goto("/portal/data")
    assert page.get_by_role("heading", name="About you", exact=True).is_visible()
    assert page.locator("dl.govuk-summary-list").first.inner_text().count("Age band") == 1
    assert page.get_by_role("heading", name="Services you use", exact=True).is_visible()
    assert not HEX64.search(page.locator("main").inner_text()), "the page shows a pseudonym"
    assert_accessible()
    shoot()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download your data (JSON)").click()
    assert download.value.suggested_filename == "your-signpost-data.json"
    data = json.loads(open(download.value.path(), encoding="utf-8").read())
    own = {data["pseudonym"], data["record"].get("household")}
    assert set(HEX64.findall(json.dumps(data))) <= own, "the download names someone else"
    assert data["history"] and data["consents"] and data["suggestions"]
    assert any(e["action"] == "subject_access" for e in api.audit(subject=data["pseudonym"]))


@pytest.mark.parametrize("path", ["/workspace", "/analyst", "/workspace/households/" + "0" * 64])
def test_a_citizen_cannot_open_staff_pages(page, sign_in, path):
    sign_in("citizen-private")
    response = page.goto(path)
    assert response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "You cannot see this page"


def test_the_portal_works_without_javascript(no_js_page, shoot):
    page = no_js_page
    page.goto("/sign-in")
    page.check("input[name=persona][value='citizen']")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/portal$"))
    assert "js-enabled" not in (page.locator("body").get_attribute("class") or "")
    first = page.locator("#suggestions > li").first
    service_id = first.get_attribute("id").removeprefix("service-")
    first.get_by_role("button", name=re.compile("^Not for me")).click()
    expect(page.locator(".govuk-notification-banner")).to_be_visible()
    expect(page.locator(f"#service-{service_id}")).to_have_count(0)
    page.goto("/portal/consent")
    page.get_by_role("button", name="Save your choices").click()
    assert "saved" in page.locator(".govuk-notification-banner").inner_text()
    shoot("portal-no-javascript", tab=page)
