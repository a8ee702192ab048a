"""Issue 16's rules checked for every citizen of a generated county (tests/conftest.py's
`small_county`: the real generator and feature pipeline, 3,000 residents, 1% faults).

Evidence is recomputed independently of the Signposter: a person's own services come from the
raw partner extract (their own `person_id`'s events, never their household's), and co-use
strength is recounted from the processed matrix with plain set arithmetic.

- no sensitive service in any unprompted suggestion;
- no shareable (staff-visible) reason names a sensitive service;
- no reason names a service the person has not used themself;
- every service a reason names has co-use with the suggestion above the configured thresholds.

Each rule is checked for plain EASE and for the household co-use model (`ease_household`, fitted
with the county's households), whose weights learn from members' histories together but whose
lists and reasons must still come from the person's own history alone.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from features.pseudonym import pseudonymise
from recommender.ease import EASE, HouseholdEASE
from recommender.signposting import Signposter
from signpost.settings import Settings

K = 10
MODELS = {"ease": lambda: EASE(l2=50.0), "ease_household": lambda: HouseholdEASE(l2=50.0, household_weight=1.0)}


@pytest.fixture(scope="module", params=sorted(MODELS))
def county(request, small_county):
    processed = small_county.processed
    citizens = pd.read_parquet(processed / "citizens.parquet")
    services = pd.read_parquet(processed / "services.parquet").sort_values("col").reset_index(drop=True)
    history = sparse.load_npz(processed / "interactions_all.npz").tocsr()
    config = Settings()
    households = pd.factorize(citizens.sort_values("row")["household"])[0]  # -1 where none
    assert (households >= 0).any()
    model = MODELS[request.param]().fit(history, households=households)
    signposter = Signposter.from_processed_tables(
        citizens, services, history, model=model, model_name=request.param,
        reason_min_lift=config.reason_min_co_use_lift, reason_min_co_users=config.reason_min_co_users,
    )
    events = pd.read_csv(small_county.raw / "events.csv", dtype=str, keep_default_na=False)
    events["pseudonym"] = pseudonymise(events["person_id"].tolist(), small_county.key.encode(), "person")
    own_raw: dict[str, set[str]] = defaultdict(set)
    for pseudonym, service_id in zip(events["pseudonym"], events["service_id"], strict=True):
        own_raw[pseudonym].add(service_id)
    pseudonyms = citizens.sort_values("row")["pseudonym"].tolist()
    unprompted = signposter.suggest(pseudonyms, k=K)
    opted_in = signposter.suggest(pseudonyms, k=K, sensitive_opt_in=np.ones(len(pseudonyms), dtype=bool))
    return {"services": services, "history": history, "config": config, "own_raw": own_raw,
            "pseudonyms": pseudonyms, "unprompted": unprompted, "opted_in": opted_in,
            "signposter": signposter}


def named(reason: str, names: set[str]) -> set[str]:
    """Which catalogue names a sentence contains (names are long and distinct in the county)."""
    return {name for name in names if name in reason}


def test_the_generated_catalogue_marks_sensitive_services(county) -> None:
    sensitive = county["services"].set_index("service_id")["sensitive"]
    for service_id in ("PH-SEXHEALTH", "PH-SUBSTANCE", "NHS-TALKING", "VOL-DASUPPORT", "HCC-SENDIASS",
                       "HCC-ADULTCARE"):
        assert sensitive[service_id], service_id
    assert not sensitive["HCC-LIB-LOAN"]


def test_no_sensitive_service_is_suggested_unprompted(county) -> None:
    sensitive = set(county["services"].loc[county["services"]["sensitive"], "service_id"])
    suggested = [s for row in county["unprompted"] for s in row]
    assert len(suggested) > 10 * len(county["pseudonyms"]) * 0.5
    assert not [s.service_id for s in suggested if s.service_id in sensitive]


def test_shareable_reasons_never_name_a_sensitive_service(county) -> None:
    services = county["services"]
    sensitive_names = set(services.loc[services["sensitive"], "name"])
    for rows in (county["unprompted"], county["opted_in"]):
        for row in rows:
            for s in row:
                assert not named(s.reason, sensitive_names), s.reason
                assert not named(s.reason_for(own_page=False, show_why=True), sensitive_names)


def test_reasons_name_only_the_persons_own_services(county) -> None:
    services = county["services"]
    name_of = dict(zip(services["service_id"], services["name"], strict=True))
    all_names = set(name_of.values())
    named_any = 0
    for rows in (county["unprompted"], county["opted_in"]):
        for pseudonym, row in zip(county["pseudonyms"], rows, strict=True):
            own = county["own_raw"].get(pseudonym, set())
            for s in row:
                assert set(s.named) <= own, (s.full_reason, s.named)
                # the sentence names exactly those services, and no other catalogue name
                mentioned = named(s.full_reason, all_names - {s.name})
                assert mentioned == {name_of[o] for o in s.named} or (
                    # a name that is part of a longer named one ("Youth club" in "Youth club …")
                    mentioned >= {name_of[o] for o in s.named}
                    and all(any(m in name_of[o] for o in s.named) for m in mentioned)
                ), s.full_reason
                named_any += bool(s.named)
    assert named_any, "the county should give some reasons that name own services"


def test_named_services_have_co_use_above_the_threshold(county) -> None:
    services, config = county["services"], county["config"]
    col = {sid: i for i, sid in enumerate(services["service_id"])}
    history = county["history"]
    users: dict[int, set[int]] = defaultdict(set)
    for person in range(history.shape[0]):
        for j in history.indices[history.indptr[person]:history.indptr[person + 1]]:
            if history[person, j] > 0:
                users[int(j)].add(person)
    people = len({p for group in users.values() for p in group})
    checked = 0
    for rows in (county["unprompted"], county["opted_in"]):
        for row in rows:
            for s in row:
                target = users[col[s.service_id]]
                for own in s.named:
                    source = users[col[own]]
                    both = len(source & target)
                    lift = (both / len(source)) / (len(target) / people)
                    assert both >= config.reason_min_co_users, (own, s.service_id, both)
                    assert lift >= config.reason_min_co_use_lift, (own, s.service_id, lift)
                    checked += 1
    assert checked


def test_general_reasons_are_true_of_the_segment_or_say_who_it_is_open_to(county) -> None:
    pattern = re.compile(r"^(Popular with (people of your age|residents) (in .+|across the county)"
                         r"|Popular with people of your age|Open to (people of your age|residents) where you live)$")
    for row in county["unprompted"]:
        for s in row:
            if not s.named:
                assert pattern.match(s.reason), s.reason
                assert s.full_reason == s.reason
