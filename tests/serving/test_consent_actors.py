"""Consent records say who acted; only the person, or an admin's Art. 21 override, sets an objection aside.

The rules at the domain's one write point (`serving.domain.consent.change` / `record_override`) on a
real database (SQLite and PostgreSQL), a hypothesis property over sequences of actors and changes,
the build's reading of overrides (`serving.infra.service_readers.api_consents` through the
pipeline's own `features.consent.consent_as_of`) agreeing with request time, and the API.
"""

from __future__ import annotations

import secrets
from datetime import date

import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from features.consent import consent_as_of
from serving.domain import consent
from serving.domain.access import Refused
from serving.domain.auth import Role, Viewer
from serving.domain.errors import Conflict, Invalid
from serving.infra.service_readers import api_consents
from serving.infra.tables import AuditEntry, ConsentRecord
from signpost.settings import PURPOSES, Settings

SETTINGS = Settings()
CASEWORKER = Viewer(Role.caseworker, "CW0042")
ADMIN = Viewer(Role.admin, "admin-1")
GROUNDS = "The early-help panel found the children's safety outweighs the objection."


def _person() -> str:
    return secrets.token_hex(32)


def _allowed(database, pseudonym: str) -> dict[str, bool]:
    with database.reading() as session:
        return {d.purpose: d.allowed for d in consent.decisions(session, pseudonym, SETTINGS)}


def _records(database, pseudonym: str) -> list[ConsentRecord]:
    with database.reading() as session:
        return consent.history(session, pseudonym)


# ------------------------------------------------------------------ who acted ---------------


def test_a_citizens_own_change_is_portal_and_names_no_staff(database):
    me = _person()
    with database.write_session() as session:
        consent.change(session, pseudonym=me, purpose="research", status="withdrawn", viewer=Viewer(Role.citizen, me))
    [row] = _records(database, me)
    assert (row.method, row.actor_role, row.actor, row.note) == ("portal", "citizen", None, None)
    for method in ("phone", "paper", "caseworker", "import"):
        with pytest.raises(Invalid, match="recorded as `portal`"), database.write_session() as session:
            consent.change(session, pseudonym=me, purpose="research", status="granted", method=method,
                           viewer=Viewer(Role.citizen, me))
    with pytest.raises(Invalid, match="note is for staff"), database.write_session() as session:
        consent.change(session, pseudonym=me, purpose="research", status="granted", note="hello",
                       viewer=Viewer(Role.citizen, me))
    assert len(_records(database, me)) == 1  # nothing half-written


def test_staff_record_how_the_person_told_them_with_their_id_and_a_note(database):
    person = _person()
    with database.write_session() as session:
        consent.change(session, pseudonym=person, purpose="personalisation", status="granted", method="phone",
                       note="  Phoned on 3 December and asked for suggestions.  ", viewer=CASEWORKER)
    [row] = _records(database, person)
    assert (row.method, row.actor_role, row.actor, row.note) == (
        "phone", "caseworker", "CW0042", "Phoned on 3 December and asked for suggestions.")
    for method, note, problem in ((None, "said so", "must say how"), ("portal", "said so", "must say how"),
                                  ("import", "said so", "must say how"), ("paper", None, "must add a `note`"),
                                  ("paper", "   ", "must add a `note`")):
        with pytest.raises(Invalid, match=problem), database.write_session() as session:
            consent.change(session, pseudonym=person, purpose="research", status="withdrawn", method=method,
                           note=note, viewer=ADMIN)
    assert len(_records(database, person)) == 1


# ------------------------------------------------------------------ objections --------------


@pytest.mark.parametrize("purpose,refusal", [("early_intervention", "objected"), ("early_intervention", "withdrawn"),
                                             ("research", "objected"), ("personalisation", "objected")])
