"""The resident portal's newer pages and the public pages, in chromium at 320, 390 and 1280 px.

Exit this page, choices that show what is in force (every purpose x state), the opt-in path
from the non-personalised list, finding, saving and undoing, the readable data page with its
correction request, and the privacy, transparency and accessibility pages without signing in.
Every test puts back what it changed, so the other tests see the personas as seeded.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

PURPOSES = ("personalisation", "early_intervention", "research")
EXIT_PAGE = "https://www.bbc.co.uk/weather"


def _save_choices(page, answers: dict[str, str]) -> None:
    page.goto("/portal/consent")
    for purpose, answer in answers.items():
        page.check(f"#{purpose}" if answer == "yes" else f"#{purpose}-no")
    page.get_by_role("button", name="Save your choices").click()
    page.wait_for_load_state()


def _in_force(page, purpose: str) -> tuple[str, str, str]:
    row = page.locator(f"#now-{purpose}")
    return row.get_attribute("data-allowed"), row.get_attribute("data-source"), row.inner_text()


def test_exit_this_page_is_on_every_portal_page(page, sign_in, shoot, assert_accessible):
    # the neutral site is off the loopback network: answer it here, as the real one would load
    page.route(f"{EXIT_PAGE}**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!DOCTYPE html><title>Weather</title><p>Weather</p>"))
    sign_in("citizen")
    for path in ("/portal", "/portal/services", "/portal/saved", "/portal/consent", "/portal/data"):
        page.goto(path)
        button = page.locator(".govuk-exit-this-page__button")
        assert button.count() == 1 and button.is_visible(), path
        assert button.get_attribute("href") == EXIT_PAGE
    assert_accessible()
    page.goto("/portal")
    page.locator(".govuk-exit-this-page__button").click()
    page.wait_for_url(f"{EXIT_PAGE}**")
    assert page.title() == "Weather"
    page.goto("/portal")  # pressing Shift three times leaves too (GOV.UK Frontend's keyboard shortcut)
    page.locator("h1").click()
    for _ in range(3):
        page.keyboard.press("Shift")
    page.wait_for_url(f"{EXIT_PAGE}**")
    page.goto("/privacy")
    assert page.locator(".govuk-exit-this-page").count() == 0  # only the portal's pages
    page.goto("/portal")
    shoot("exit-this-page")


def test_every_choice_shows_what_is_in_force_and_why(page, sign_in, shoot, assert_accessible):
    sign_in("citizen")
    page.goto("/portal/consent")
    assert page.get_by_role("heading", level=1).inner_text() == "Your choices about your data"
    assert page.title().startswith("Your choices about your data")
    main = page.locator("main").inner_text().lower()
    assert "opt-in" not in main and "public task" not in main and "opt-out" not in main
    before = {p: _in_force(page, p) for p in PURPOSES}
    for purpose, (allowed, source, words) in before.items():
        assert page.locator(f"#{purpose}" if allowed == "yes" else f"#{purpose}-no").is_checked()
        assert ("You have not told us" in words) == (source == "default")
    assert_accessible()
    shoot("choices")
    for purpose in PURPOSES:
        for answer in ("no", "yes"):
            _save_choices(page, {purpose: answer})
            assert "Your choices have been saved" in page.locator(".govuk-notification-banner").inner_text()
            allowed, source, words = _in_force(page, purpose)
            assert (allowed, source) == (answer, "choice"), (purpose, answer)
            assert "You chose this online on" in words
            assert page.locator(f"#{purpose}" if answer == "yes" else f"#{purpose}-no").is_checked()
    shoot("choices-saved")
    _save_choices(page, {p: before[p][0] for p in PURPOSES})  # as they were
    page.goto("/portal/data")
    assert "Your choices about your data" in page.locator("main").inner_text()


def test_the_non_personalised_list_leads_to_a_clear_choice(page, sign_in, shoot, assert_accessible):
    sign_in("citizen-private")
    panel = page.locator("#opt-in")
    assert panel.is_visible()
    text = panel.inner_text()
    assert "Libraries" in text and "We would not use" in text and "Police" in text
    assert_accessible()
    shoot("opt-in")
    panel.get_by_role("link", name=re.compile("Choose whether to share your data")).click()
    expect(page).to_have_url(re.compile(r"/portal/consent#personalisation$"))
    _save_choices(page, {"personalisation": "yes"})
    page.goto("/portal")
    assert page.locator("#opt-in").count() == 0
    assert "not agreed to personalisation" not in page.locator("#list-notice").inner_text()
    _save_choices(page, {"personalisation": "no"})  # as it was
    page.goto("/portal")
    assert page.locator("#opt-in").is_visible()


def test_find_a_service_save_it_and_print_the_list(page, sign_in, shoot, assert_accessible):
    sign_in("citizen")
    page.goto("/portal/services")
    categories = page.locator("#categories a")
    assert categories.count() >= 3
    assert_accessible()
    shoot("find-a-service")
    categories.first.click()
    results = page.locator("#results > li")
    expect(results.first).to_be_visible()
    flags = results.evaluate_all("items => items.map(i => i.dataset.eligible)")
    assert flags == sorted(flags, reverse=True)  # the ones for you first
    assert page.locator("#results .govuk-tag", has_text="Not for your age or area").count() == flags.count("no")
    page.goto("/portal/services")  # a search within the category would keep it: search everything
    page.fill("#words", "library")
    page.get_by_role("button", name="Search").click()
    assert "library" in page.locator("#results-heading").inner_text().lower()
    shoot("search")
    first = page.locator("#results > li[data-eligible=yes]").first
    name = first.locator("h3").inner_text()
    first.locator("h3 a").click()
    assert page.get_by_role("heading", level=1).inner_text() == name
    assert page.get_by_role("heading", name="How to get this service").is_visible()
    assert_accessible()
    shoot("service-page")
    if page.get_by_role("button", name="Remove from your list").count():
        page.get_by_role("button", name="Remove from your list").click()
    page.get_by_role("button", name="Save to your list").click()
    assert "Saved to your list" in page.locator(".govuk-notification-banner").inner_text()
    page.goto("/portal/saved")
    assert page.locator("#saved-list > li", has_text=name).count() == 1
    page.emulate_media(media="print")
    assert not page.locator(".govuk-service-navigation").is_visible()
    assert not page.locator(".govuk-exit-this-page").is_visible()
    assert page.locator("#saved-list").is_visible()
    shoot("saved-print")
    page.emulate_media(media="screen")
    assert_accessible()
    shoot("saved")
    page.locator("#saved-list > li", has_text=name).get_by_role("button", name=re.compile("^Remove")).click()
    assert f"Removed {name} from your list" in page.locator(".govuk-notification-banner").inner_text()


def test_not_for_me_can_be_undone(page, sign_in, shoot, assert_accessible):
    sign_in("citizen")
    first = page.locator("#suggestions > li").first
    service_id = first.get_attribute("id").removeprefix("service-")
    name = first.locator("h2").inner_text()
    first.get_by_role("button", name=re.compile("^Not for me")).click()
    hidden = page.locator("#hidden-services li", has_text=name)
    expect(hidden).to_have_count(1)
    expect(page.locator(f"#service-{service_id}")).to_have_count(0)
    shoot("not-for-me-undo")
    hidden.get_by_role("button", name=re.compile("^Undo")).click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(f"We may suggest {name} again")
    expect(page.locator(f"#service-{service_id}")).to_have_count(1)
    assert_accessible()


def test_show_why_asks_the_server_for_one_full_reason(page, sign_in):
    sign_in("citizen")
    first = page.locator("#suggestions > li").first
    service_id = first.get_attribute("id").removeprefix("service-")
    link = first.get_by_role("link", name=re.compile("^Show why in full"))
    assert link.count() == 1
    link.click()
    expect(page).to_have_url(re.compile(rf"[?&]why={re.escape(service_id)}\b"))
    expect(page.locator(f"#service-{service_id}").get_by_role("link", name=re.compile("^Hide the full reason"))
           ).to_have_count(1)


def test_your_data_reads_as_a_page_and_takes_a_correction(page, sign_in, shoot, assert_accessible):
    sign_in("citizen")
    page.goto("/portal/data")
    for heading in ("About you", "Who told us about you", "Services you use", "Your choices about your data",
                    "Early help for your family", "Suggestions we made", "Services you saved", "Is something wrong?"):
        assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
    assert page.locator("#early-help-status").is_visible()
    assert page.get_by_role("button", name="Download your data (JSON)").is_visible()
    assert_accessible()
    shoot("your-data")
    page.check("#about-services")
    page.fill("#message", "I stopped using the leisure centre last year.")
    page.get_by_role("button", name="Send your request").click()
    assert "We have your request" in page.locator(".govuk-notification-banner").inner_text()
    assert "I stopped using the leisure centre last year." in page.locator("#data-corrections").inner_text()
    assert_accessible()


def test_public_pages_without_signing_in(page, shoot, assert_accessible):
    page.context.clear_cookies()
    page.goto("/privacy")
    assert page.get_by_role("heading", level=1).inner_text() == "Privacy notice"
    main = page.locator("main").inner_text()
    for needed in ("data controller", "data protection officer", "Information Commissioner's Office",
                   "How long we keep it", "Your rights", "fictional"):
        assert needed in main, needed
    assert page.locator("#sharing-policy tbody tr").count() >= 10
    assert_accessible()
    shoot("privacy")
    page.goto("/transparency")
    records = page.locator("section[id^=record-]")
    assert records.count() == 2
    early_help = page.locator("#record-early-help").inner_text()
    assert "is in use" in early_help and "algorithmic transparency record" in early_help.lower()
    assert_accessible()
    shoot("transparency")
    page.goto("/accessibility")
    for heading in ("Feedback and contact information", "Reporting accessibility problems with this website",
                    "Enforcement procedure", "Compliance status"):
        assert page.get_by_role("heading", name=heading).is_visible(), heading
    assert_accessible()
    shoot("accessibility")
    footer = page.locator("footer")
    for link in ("Privacy notice", "How the models work", "Accessibility statement"):
        assert footer.get_by_role("link", name=link).is_visible()
