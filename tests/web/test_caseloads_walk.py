"""Every household of every caseload, as each caseworker's pages show it (the models trained by
the real `signpost train`): no factor or reason names a supportive service as raising the
indicator, no reason names a sensitive service, and no intervention is outside the child's age
range. Plain HTTP, no browser: the pages' data attributes say which child and service is which."""

from __future__ import annotations

import html
import re
from datetime import date

import httpx
import pandas as pd

HOUSEHOLD_LINK = re.compile(r'href="/workspace/households/([0-9a-f]{64})"')
CHILD = re.compile(r'<section class="govuk-summary-card signpost-child"[^>]*data-child="([0-9a-f]{64})">(.*?)</section>',
                   re.DOTALL)
FACTOR = re.compile(r'data-direction="(raises|lowers)"><span class="signpost-factor-text">(.*?)</span>', re.DOTALL)
INTERVENTION = re.compile(r'data-service-id="([^"]+)">.*?<span class="signpost-reason">(.*?)</span>', re.DOTALL)
SUPPORT = re.compile(r'class="govuk-summary-list__row signpost-support" data-service-id="([^"]+)">.*?'
                     r'<p class="govuk-body govuk-!-margin-bottom-1">(.*?)</p>.*?<span class="signpost-reason">(.*?)</span>',
                     re.DOTALL)


def test_every_household_of_every_caseload(site, api):
    processed = site.processed
    services = pd.read_parquet(processed / "services.parquet").set_index("service_id")
    citizens = pd.read_parquet(processed / "citizens.parquet").set_index("pseudonym")
    caseloads = pd.read_parquet(processed / "caseloads.parquet")
    today = pd.Timestamp(date.today())
    open_rows = caseloads[caseloads["end_date"].isna() | (pd.to_datetime(caseloads["end_date"]) >= today)]
    concern = services["early_help_indicator"].fillna(False).astype(bool)
    supportive = [n for n in services.loc[~concern, "name"].astype(str) if len(n) > 6]
    sensitive = [n for n in services.loc[services["sensitive"].fillna(False).astype(bool), "name"].astype(str)]
    households = children = interventions = support = 0
    for caseworker in sorted(open_rows["caseworker_id"].unique()):
        cookies = {"signpost_session": api.token("caseworker", caseworker)}
        with httpx.Client(base_url=site.url, cookies=cookies, timeout=60) as client:
            caseload = client.get("/workspace")
            assert caseload.status_code == 200
            for household in dict.fromkeys(HOUSEHOLD_LINK.findall(caseload.text)):
                page = client.get(f"/workspace/households/{household}")
                assert page.status_code == 200, page.text[:500]
                households += 1
                for child, card in CHILD.findall(page.text):
                    children += 1
                    low, high = citizens.at[child, "age_min"], citizens.at[child, "age_max"]
                    for direction, text in FACTOR.findall(card):
                        text = html.unescape(text)
                        if direction == "raises":
                            named = [n for n in supportive if n in text]
                            assert not named, f"a supportive service raises the indicator: {text!r}"
                    for service_id, reason in INTERVENTION.findall(card):
                        interventions += 1
                        reason = html.unescape(reason)
                        service = services.loc[service_id]
                        assert bool(service["intervention"])
                        if pd.notna(service["min_age"]):
                            assert low >= service["min_age"], f"{service['name']} is for {service['min_age']}+"
                        if pd.notna(service["max_age"]):
                            assert high <= service["max_age"], f"{service['name']} is for up to {service['max_age']}"
                        assert reason.startswith("Addresses ") and "behind: " in reason
                        assert not [n for n in supportive if n in reason], reason
                        assert not [n for n in sensitive if n in reason], f"a reason names a sensitive service: {reason}"
                for service_id, whom, reason in SUPPORT.findall(page.text):
                    support += 1
                    reason = html.unescape(reason)
                    assert re.match(r"For (an adult|an older person|a child|another member)", html.unescape(whom))
                    assert not re.search(r"[0-9a-f]{16}", whom)
                    assert not [n for n in sensitive if n in reason], f"a reason names a sensitive service: {reason}"
    assert households and children, "the walk found no household with children"
    assert interventions, "no intervention was suggested anywhere: nothing was checked"
    print(f"walked {households} households, {children} children, {interventions} interventions, "
          f"{support} household-level suggestions")
