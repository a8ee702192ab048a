"""The analyst view: versions, metrics, plots and model cards — and no individual's data.

An admin also promotes here, through the same gates as `signpost promote`.
"""

from __future__ import annotations

import io
import re
import time

import httpx
import pandas as pd
import pytest

from training import tracking
from training.recommender_report import MIN_GROUP_CITIZENS

HEX64 = re.compile(r"[0-9a-f]{64}")
RAW_ID = re.compile(r"\b[A-Z]\d{6,}\b")
#: How the workspace names a household ("Household 0E0D8E63"); the model card may say "Household composition".
HOUSEHOLD_REFERENCE = re.compile(r"\bHousehold [0-9A-F]{8}\b")


def assert_no_individual_data(html: str, site) -> None:
    """No pseudonym, no council person or household id, no household reference on the page.

    (A 64-hex string alone is not a leak — the model card cites the data manifest's sha256 —
    so the check looks for the build's actual pseudonyms.)
    """
    citizens = pd.read_parquet(site.processed / "citizens.parquet", columns=["pseudonym", "household"])
    people = set(citizens["pseudonym"]) | set(citizens["household"].dropna())
    leaked_pseudonyms = set(HEX64.findall(html)) & people
    assert not leaked_pseudonyms, "a person's or household's pseudonym is on an analyst page"
    raw = pd.read_csv(site.env["SIGNPOST_RAW_DIR"] + "/citizens.csv", dtype=str)
    known = set(raw["person_id"].dropna()) | set(raw["household_id"].dropna())
    leaked = set(RAW_ID.findall(html)) & known
    assert not leaked, f"council ids on an analyst page: {sorted(leaked)[:5]}"
    assert not HOUSEHOLD_REFERENCE.search(html), "a household reference is on an analyst page"


def test_model_versions_overview(page, sign_in, shoot, assert_accessible, site):
    sign_in("analyst")
    assert page.url.endswith("/analyst")
    for title in ("Service recommender", "Early-help indicator"):
        assert page.get_by_role("heading", name=title, exact=True).is_visible()
    text = page.locator("main").inner_text()
    assert "NDCG@10" in text and "ROC AUC" in text and "Champion" in text and "Challenger" in text
    assert page.locator("form[action$='/promote']").count() == 0, "an analyst must not see promotion"
    assert_no_individual_data(page.content(), site)
    assert_accessible()
    shoot()


def test_version_page_shows_metrics_plots_and_model_card(page, sign_in, shoot, assert_accessible, site):
    sign_in("analyst")
    page.goto("/analyst/models/early-help/1")
    assert page.get_by_role("heading", name="Version 1").is_visible()
    assert "promoted over a failed gate" in page.locator("main").inner_text()  # forced in the fixture
    figures = page.locator(".signpost-figure img")
    assert figures.count() >= 3
    alts = figures.evaluate_all("imgs => imgs.map(i => i.alt)")
    assert any(a.startswith("Calibration") for a in alts) and any(a.startswith("Fairness") for a in alts)
    page.wait_for_load_state("networkidle")
    for i in range(figures.count()):
        figures.nth(i).scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('.signpost-figure img')].every(i => i.complete)")
    widths = figures.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert all(w > 100 for w in widths), f"a figure did not load: {widths}"
    card = page.locator(".signpost-markdown[aria-label='Model card']")
    assert card.count() == 1 and len(card.inner_text()) > 200
    assert_no_individual_data(page.content(), site)
    assert_accessible()
    shoot("early-help-version")

    page.goto("/analyst/models/recommender/1")
    assert page.locator(".signpost-figure img").count() >= 1
    assert "NDCG@10" in page.locator("main").inner_text()
    assert_no_individual_data(page.content(), site)
    assert_accessible()
    shoot("recommender-version")


SEX_NAMES = {"F": "Female", "M": "Male", "X": "Another sex", "U": "Not known"}


def _fairness_report(site) -> pd.DataFrame:
    """The recommender's fairness report logged with version 1, read straight from MLflow."""

    uri = site.env["MLFLOW_TRACKING_URI"]
    run_id = tracking.connect(uri).get_model_version("signpost-recommender", "1").run_id
    data = tracking.read_artifact(run_id, "fairness.csv", uri)
    assert data, "version 1 has no fairness report"
    return pd.read_csv(io.BytesIO(data), dtype={"group": str})