@pytest.mark.parametrize("staff", [CASEWORKER, ADMIN], ids=["caseworker", "admin"])
def test_staff_never_turn_an_objection_into_a_grant(database, purpose, refusal, staff):
    person = _person()
    with database.write_session() as session:
        consent.change(session, pseudonym=person, purpose=purpose, status=refusal, viewer=Viewer(Role.citizen, person))
    with pytest.raises(consent.ObjectionStands, match="Art. 21") as refused, database.write_session() as session:
        consent.change(session, pseudonym=person, purpose=purpose, status="granted", method="caseworker",
                       note="says they changed their mind", viewer=staff)
    assert refused.value.status == 409 and refused.value.code == "objection_stands"
    assert [r.status for r in _records(database, person)] == [refusal]
    # recording a further refusal the person stated is fine
    with database.write_session() as session:
        consent.change(session, pseudonym=person, purpose=purpose, status="objected", method="paper",
                       note="letter of 2 December", viewer=staff)
    # and the person lifts their own objection themself
    with database.write_session() as session:
        consent.change(session, pseudonym=person, purpose=purpose, status="granted", viewer=Viewer(Role.citizen, person))
    assert _allowed(database, person)[purpose] is True


def test_staff_may_record_a_grant_the_person_stated_where_no_objection_stands(database):
    person = _person()
    with database.write_session() as session:
        consent.change(session, pseudonym=person, purpose="personalisation", status="withdrawn",
                       viewer=Viewer(Role.citizen, person))
        consent.change(session, pseudonym=person, purpose="personalisation", status="granted", method="caseworker",
                       note="asked in person at the family hub", viewer=CASEWORKER)
    assert _allowed(database, person)["personalisation"] is True


# ------------------------------------------------------------------ Art. 21 override --------


def test_an_admin_override_allows_early_help_until_the_persons_next_decision(database):
    parent, child = _person(), _person()
    with database.write_session() as session:
        consent.change(session, pseudonym=parent, purpose="early_intervention", status="objected",
                       viewer=Viewer(Role.citizen, parent))
    with database.reading() as session:
        assert consent.objecting(session, [parent, child]) == {parent}
    with database.write_session() as session:
        made = consent.record_override(session, pseudonym=parent, purpose="early_intervention",
                                       reason=f"  {GROUNDS} ", viewer=ADMIN)
    assert made.reason == GROUNDS and made.decided_by == "admin-1" and made.overridden_status == "objected"
    assert "admin-1" in made.sentence and GROUNDS in made.sentence and "despite your objection" in made.sentence
    with database.reading() as session:
        assert consent.objecting(session, [parent, child]) == set()
        assert not consent.household_objects(session, [parent, child])
        [decision] = [d for d in consent.decisions(session, parent, SETTINGS) if d.purpose == "early_intervention"]
        assert decision.allowed and decision.status == "objected"
        assert (decision.override.decided_by, decision.override.reason) == ("admin-1", GROUNDS)
        trail = session.scalars(select(AuditEntry).where(AuditEntry.action == "consent.override")).all()
        assert [(e.actor, e.subject) for e in trail] == [("admin-1", parent)]
        [shown] = consent.overrides(session, parent)
        assert shown["stands"] and shown["reason"] == GROUNDS and shown["decided_by"] == "admin-1"
    # the ledger still says truthfully what the person decided
    assert [r.status for r in _records(database, parent)] == ["objected"]
    # a second override of the same objection, and one of nothing, are conflicts
    with pytest.raises(Conflict, match="already stands"), database.write_session() as session:
        consent.record_override(session, pseudonym=parent, purpose="early_intervention", reason=GROUNDS, viewer=ADMIN)
    with pytest.raises(Conflict, match="nothing to override"), database.write_session() as session:
        consent.record_override(session, pseudonym=child, purpose="early_intervention", reason=GROUNDS, viewer=ADMIN)
    # the person's fresh objection ends it: it must be considered afresh
    with database.write_session() as session:
        consent.change(session, pseudonym=parent, purpose="early_intervention", status="objected",
                       viewer=Viewer(Role.citizen, parent))
    assert _allowed(database, parent)["early_intervention"] is False
    with database.reading() as session:
        assert consent.objecting(session, [parent]) == {parent}
        assert [o["stands"] for o in consent.overrides(session, parent)] == [False]


