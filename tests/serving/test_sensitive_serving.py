"""Sensitive services on the serving side, checked over every citizen of the generated county.

Through the real app (API and portal page) with every resident's "suggest services related to
sensitive services I use" switched on — the strongest case, since only the person's own page
may act on it:
- no sensitive service in any suggestion the API returns (to the person or to a caseworker);
- no sensitive service named in any reason a caseworker sees, nor in the reason the person's
  own page shows before they choose "show why";
- the portal's own page suggests a sensitive service only to someone who opted in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pandas as pd

from features.pseudonym import pseudonymise
from serving.domain.auth import Role, issue, signing_key
from serving.http.deps import SESSION_COOKIE
from serving.infra.tables import CitizenPreference

from .conftest import running, service_settings

WHY = re.compile(r"Why we suggest this:</span>(.*?)</p>", re.DOTALL)


def _named(text: str, names: list[str]) -> list[str]:
    return [name for name in names if name in text]


def test_no_sensitive_service_unprompted_and_none_named_to_staff(world, tmp_path):
    county = world.county
    services = pd.read_parquet(county.processed / "services.parquet").set_index("service_id", drop=False)
    sensitive_ids = set(services.index[services["sensitive"].astype(bool)])
    sensitive_names = sorted(services.loc[list(sensitive_ids), "name"].astype(str), key=len, reverse=True)
    assert sensitive_ids, "the generated catalogue has sensitive services"
    citizens = pd.read_parquet(county.processed / "citizens.parquet")
    pseudonyms = citizens["pseudonym"].tolist()

    settings = service_settings(world, f"sqlite:///{tmp_path / 'service.db'}", tmp_path,
                                people_per_hour=1_000_000, requests_per_minute=1_000_000)
    key = signing_key(settings)
    problems: list[str] = []
    with running(settings) as client:
        database = client.app.state.runtime.database
        with database.write_session() as session:  # every resident opted in: the API must still not act on it
            now = datetime.now(UTC)
            session.add_all([CitizenPreference(pseudonym=p, sensitive_suggestions=True, updated_at=now)
                             for p in pseudonyms])

        own_page_sensitive = 0
        for pseudonym in pseudonyms:
            token = issue(key, role=Role.citizen, subject=pseudonym, minutes=30)
            answer = client.get("/v1/citizens/me/recommendations", headers={"Authorization": f"Bearer {token}"})
            if answer.status_code != 200:
                problems.append(f"{pseudonym[:8]}: API {answer.status_code}")
                continue
            for item in answer.json()["recommendations"]:
                if item["service_id"] in sensitive_ids:
                    problems.append(f"{pseudonym[:8]}: API suggested sensitive {item['service_id']}")
                if _named(item["reason"], sensitive_names):
                    problems.append(f"{pseudonym[:8]}: API reason names {_named(item['reason'], sensitive_names)}")
            client.cookies.set(SESSION_COOKIE, token)
            page = client.get("/portal")
            client.cookies.clear()
            if page.status_code != 200:
                problems.append(f"{pseudonym[:8]}: portal {page.status_code}")
                continue
            own_page_sensitive += len(set(re.findall(r'id="service-([^"]+)"', page.text)) & sensitive_ids)
            for reason in WHY.findall(page.text):
                named = _named(unescape(reason), sensitive_names)
                if named:
                    problems.append(f"{pseudonym[:8]}: own page names {named} before \"show why\"")

        # caseworkers: every person on every open caseload, through the API
        raw = pd.read_csv(county.raw / "citizens.csv", dtype=str).dropna(subset=["person_id", "household_id"])
        caseloads = pd.read_csv(county.raw / "caseloads.csv", dtype=str)
        open_now = caseloads[caseloads["end_date"].isna() & (caseloads["start_date"] <= str(county.as_of))]
        known = set(pseudonyms)
        raw["pseudonym"] = pseudonymise(raw["person_id"].tolist(), county.key.encode(), "person")
        raw = raw[raw["pseudonym"].isin(known)].drop_duplicates("person_id", keep=False)
        seen = 0
        for caseworker, group in open_now.groupby("caseworker_id"):
            headers = {"Authorization": f"Bearer {issue(key, role=Role.caseworker, subject=caseworker, minutes=30)}"}
            for person_id in raw.loc[raw["household_id"].isin(group["household_id"]), "person_id"]:
                answer = client.get(f"/v1/citizens/{person_id}/recommendations", headers=headers)
                if answer.status_code == 403:
                    continue  # a caseload that has not started by the service's today
                if answer.status_code != 200:
                    problems.append(f"{caseworker}: {answer.status_code} {answer.text[:100]}")
                    continue
                seen += 1
                for item in answer.json()["recommendations"]:
                    if item["service_id"] in sensitive_ids:
                        problems.append(f"{caseworker}: suggested sensitive {item['service_id']}")
                    if _named(item["reason"], sensitive_names):
                        problems.append(f"{caseworker}: reason names {_named(item['reason'], sensitive_names)}")
    assert not problems, "\n".join(problems[:30])
    assert seen > 0, "no caseworker view was checked"
    # opting in does something on the person's own page (and only there): some related
    # sensitive service is suggested to someone in a county of this size
    assert own_page_sensitive > 0