def test_recommender_fairness_is_a_readable_table_per_group(page, sign_in, shoot, assert_accessible, site):
    sign_in("analyst")
    page.goto("/analyst/models/recommender/1")
    assert page.get_by_role("heading", name="How well it serves each group").is_visible()
    report = _fairness_report(site)
    k = max(int(site.env["SIGNPOST_RESEARCH_K_ANONYMITY"]), MIN_GROUP_CITIZENS)
    for column, caption in (("age_band", "Age band"), ("postcode_district", "District"),
                            ("imd_decile", "Deprivation decile (1 = most deprived)"), ("sex", "Sex")):
        table = page.locator("table", has=page.locator("caption", has_text=caption)).first
        assert table.is_visible(), caption
        part = report[(report["characteristic"] == column) & (report["citizens"] >= k)]
        assert len(part), f"the fixture's report has no {column} groups"
        rows = table.locator("tbody tr")
        assert rows.count() == len(part), caption
        shown = {r.split("\t")[0]: r.split("\t")[1:] for r in rows.all_inner_texts()}
        for group in part.to_dict("records"):
            name = SEX_NAMES[group["group"]] if column == "sex" else group["group"]
            assert shown[name] == [f"{int(group['citizens']):,}", f"{group['ndcg@10']:.2f}",
                                   f"{100 * group['coverage@10']:.0f}%", f"{100 * group['personalised share']:.0f}%"], \
                (caption, name)
    text = page.locator("main").inner_text()
    assert "Match (NDCG@10)" in text and "Personal:" in text and "estimates" in text
    assert f"Groups with fewer than {k} people are not shown" in text
    # at 320 px the tables scroll in their own box; the page itself never scrolls sideways
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert_no_individual_data(page.content(), site)
    assert_accessible()
    page.get_by_role("heading", name="How well it serves each group").scroll_into_view_if_needed()
    shoot("recommender-fairness")


def test_figures_are_for_staff_only(site, api):
    path = "/analyst/models/early-help/1/figures/reliability.png"
    with httpx.Client(base_url=site.url) as client:
        assert client.get(path).status_code == 303  # to the sign-in page
    # the same file for an analyst is a PNG
    page_token = api.token("analyst", "analyst-figures")
    answer = httpx.get(site.url + path, cookies={"signpost_session": page_token})
    assert answer.status_code == 200 and answer.content.startswith(b"\x89PNG")
    citizen = httpx.get(site.url + path, cookies={"signpost_session": api.token("caseworker", "cw-nobody")})
    assert citizen.status_code == 403


@pytest.mark.parametrize("path", ["/portal", "/portal/data", "/workspace", "/workspace/households/" + "0" * 64])
def test_an_analyst_sees_no_individual_pages(page, sign_in, path):
    sign_in("analyst")
    assert page.goto(path).status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "You cannot see this page"


def test_admin_promotion_refused_shows_the_gates_reasons(page, sign_in, shoot, assert_accessible, api, site):
    sign_in("admin")
    form = page.locator("form[action='/analyst/models/early-help/promote']")
    assert form.count() == 1
    version = form.locator("input[name=version]").get_attribute("value")
    with page.expect_navigation(timeout=300_000):
        form.get_by_role("button").click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Version {version} was not promoted"
    checks = page.locator(".signpost-checks").inner_text()
    assert "Failed" in checks and "FPR gap" in checks, checks
    assert "fail" in page.locator(".signpost-gate-output").text_content()  # the CLI's own words, in full
    assert httpx.get(site.url + "/readyz").json()["early_help"]["version"] == "1"
    attempts = [e for e in api.audit() if e["action"] == "model.promote"]
    assert attempts[-1]["detail"]["promoted"] is False and attempts[-1]["actor_role"] == "admin"
    assert_accessible()
    shoot()


def test_admin_promotion_through_the_gates(page, sign_in, shoot, assert_accessible, site):
    trained = site.train_recommender()
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-2000:]
    sign_in("admin")
    form = page.locator("form[action='/analyst/models/recommender/promote']")
    version = form.locator("input[name=version]").get_attribute("value")
    with page.expect_navigation(timeout=300_000):
        form.get_by_role("button").click()
    assert page.locator(".govuk-panel__title").inner_text() == f"Version {version} is now champion"
    assert "NDCG@10" in page.locator(".signpost-gate-output").text_content()
    assert_accessible()
    shoot()
    deadline = time.monotonic() + 30
    while httpx.get(site.url + "/readyz").json()["recommender"]["version"] != version:
        assert time.monotonic() < deadline, "the server did not pick up the promoted champion"
        time.sleep(0.5)