def test_only_an_admin_overrides_and_only_early_intervention_with_a_reason(database):
    person = _person()
    with database.write_session() as session:
        consent.change(session, pseudonym=person, purpose="research", status="objected",
                       viewer=Viewer(Role.citizen, person))
        consent.change(session, pseudonym=person, purpose="early_intervention", status="objected",
                       viewer=Viewer(Role.citizen, person))
    for viewer in (CASEWORKER, Viewer(Role.citizen, person), Viewer(Role.analyst, "analyst-1")):
        with pytest.raises(Refused), database.write_session() as session:
            consent.record_override(session, pseudonym=person, purpose="early_intervention", reason=GROUNDS,
                                    viewer=viewer)
    with pytest.raises(Invalid, match="only early_intervention"), database.write_session() as session:
        consent.record_override(session, pseudonym=person, purpose="research", reason=GROUNDS, viewer=ADMIN)
    with pytest.raises(Invalid, match="reason"), database.write_session() as session:
        consent.record_override(session, pseudonym=person, purpose="early_intervention", reason="  ", viewer=ADMIN)
    assert _allowed(database, person) == {"personalisation": False, "early_intervention": False, "research": False}


# ------------------------------------------------------------------ the property ------------

ACTORS = st.sampled_from(["citizen", "caseworker", "admin"])
STEP = st.one_of(
    st.tuples(st.just("change"), ACTORS, st.sampled_from(PURPOSES), st.sampled_from(["granted", "withdrawn", "objected"]),
              st.sampled_from([None, "portal", "phone", "paper", "caseworker", "import"]),
              st.sampled_from([None, "", "phoned on Tuesday"])),
    st.tuples(st.just("override"), ACTORS, st.sampled_from(PURPOSES), st.sampled_from(["", GROUNDS])),
)


def _build_view(database, pseudonym: str) -> dict[str, bool]:
    """What the next feature build makes of the service's ledger: its reader and its own consent rule."""
    ledger = api_consents(database.url)
    ledger = ledger[ledger["pseudonym"] == pseudonym]
    records = pd.DataFrame({"person": ledger["pseudonym"], "purpose": ledger["purpose"], "status": ledger["status"],
                            "recorded_at": ledger["recorded_at"].dt.tz_localize(None)})
    state = consent_as_of(records, as_of=date(2100, 1, 1), defaults=SETTINGS.consent_defaults, people=[pseudonym])
    return {p: bool(state.at[pseudonym, p]) for p in PURPOSES}


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=8), seeded=st.sampled_from([None, "objected", "withdrawn"]))
def test_property_objections_are_lifted_only_by_the_person_or_an_admin_override(database, steps, seeded):
    person = _person()
    viewers = {"citizen": Viewer(Role.citizen, person), "caseworker": CASEWORKER, "admin": ADMIN}
    if seeded:
        with database.write_session() as session:
            consent.change(session, pseudonym=person, purpose="early_intervention", status=seeded,
                           viewer=viewers["citizen"])
    for kind, actor, purpose, *rest in steps:
        before = _allowed(database, person)
        with database.reading() as session:
            objected = {d.purpose for d in consent.decisions(session, person, SETTINGS)
                        if consent.is_objection(d.purpose, d.status)}
        written = len(_records(database, person))
        try:
            with database.write_session() as session:
                if kind == "change":
                    status, method, note = rest
                    consent.change(session, pseudonym=person, purpose=purpose, status=status, method=method,
                                   note=note, viewer=viewers[actor])
                else:
                    consent.record_override(session, pseudonym=person, purpose=purpose, reason=rest[0],
                                            viewer=viewers[actor])
        except (Invalid, Conflict, Refused):
            assert _allowed(database, person) == before and len(_records(database, person)) == written
            continue
        after = _allowed(database, person)
        for lifted in {p for p in objected if not before[p] and after[p]}:
            assert actor == "citizen" and kind == "change" or \
                actor == "admin" and kind == "override" and rest[0].strip() and lifted == "early_intervention", \
                (kind, actor, lifted)
    for row in _records(database, person):  # the method recorded always matches the actor
        if row.actor_role == "citizen":
            assert (row.method, row.actor, row.note) == ("portal", None, None)
        else:
            assert row.method in consent.STAFF_METHODS and row.actor == viewers[row.actor_role].subject and row.note
    assert _build_view(database, person) == _allowed(database, person)  # the build agrees with request time


# ------------------------------------------------------------------ through the API ---------


