"""The caseworker's workspace through the real app: decisions with reasons, each child's history,
the caseload's reviewed state, and the analyst's disagreement and override rates."""

from __future__ import annotations

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
