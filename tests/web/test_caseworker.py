"""The caseworker workspace: caseload by priority, a household's indicator, decisions, audit."""

from __future__ import annotations

import re

import httpx
import pandas as pd
import pytest
from playwright.sync_api import expect

from features.pseudonym import pseudonymise

BAND_ORDER = {"High": 0, "Medium": 1, "Low": 2, "No indicator": 3}
HOUSEHOLD_LINK = re.compile(r"/workspace/households/([0-9a-f]{64})$")


def open_caseload(page, sign_in) -> list[tuple[str, str]]:
    """Sign in as the demo caseworker; (household pseudonym, band) per caseload row, in order."""
    sign_in("caseworker")
    assert page.url.endswith("/workspace")
    rows = page.locator("#caseload tbody tr")
    out = []
    for i in range(rows.count()):
        href = rows.nth(i).locator("a").get_attribute("href")
        out.append((HOUSEHOLD_LINK.search(href).group(1), rows.nth(i).locator(".signpost-band").inner_text()))
    return out


def assert_reflows(page) -> None:
    """WCAG 1.4.10: nothing scrolls sideways, down to 320 px."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} is {width}px wide at {page.viewport_size['width']}px"


def caseworker_id(api) -> str:
    views = [e for e in api.audit() if e["action"] == "caseload.view"]
    return views[-1]["actor"]


def members(site, household: str) -> list[str]:
    citizens = pd.read_parquet(site.processed / "citizens.parquet", columns=["pseudonym", "household"])
    return citizens.loc[citizens["household"] == household, "pseudonym"].tolist()


def test_caseload_is_ordered_by_suggested_priority(page, sign_in, shoot, assert_accessible, api):
    before = max((e["seq"] for e in api.audit()), default=0)
    rows = open_caseload(page, sign_in)
    assert len(rows) >= 2
    ranks = [BAND_ORDER[band] for _, band in rows]
    assert ranks == sorted(ranks), f"bands out of priority order: {[b for _, b in rows]}"
    priorities = page.locator("#caseload tbody tr td:first-child").all_inner_texts()
    assert priorities == [str(i) for i in range(1, len(rows) + 1)]
    assert "recorded in the audit trail" in page.locator(".govuk-warning-text").inner_text()
    assert any(e["action"] == "caseload.view" and e["seq"] > before for e in api.audit())
    assert_reflows(page)
    assert_accessible()
    shoot()


def test_household_page_shows_band_factors_and_interventions_and_is_audited(
    page, sign_in, shoot, assert_accessible, api, site
):
    rows = open_caseload(page, sign_in)
    household = next(h for h, band in rows if band != "No indicator")
    before = {p: len(api.audit(subject=p)) for p in members(site, household)}
    page.goto(f"/workspace/households/{household}")
    assert "This view is recorded in the audit trail" in page.locator("#audit-notice").inner_text()
    cards = page.locator(".govuk-summary-card")
    assert cards.count() >= 1
    shown = cards.locator(".govuk-summary-list .govuk-tag").all_inner_texts()
    assert set(shown) <= set(BAND_ORDER) and set(shown) - {"No indicator"}
    assert page.get_by_role("heading", name="What the indicator is based on").first.is_visible()
    assert page.get_by_role("heading", name="Suggested interventions").first.is_visible()
    after = {p: api.audit(subject=p) for p in before}
    viewed = [p for p in before if any(e["action"] == "early_help.view" for e in after[p][before[p]:])]
    assert viewed, "opening the household wrote no early_help.view audit entry"
    assert_reflows(page)
    assert_accessible()
    shoot()


def test_the_probability_is_shown_only_as_a_range_with_its_interval(page, sign_in, api, site):
    rows = open_caseload(page, sign_in)
    household = next(h for h, band in rows if band != "No indicator")
    page.goto(f"/workspace/households/{household}")
    text = page.locator("main").inner_text()
    assert "score" not in text.lower() and "risk" not in text.lower()
    assert "The indicator suggests a" in text
    # the calibrated probability the API gives a caseworker appears only rounded, inside its range
    raw = pd.read_csv(site.env["SIGNPOST_RAW_DIR"] + "/citizens.csv", dtype=str)["person_id"].dropna()
    raw_by_pseudonym = dict(zip(pseudonymise(raw.tolist(), site.env["SIGNPOST_PSEUDONYM_KEY"].encode(), "person"), raw,
                                strict=True))
    token = api.token("caseworker", caseworker_id(api))
    ranges = page.locator(".signpost-probability").all_inner_texts()
    seen = 0
    for child in members(site, household):
        answer = httpx.get(f"{site.url}/v1/citizens/{raw_by_pseudonym[child]}/early-help",
                           headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        if answer.get("available"):
            p = answer["probability"]
            for form in (f"{p:.3f}", f"{p:.4f}"):
                assert form not in text, f"the raw probability {p} appears on the page as {form}"
            shown = f"{p * 100:.0f}%" if p >= 0.01 else f"{p * 100:.1f}%"
            assert any(f"Calibrated probability {shown}." in r and "95% interval" in r for r in ranges), ranges
            seen += 1
    assert seen, "no child in the household had an indicator to compare with"
    assert len(page.locator(".signpost-band-meaning").all_inner_texts()) == seen
    assert len(page.locator(".signpost-capacity").all_inner_texts()) == seen


def test_the_screen_says_what_the_model_card_and_transparency_record_say(page, sign_in, shoot, assert_accessible):
    rows = open_caseload(page, sign_in)
    household = next(h for h, band in rows if band != "No indicator")
    page.goto(f"/workspace/households/{household}")
    on_household = set(page.locator(".signpost-band-meaning").all_inner_texts())
    on_household |= set(page.locator(".signpost-capacity").all_inner_texts())
    context = set(page.locator(".signpost-context-meaning").all_inner_texts())
    assert len(context) == 1, "household composition and age are not presented as context, in one sentence"
    on_household |= context
    page.get_by_role("link", name=re.compile("What the early-help indicator means")).click()
    expect(page).to_have_url(re.compile(r"/workspace/help$"))
    bands = page.locator("#band-meanings .govuk-summary-list__value").all_inner_texts()
    capacity = page.locator("#capacity-meaning").inner_text()
    assert len(bands) == 3 and capacity.startswith("In the last evaluation, of the")
    on_screen = {*bands, capacity, page.locator("#context-meaning").inner_text()}
    assert on_household <= on_screen, on_household - on_screen
    version = re.search(r"Model version: (\d+)", page.locator("main").inner_text()).group(1)
    assert_reflows(page)
    assert_accessible()
    shoot()

    sign_in("analyst")
    page.goto(f"/analyst/models/early-help/{version}")
    card = page.get_by_role("region", name="Model card").inner_text()
    page.locator("summary", has_text="Algorithmic transparency record").click()
    record = page.locator(".govuk-details__text.signpost-markdown").inner_text()
    for sentence in on_screen:
        assert sentence in card, f"the model card does not say: {sentence}"
        assert sentence in record, f"the transparency record does not say: {sentence}"


def test_a_decision_needs_a_reason_and_is_recorded(page, sign_in, shoot, assert_accessible, api):
    rows = open_caseload(page, sign_in)
    for household, band in rows:
        page.goto(f"/workspace/households/{household}")
        if page.locator("form[action$='/decisions']").count():
            break
    else:
        pytest.fail("no household on the caseload has a suggested intervention to decide on")
    intervention = page.locator(".signpost-intervention").first
    intervention.locator(".govuk-details__summary").click()  # the form is folded away until needed
    form = intervention.locator("form[action$='/decisions']")
    child = form.locator("input[name=child]").get_attribute("value")
    service_id = form.locator("input[name=service_id]").get_attribute("value")
    form.locator("input[value=offered_declined]").check()
    form.get_by_role("button", name=re.compile("^Record decision")).click()
    summary = page.locator(".govuk-error-summary")
    assert "needs a reason" in summary.inner_text()
    assert page.title().startswith("Error:")
    assert_accessible()
    shoot("decision-needs-reason")

    form = page.locator(f"form:has(input[name=child][value='{child}']):has(input[value='{service_id}'])")
    assert form.locator("input[value=offered_declined]").is_checked()  # the answer was kept, the form open
    form.locator("textarea[name=reason]").fill("Family already supported by the school nurse")
    form.get_by_role("button", name=re.compile("^Record decision")).click()
    assert "Decision recorded" in page.locator(".govuk-notification-banner--success").inner_text()
    assert_reflows(page)
    decisions = [e for e in api.audit(subject=child) if e["action"] == "early_help.decision"]
    assert decisions[-1]["detail"] == {"service_id": service_id, "decision": "offered_declined"}
    card = page.locator(".govuk-summary-card", has=page.locator(f"input[name=child][value='{child}']")).first
    assert "Offered, and the family declined" in card.locator(".signpost-history").inner_text()
    assert_accessible()
    shoot("decision-recorded")


def test_a_disagreement_shows_in_history_caseload_and_analyst_rate(page, sign_in, shoot, assert_accessible, api):
    rows = open_caseload(page, sign_in)
    household = next(h for h, band in rows if band != "No indicator")
    page.goto(f"/workspace/households/{household}")
    disagree = page.locator(".signpost-disagree").first
    disagree.locator(".govuk-details__summary").click()
    form = disagree.locator("form")
    child = form.locator("input[name=child]").get_attribute("value")
    form.get_by_role("button", name=re.compile("^Record disagreement")).click()
    assert "needs a reason" in page.locator(".govuk-error-summary").inner_text()
    form = page.locator(".signpost-disagree form", has=page.locator(f"input[name=child][value='{child}']"))
    reason = f"The school reports steady attendance since September ({page.viewport_name})"
    form.locator("textarea[name=reason]").fill(reason)
    form.get_by_role("button", name=re.compile("^Record disagreement")).click()
    assert "disagreement with the indicator is recorded" in page.locator(".govuk-notification-banner--success").inner_text()
    card = page.locator(".govuk-summary-card", has=page.locator(f"input[name=child][value='{child}']")).first
    history = card.locator(".signpost-history").inner_text()
    assert "I disagree with the indicator" in history and reason in history
    assert f"By {caseworker_id(api)}" in history
    assert_reflows(page)
    assert [e for e in api.audit(subject=child) if e["action"] == "early_help.decision"][-1]["detail"] == {
        "decision": "disagree", "service_id": None}
    assert_accessible()
    shoot("disagreement-history")

    page.goto("/workspace")
    row = page.locator("#caseload tbody tr", has=page.locator(f"a[href$='{household}']"))
    assert "Latest: I disagree with the indicator" in row.locator(".signpost-review").inner_text()
    assert_reflows(page)
    shoot("caseload-reviewed")

    sign_in("analyst")
    page.goto("/analyst")
    rates = page.locator("#decision-rates")
    disagreement = rates.locator("td[data-label='Disagreement rate']").all_inner_texts()
    assert disagreement and any(text != "0%" for text in disagreement)
    assert_accessible()
    shoot("analyst-disagreement-rate")


def test_a_household_off_the_caseload_is_refused(page, sign_in, shoot, assert_accessible, site):
    sign_in("caseworker")
    caseloads = pd.read_parquet(site.processed / "caseloads.parquet")
    citizens = pd.read_parquet(site.processed / "citizens.parquet", columns=["household"])
    elsewhere = sorted(set(citizens["household"].dropna()) - set(caseloads["household"]))[0]
    response = page.goto(f"/workspace/households/{elsewhere}")
    assert response.status == 403
    assert "not on an open caseload of yours" in page.locator("main").inner_text()
    assert_accessible()
    shoot()


@pytest.mark.parametrize("path", ["/portal", "/analyst"])
def test_a_caseworker_cannot_open_other_areas(page, sign_in, path):
    sign_in("caseworker")
    assert page.goto(path).status == 403


def test_a_malformed_household_link_is_a_page_not_found(page, sign_in):
    sign_in("caseworker")
    response = page.goto("/workspace/households/not-a-household")
    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"


def test_a_family_is_found_by_council_reference_only_on_the_caseload(page, sign_in, shoot, assert_accessible, site):
    rows = open_caseload(page, sign_in)
    household = rows[0][0]
    raw = pd.read_csv(site.env["SIGNPOST_RAW_DIR"] + "/citizens.csv", dtype=str).dropna(subset=["household_id"])
    raw["household"] = pseudonymise(raw["household_id"].tolist(), site.env["SIGNPOST_PSEUDONYM_KEY"].encode(),
                                    "household")
    mine = raw.loc[raw["household"] == household, "person_id"].iloc[0]
    elsewhere = raw.loc[~raw["household"].isin([h for h, _ in rows]), "person_id"].iloc[0]
    page.get_by_label("Find a family by council reference").fill(mine)
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(rf"/workspace/households/{household}(#.*)?$"))
    assert mine not in page.locator("main").inner_text()
    page.goto("/workspace")
    page.get_by_label("Find a family by council reference").fill(elsewhere)
    page.get_by_role("button", name="Find").click()
    assert "No family with that reference is on your open caseload" in page.locator(".govuk-error-summary").inner_text()
    assert elsewhere not in page.content()
    assert_reflows(page)
    assert_accessible()
    shoot()


def test_a_parent_asks_for_a_review_and_the_caseworker_sees_it(page, sign_in, shoot, assert_accessible, site, api):
    rows = open_caseload(page, sign_in)
    household = next(h for h, band in rows if band != "No indicator")
    citizens = pd.read_parquet(site.processed / "citizens.parquet").set_index("pseudonym")
    adults = set(citizens[(citizens["household"] == household) & (citizens["age_min"] >= 18)].index)
    raw = pd.read_csv(site.env["SIGNPOST_RAW_DIR"] + "/citizens.csv", dtype=str)["person_id"].dropna().tolist()
    pseudonyms = pseudonymise(raw, site.env["SIGNPOST_PSEUDONYM_KEY"].encode(), "person")
    parent = next(r for r, p in zip(raw, pseudonyms, strict=True) if p in adults)
    page.context.add_cookies([{"name": "signpost_session", "value": api.token("citizen", parent), "url": site.url}])
    page.goto("/portal/data")
    section = page.locator("#early-help-status")
    assert "Who can see it" in section.inner_text() and "Indicator held" in section.inner_text()
    note = f"We have moved and the school knows us well ({page.viewport_name})"
    form = section.locator("form").first
    form.locator("textarea[name=note]").fill(note)
    form.get_by_role("button", name=re.compile("^Ask for a review")).click()
    assert "your request for a review is recorded" in page.locator("#review-asked").inner_text()
    assert_reflows(page)
    assert_accessible()
    shoot("parent-asks-for-review")

    sign_in("caseworker")
    row = page.locator("#caseload tbody tr", has=page.locator(f"a[href$='{household}']"))
    assert "Review requested" in row.inner_text()
    page.goto(f"/workspace/households/{household}")
    assert note in page.locator("#review-requests").inner_text()
    assert_reflows(page)
    assert_accessible()
    shoot("caseworker-sees-review")