def test_regression_caseworker_cannot_overturn_a_parents_objection_as_portal(service, world):
    """Finding (issue 14): a caseworker PUT a parent's early_intervention consent from `objected` to
    `granted` with method `portal` — the objection was overturned and the record said the parent did it."""
    client, tokens, _ = service
    parent = world.people.on_caseload
    path = f"/v1/citizens/{parent}/consent"
    caseworker = tokens("caseworker", world.people.caseworker)
    assert client.put(path, headers=tokens("citizen", parent),
                      json={"purpose": "early_intervention", "status": "objected"}).status_code == 200
    as_portal = client.put(path, headers=caseworker,
                           json={"purpose": "early_intervention", "status": "granted", "method": "portal"})
    assert as_portal.status_code == 422, as_portal.text
    assert "portal" in as_portal.json()["detail"]
    stated = client.put(path, headers=caseworker, json={"purpose": "early_intervention", "status": "granted",
                                                        "method": "phone", "note": "says the parent agreed"})
    assert stated.status_code == 409, stated.text
    assert stated.json()["code"] == "objection_stands" and "Art. 21" in stated.json()["detail"]
    now = client.get(path, headers=caseworker).json()["purposes"]
    [early] = [p for p in now if p["purpose"] == "early_intervention"]
    assert (early["status"], early["allowed"], early["method"], early["override"]) == ("objected", False, "portal", None)


def test_api_override_is_shown_to_the_person_and_in_subject_access(service, world):
    client, tokens, _ = service
    parent = world.people.on_caseload
    me = tokens("citizen", parent)
    admin = tokens("admin", "admin-1")
    assert client.put(f"/v1/citizens/{parent}/consent", headers=me,
                      json={"purpose": "early_intervention", "status": "objected"}).status_code == 200
    short = client.post(f"/v1/citizens/{parent}/consent/overrides", headers=admin,
                        json={"purpose": "early_intervention", "reason": "because"})
    assert short.status_code == 422
    made = client.post(f"/v1/citizens/{parent}/consent/overrides", headers=admin,
                       json={"purpose": "early_intervention", "reason": GROUNDS})
    assert made.status_code == 201, made.text
    [early] = [p for p in client.get("/v1/citizens/me/consent", headers=me).json()["purposes"]
               if p["purpose"] == "early_intervention"]
    assert early["allowed"] is True and early["status"] == "objected"
    assert early["override"]["decided_by"] == "admin-1" and early["override"]["reason"] == GROUNDS
    assert "despite your objection" in early["override"]["sentence"] and GROUNDS.rstrip(".") in early["override"]["sentence"]
    data = client.get("/v1/citizens/me/data", headers=me).json()
    assert [(o["purpose"], o["decided_by"], o["reason"], o["stands"]) for o in data["overrides"]] == [
        ("early_intervention", "admin-1", GROUNDS, True)]
    assert {"recorded_by", "staff_id", "note"} <= set(data["consents"][-1])
    trail = client.get("/v1/audit?limit=500", headers=admin).json()["entries"]
    assert [e["actor"] for e in trail if e["action"] == "consent.override"] == ["admin-1"]


def test_a_standing_override_brings_back_the_familys_indicator_until_a_fresh_objection(service, world):
    client, tokens, _ = service
    parent = world.people.household_member
    assert parent is not None, "the shared small county (seed 7) has an adult in the caseload child's household"
    caseworker = tokens("caseworker", world.people.caseworker)
    admin = tokens("admin", "admin-1")
    indicator = f"/v1/citizens/{world.people.on_caseload}/early-help"

    def objects() -> None:
        assert client.put(f"/v1/citizens/{parent}/consent", headers=tokens("citizen", parent),
                          json={"purpose": "early_intervention", "status": "objected"}).status_code == 200

    objects()
    assert client.get(indicator, headers=caseworker).json()["available"] is False
    assert client.post(f"/v1/citizens/{parent}/consent/overrides", headers=admin,
                       json={"purpose": "early_intervention", "reason": GROUNDS}).status_code == 201
    assert client.get(indicator, headers=caseworker).json()["available"] is True
    caseload = client.get("/v1/caseload", headers=caseworker).json()["households"]
    assert any(h["band"] is not None for h in caseload)
    objects()  # the parent's fresh objection ends the override at once
    assert client.get(indicator, headers=caseworker).json()["available"] is False
