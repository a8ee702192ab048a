"""The citizen portal and the public pages through the real app and database (no browser).

The browser tests (tests/web/test_portal.py) drive the same pages in chromium; these check
what is stored, audited, listed in subject access and removed by erasure.
"""

from __future__ import annotations

import re
from html import unescape

import pandas as pd

from serving.domain.auth import issue_for
from serving.http.deps import SESSION_COOKIE
from serving.http.web import csrf


def _signed_in(client, settings, person_id: str) -> None:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, issue_for(settings, role="citizen", subject=person_id))


def _post(client, page_path: str, action: str, fields: dict[str, str]):
    """Submit a form as a browser would: the CSRF token comes from the page that shows it."""
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    token = re.search(rf'name="{csrf.FIELD}" value="([^"]+)"', page.text).group(1)
    return client.post(action, data={csrf.FIELD: token, **fields}, follow_redirects=False)


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _services(world) -> pd.DataFrame:
    return pd.read_parquet(world.county.processed / "services.parquet").set_index("service_id", drop=False)


def test_every_portal_page_has_exit_this_page_and_one_name_for_the_consent_page(service, world):
    client, _, settings = service
    _signed_in(client, settings, world.people.citizen)
    for path in ("/portal", "/portal/consent", "/portal/data", "/portal/services", "/portal/saved",
                 "/portal/services?words=library"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert 'data-module="govuk-exit-this-page"' in page.text, path
        assert settings.exit_page_url in page.text
        assert "Your choices about your data" in page.text, path  # menu and footer
        assert "Your consent" not in page.text and "How we use your data" not in page.text
    consent = client.get("/portal/consent").text
    assert "<title>Your choices about your data – Signpost</title>" in consent
    assert '<h1 class="govuk-heading-l">Your choices about your data</h1>' in consent
    for jargon in ("opt-in", "opt-out", "public task"):
        assert jargon not in _text(consent).lower()
    assert 'govuk-exit-this-page' not in client.get("/privacy").text  # only on portal pages


def _now(page_html: str, purpose: str) -> tuple[str, str, str]:
    row = re.search(rf'id="now-{purpose}" data-allowed="(yes|no)" data-source="(default|choice)"(.*?)</div>',
                    page_html, re.DOTALL)
    return row.group(1), row.group(2), _text(row.group(3))


def _checked(page_html: str, purpose: str) -> str:
    yes = re.search(rf'id="{purpose}" name="{purpose}" type="radio" value="yes"( checked)?', page_html)
    return "yes" if yes.group(1) else "no"


def test_consent_page_shows_the_state_in_force_and_where_it_comes_from(service, world):
    """Each purpose: default first (with why), then the person's own answer — including an
    answer that agrees with the default, which used to leave "you have not told us"."""
    client, tokens, settings = service
    person = world.people.other_citizen
    _signed_in(client, settings, person)
    page = client.get("/portal/consent").text
    ledger = {p["purpose"]: p for p in client.get(
        f"/v1/citizens/{person}/consent", headers=tokens("citizen", person)).json()["purposes"]}
    for purpose, state in ledger.items():
        allowed, source, words = _now(page, purpose)
        assert allowed == ("yes" if state["allowed"] else "no")
        assert _checked(page, purpose) == allowed  # the radios match what is in force
        if state["status"] is None:
            assert source == "default" and "You have not told us" in words
    answers = {purpose: ("yes" if state["allowed"] else "no") for purpose, state in ledger.items()}  # the same
    saved = _post(client, "/portal/consent", "/portal/consent", answers)
    assert saved.status_code == 303
    after = client.get(saved.headers["location"]).text
    assert "Your choices have been saved" in after
    for purpose in ledger:
        allowed, source, words = _now(after, purpose)
        assert (allowed, source) == (answers[purpose], "choice")
        assert "You chose this online on" in words and "You have not told us" not in words
    flipped = {p: ("no" if a == "yes" else "yes") for p, a in answers.items()}
    _post(client, "/portal/consent", "/portal/consent", flipped)
    final = client.get("/portal/consent").text
    for purpose in ledger:
        assert _now(final, purpose)[0] == flipped[purpose] == _checked(final, purpose)


def test_the_non_personalised_list_explains_what_sharing_would_use(service, world):
    client, tokens, settings = service
    person = world.people.other_citizen
    client.put(f"/v1/citizens/{person}/consent", headers=tokens("citizen", person),
               json={"purpose": "personalisation", "status": "withdrawn"})
    _signed_in(client, settings, person)
    page = client.get("/portal").text
    panel = _text(page[page.index('id="opt-in"'):page.index('id="suggestions"')])
    assert 'href="/portal/consent#personalisation"' in page
    for shared in ("Libraries", "NHS"):
        assert shared in panel
    assert "We would not use" in panel and "Police" in panel and "Schools" in panel


def test_saved_services_undo_and_corrections_are_stored_listed_and_erased(service, world):
    client, tokens, settings = service
    person = world.people.citizen
    _signed_in(client, settings, person)
    first = re.search(r'id="service-([^"]+)"', client.get("/portal").text).group(1)
    assert _post(client, "/portal", "/portal/saved",
                 {"service_id": first, "change": "save", "back": "services"}).status_code == 303
    saved_page = client.get("/portal/saved").text
    assert f'id="saved-{first}"' in saved_page
    # Not for me, then undo: the service may be suggested again
    _post(client, "/portal", "/portal/feedback", {"service_id": first, "decision": "not_for_me"})
    assert f'id="service-{first}"' not in client.get("/portal").text.split('id="not-for-me"')[0]
    undone = _post(client, "/portal", "/portal/not-for-me/undo", {"service_id": first})
    assert undone.status_code == 303
    assert "We may suggest" in client.get(undone.headers["location"]).text
    assert f'id="service-{first}"' in client.get("/portal").text
    # something is wrong
    asked = _post(client, "/portal/data", "/portal/data/correction",
                  {"about": "record", "message": "My age band is wrong"})
    assert asked.status_code == 303
    data_page = _text(client.get("/portal/data").text)
    assert "My age band is wrong" in data_page and "We have your request" not in data_page
    admin = tokens("admin", "admin-1")
    listed = client.get("/v1/correction-requests", headers=admin).json()["requests"]
    assert [(r["about"], r["message"]) for r in listed] == [("record", "My age band is wrong")]
    assert client.get("/v1/correction-requests", headers=tokens("caseworker", world.people.caseworker)).status_code == 403
    trail = client.get("/v1/audit?limit=500", headers=admin).json()["entries"]
    asked_entry = [e for e in trail if e["action"] == "correction.request"]
    assert len(asked_entry) == 1 and "age band" not in str(asked_entry)  # the words stay out of the trail
    assert any(e["action"] == "corrections.read" for e in trail)
    # the sensitive-suggestion setting: off by default, stored when chosen
    assert 'id="sensitive_suggestions-no" name="sensitive_suggestions" type="radio" value="no" checked' in \
        client.get("/portal/consent").text
    _post(client, "/portal/consent", "/portal/preferences", {"sensitive_suggestions": "yes"})
    held = client.get(f"/v1/citizens/{person}/data", headers=tokens("citizen", person)).json()
    assert held["preferences"]["sensitive_suggestions"] is True
    assert [s["service_id"] for s in held["saved_services"]] == [first]
    assert held["correction_requests"][0]["message"] == "My age band is wrong"
    erased = client.delete(f"/v1/citizens/{person}", headers=admin)
    assert erased.status_code == 200, erased.text
    removed = erased.json()["removed"]
    assert removed["saved_services"] == 1 and removed["correction_requests"] == 1
    assert removed["citizen_preferences"] == 1
    assert client.get("/v1/correction-requests", headers=admin).json()["requests"] == []


def test_find_a_service_marks_what_the_person_cannot_use(service, world):
    client, _, settings = service
    _signed_in(client, settings, world.people.citizen)
    catalogue = _services(world)
    active = catalogue[catalogue["active"].astype(bool)]
    category = active["category"].value_counts().index[0]
    page = client.get("/portal/services", params={"category": category}).text
    shown = re.findall(r'id="service-([^"]+)" data-eligible="(yes|no)"', page)
    assert {sid for sid, _ in shown} == set(active.index[active["category"] == category])
    marks = [flag for _, flag in shown]
    assert marks == sorted(marks, reverse=True)  # eligible first
    assert page.count("Not for your age or area") == marks.count("no")
    sensitive = active[active["sensitive"].astype(bool)]
    if len(sensitive):  # sensitive services are found by search, though never suggested unprompted
        name = sensitive["name"].iloc[0]
        found = client.get("/portal/services", params={"words": name}).text
        assert f'id="service-{sensitive.index[0]}"' in found
    words = client.get("/portal/services", params={"words": "zzzz-no-such-service"}).text
    assert "No services match" in words


def test_a_service_page_says_how_to_get_in_touch(service, world):
    client, _, settings = service
    _signed_in(client, settings, world.people.citizen)
    catalogue = _services(world)
    with_phone = catalogue[catalogue["phone"].notna() & catalogue["url"].notna()]
    assert not with_phone.empty, "the synthetic catalogue publishes phone numbers and websites"
    row = with_phone.iloc[0]
    page = client.get(f"/portal/services/{row['service_id']}").text
    assert row["phone"] in page and 'href="tel:' in page
    assert "(opens the provider&#39;s website)" in page or "(opens the provider's website)" in page
    if isinstance(row.get("opening_hours"), str):
        assert unescape(row["opening_hours"]) in unescape(page)
    assert client.get("/portal/services/NO-SUCH").status_code == 404


def test_public_pages_need_no_sign_in(service, world):
    client, _, settings = service
    client.cookies.clear()
    privacy = client.get("/privacy")
    assert privacy.status_code == 200
    text = _text(privacy.text)
    for needed in (settings.controller_name, settings.dpo_email, "Information Commissioner", "0303 123 1113",
                   "Article 6(1)(a)", "Article 6(1)(e)", f"{settings.served_retention_days} days"):
        assert needed in text, needed
    table = privacy.text[privacy.text.index('id="sharing-policy"'):]
    rows = dict(re.findall(r'<th scope="row" class="govuk-table__header">([^<]+)</th>\s*'
                           r'<td class="govuk-table__cell">([^<]+)</td>', table))
    assert len(rows) == len(settings.sharing_policy)  # the policy in force, from configuration
    assert "Research and planning" not in unescape(rows["Police"]) and "Early help" in unescape(rows["Police"])
    assert "Research and planning" in unescape(rows["Libraries"])
    assert "fictional" in text.lower()
    statement = _text(client.get("/accessibility").text)
    for needed in ("Compliance status", "partially compliant", "Enforcement procedure",
                   "Equality Advisory and Support Service", settings.accessibility_contact_email,
                   "Reporting accessibility problems"):
        assert needed in statement, needed
    transparency = client.get("/transparency")
    assert transparency.status_code == 200
    words = _text(transparency.text)
    assert "Early-help indicator" in words and f"Version {world.early_help_version} is in use" in words
    # these test models were registered without records (the browser tests use `signpost train`'s)
    assert "No record was published for this version" in words
