"""The caseworker's workspace through the real app: decisions with reasons, each child's history,
the caseload's reviewed state, and the analyst's disagreement and override rates."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from features.pseudonym import pseudonymise

from .conftest import Tokens, running, service_settings

CSRF = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]+)">')


def signed_in(client, settings, role: str, subject: str) -> None:
    client.cookies.set("signpost_session", Tokens(settings)(role, subject)["Authorization"].split()[1])


def child_and_household(world) -> tuple[str, str]:
    child = pseudonymise([world.people.on_caseload], world.county.key.encode(), "person")[0]
    citizens = pd.read_parquet(world.county.processed / "citizens.parquet", columns=["pseudonym", "household"])
    return child, citizens.set_index("pseudonym").at[child, "household"]


def post_decision(client, household: str, **fields):
    page = client.get(f"/workspace/households/{household}")
    assert page.status_code == 200, page.text
    name, token = CSRF.search(page.text).groups()
    return client.post(f"/workspace/households/{household}/decisions", data={name: token, **fields},
                       follow_redirects=False)


@pytest.fixture
def workspace(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path, research_k_anonymity=1)
    with running(settings) as client:
        yield client, settings


def test_a_disagreement_needs_a_reason_and_shows_in_history_caseload_and_rates(workspace, world):
    client, settings = workspace
    child, household = child_and_household(world)
    signed_in(client, settings, "caseworker", world.people.caseworker)

    refused = post_decision(client, household, child=child, decision="disagree", reason="  ")
    assert refused.status_code == 400 and "needs a reason" in refused.text

    done = post_decision(client, household, child=child, decision="disagree",
                         reason="Known to the school nurse; the notification was about a neighbour")
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert "Your disagreement with the indicator is recorded" in page
    history = page[page.index("Decisions recorded"):]
    assert "I disagree with the indicator" in history and "about a neighbour" in history
    assert f"By {world.people.caseworker}," in history

    caseload = client.get("/workspace").text
    row = next(r for r in caseload.split("<tr") if household in r)
    assert "Reviewed" in row and "Latest: I disagree with the indicator" in row and "Not reviewed" not in row
    others = [r for r in caseload.split("<tr")[2:] if household not in r]
    assert all("Not reviewed" in r for r in others)

    signed_in(client, settings, "analyst", "analyst-1")
    overview = client.get("/analyst").text
    rates = overview[overview.index('id="decision-rates"'):]
    assert "Team (area)" in rates and "Ethnicity" in rates
    assert re.search(r'data-label="Disagreement rate">100%', rates)
    assert child not in overview and household not in overview


def test_an_intervention_decision_names_a_suggested_intervention(workspace, world):
    client, settings = workspace
    child, household = child_and_household(world)
    signed_in(client, settings, "caseworker", world.people.caseworker)
    no_service = post_decision(client, household, child=child, decision="not_offered_not_suitable",
                               reason="Not at this age")
    assert no_service.status_code == 400 and "choose the intervention" in no_service.text.lower()
    unknown = post_decision(client, household, child=child, decision="maybe", reason="r")
    assert unknown.status_code == 400
    intervention = pd.read_parquet(world.county.processed / "services.parquet")
    service_id = intervention.loc[intervention["intervention"].astype(bool), "service_id"].iloc[0]
    done = post_decision(client, household, child=child, decision="not_offered_already_supported",
                         service_id=service_id, reason="Already has a family support worker")
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert "Not offered: the family is already supported" in page
    audit = client.get("/v1/audit", params={"subject": child}, headers=Tokens(settings)("admin", "a-1")).json()
    decided = [e for e in audit["entries"] if e["action"] == "early_help.decision"]
    assert decided[-1]["detail"] == {"decision": "not_offered_already_supported", "service_id": service_id}


def test_small_groups_are_suppressed(world, database_url, tmp_path):
    settings = service_settings(world, database_url, tmp_path, research_k_anonymity=5)
    with running(settings) as client:
        child, household = child_and_household(world)
        signed_in(client, settings, "caseworker", world.people.caseworker)
        assert post_decision(client, household, child=child, decision="disagree", reason="r").status_code == 303
        signed_in(client, settings, "analyst", "analyst-1")
        rates = client.get("/analyst").text
        rates = rates[rates.index('id="decision-rates"'):]
        assert "suppressed (fewer than 5)" in rates and "100%" not in rates


def test_the_analyst_rates_are_refused_to_a_caseworker(workspace, world):
    client, settings = workspace
    signed_in(client, settings, "caseworker", world.people.caseworker)
    assert client.get("/analyst").status_code == 403


def find(client, reference: str):
    page = client.get("/workspace")
    name, token = CSRF.search(page.text).groups()
    return client.post("/workspace/find", data={name: token, "reference": reference}, follow_redirects=False)


def test_a_council_reference_finds_a_family_only_on_the_caseload(workspace, world):
    client, settings = workspace
    _, household = child_and_household(world)
    signed_in(client, settings, "caseworker", world.people.caseworker)
    found = find(client, world.people.on_caseload)
    assert found.status_code == 303 and found.headers["location"].startswith(f"/workspace/households/{household}")
    raw_households = pd.read_csv(world.county.raw / "citizens.csv", dtype=str)
    raw_household = raw_households.set_index("person_id").at[world.people.on_caseload, "household_id"]
    assert find(client, raw_household).headers["location"].startswith(f"/workspace/households/{household}")
    elsewhere, unknown = find(client, world.people.other_citizen), find(client, "NOT-A-REFERENCE-123")
    assert elsewhere.status_code == unknown.status_code == 404
    message = "No family with that reference is on your open caseload"
    assert message in elsewhere.text and message in unknown.text
    assert world.people.other_citizen not in elsewhere.text and "NOT-A-REFERENCE-123" not in unknown.text
    audit = client.get("/v1/audit", headers=Tokens(settings)("admin", "a-1")).json()["entries"]
    lookups = [e for e in audit if e["action"] == "caseload.lookup"]
    assert [e["detail"]["found"] for e in lookups] == [True, True, False, False]
    assert lookups[2]["subject"] is None and lookups[3]["subject"] is None


def test_a_parent_asks_for_a_review_and_the_caseworker_sees_it(workspace, world):
    client, settings = workspace
    _, household = child_and_household(world)
    citizens = pd.read_parquet(world.county.processed / "citizens.parquet").set_index("pseudonym")
    adults = set(citizens[(citizens["household"] == household) & (citizens["age_min"] >= 18)].index)
    raw = pd.read_csv(world.county.raw / "citizens.csv", dtype=str)["person_id"].dropna().tolist()
    pseudonyms = pseudonymise(raw, world.county.key.encode(), "person")
    parent = next(r for r, p in zip(raw, pseudonyms, strict=True) if p in adults)  # a token names the council id
    signed_in(client, settings, "citizen", parent)
    page = client.get("/portal/data")
    assert page.status_code == 200, page.text[-2000:]
    section = page.text[page.text.index('id="early-help"'):]
    assert "Indicator held" in section and "Who can see it" in section and "/portal/consent" in section
    name, token = CSRF.search(page.text).groups()
    asked = client.post("/portal/early-help/review", data={name: token, "child": "1", "note": "We moved house"},
                        follow_redirects=False)
    assert asked.status_code == 303
    assert "your request for a review is recorded" in client.get(asked.headers["location"]).text
    audit = client.get("/v1/audit", headers=Tokens(settings)("admin", "a-1")).json()["entries"]
    assert any(e["action"] == "early_help.review_requested" for e in audit)
    signed_in(client, settings, "caseworker", world.people.caseworker)
    row = next(r for r in client.get("/workspace").text.split("<tr") if household in r)
    assert "Review requested" in row
    page = client.get(f"/workspace/households/{household}").text
    assert "The family asked for a review" in page and "We moved house" in page


def parent_of(world, household: str) -> str:
    """The council reference of an adult of `household` (a citizen's token names it)."""
    citizens = pd.read_parquet(world.county.processed / "citizens.parquet").set_index("pseudonym")
    adults = set(citizens[(citizens["household"] == household) & (citizens["age_min"] >= 18)].index)
    raw = pd.read_csv(world.county.raw / "citizens.csv", dtype=str)["person_id"].dropna().tolist()
    pseudonyms = pseudonymise(raw, world.county.key.encode(), "person")
    return next(r for r, p in zip(raw, pseudonyms, strict=True) if p in adults)


@pytest.mark.parametrize("shown", ["by_source", "hidden", "with_concern"])
def test_subject_access_holds_the_familys_early_help_status(world, database_url, tmp_path, shown):
    """Issue 15: subject access (JSON and "Your data") says whether an indicator is held for the
    children, what it is based on (as the council's safeguarding lead decided the family sees it),
    who can see it, and the family's requests with where each stands."""
    settings = service_settings(world, database_url, tmp_path, research_k_anonymity=1,
                                early_help_family_factors=shown)
    child, household = child_and_household(world)
    parent = parent_of(world, household)
    services = pd.read_parquet(world.county.processed / "services.parquet")
    sensitive = services.loc[services["sensitive"].fillna(False).astype(bool), "name"].astype(str).tolist()
    with running(settings) as client:
        me = Tokens(settings)("citizen", parent)
        held = client.get("/v1/citizens/me/data", headers=me).json()["early_help"]
        assert held["factors_shown"] == shown and held["who_can_see"].startswith("Only the caseworkers")
        assert held["objected"] is False
        children = held["children"]
        assert children and [c["child"] for c in children] == list(range(1, len(children) + 1))
        indicated = [c for c in children if c["indicator_held"]]
        assert indicated, "no child of the caseload household has an indicator: nothing to check"
        records = []
        for c in indicated:
            assert c["based_on"]["context"], "household composition and age are not shown as context"
            if shown == "hidden":
                assert c["based_on"]["records"] is None and "safeguarding lead" in c["based_on"]["records_withheld"]
            else:
                records += c["based_on"]["records"]
        for text in records:
            assert not [n for n in sensitive if n in text], text
            if shown == "by_source":
                assert "concerning" not in text, f"the kind of concern is shown to the family: {text}"
        if shown != "hidden":
            assert records, "no factor was shown to the family: nothing to check"
        if shown == "with_concern":  # as the caseworker reads them
            signed_in(client, settings, "caseworker", world.people.caseworker)
            page = html.unescape(client.get(f"/workspace/households/{household}").text)
            on_page = {t.lower() for t in re.findall(r'<span class="signpost-factor-text">(.*?)</span>', page)}
            assert {t.lower() for t in records} <= on_page, (records, on_page)
        assert all(c["requests"] == [] for c in children)

        signed_in(client, settings, "citizen", parent)
        page = client.get("/portal/data").text
        name, token = CSRF.search(page).groups()
        asked = client.post("/portal/early-help/review", data={name: token, "child": "1", "note": "We moved house"},
                            follow_redirects=False)
        assert asked.status_code == 303
        first = client.get("/v1/citizens/me/data", headers=me).json()["early_help"]["children"][0]
        [request] = first["requests"]
        assert request["kind"] == "review" and request["note"] == "We moved house"
        assert request["state"] == "Waiting for the caseworker to look again"
        section = client.get("/portal/data").text.split('id="early-help"', 1)[1]
        assert "Waiting for the caseworker to look again" in section and "Also taken into account" in section
        assert ("signpost-family-factors" in section) and (("safeguarding lead" in section) == (shown == "hidden"))

        signed_in(client, settings, "caseworker", world.people.caseworker)
        number_one = first["age_band"]
        assert post_decision(client, household, child=_first_child(client, household), decision="disagree",
                             reason="We know the family; they moved").status_code == 303
        later = client.get("/v1/citizens/me/data", headers=me).json()["early_help"]["children"][0]
        assert later["age_band"] == number_one
        assert later["requests"][0]["state"].startswith("Answered: a caseworker recorded a decision on ")
    assert child  # the caseload person is in the county



def _first_child(client, household: str) -> str:
    """The pseudonym of the household's child numbered 1, as the caseworker's page numbers them."""
    page = client.get(f"/workspace/households/{household}").text
    return re.search(r'aria-labelledby="child-1-title" data-child="([0-9a-f]{64})"', page).group(1)
