"""Clerical review by a data steward: one pair at a time, only what decides it; every view and decision audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from features.linkage import DECISION_COLUMNS, latest_decisions
from serving.domain import linkage_review
from serving.domain.access import Refused
from serving.domain.auth import Role, Viewer
from serving.domain.errors import Conflict, Invalid, NotFound
from serving.infra.service_readers import steward_decisions
from serving.infra.tables import AuditEntry

from .conftest import running, service_settings

STEWARD = Viewer(Role.data_steward, "steward-1")
RECORDS = ["a1" * 32, "b2" * 32, "c3" * 32]
PEOPLE = ["d4" * 32, "e5" * 32, "f6" * 32]


def write_queue(path) -> pd.DataFrame:
    """A queue as the build writes it: best first, `same` where the two sides agree exactly."""
    queue = pd.DataFrame({
        "source": ["police", "nhs_trust"],
        "partner_record": RECORDS[:2], "person": PEOPLE[:2],
        "match_probability": [0.83, 0.61], "runner_up": [0.2, 0.0], "margin_bits": [4.5, float("inf")],
        "given_name": ["jon | john", "same"], "family_name": ["same", "same"],
        "birth_date": ["2011-03-04 | 2011-04-03", "same"], "postcode": ["same", "(blank) | ZZ1 1ZZ"],
        "address": ["same", "same"], "nhs_number": ["(blank) | (blank)", "same"], "upn": ["same", "same"],
        "level_given_name": ["nickname of the same name", "the same"], "level_birth_date": ["day and month swapped", ""],
    })
    queue.to_csv(path, index=False)
    return queue


@pytest.fixture
def queue_path(tmp_path):
    path = tmp_path / "quarantine" / "linkage_review.csv"
    path.parent.mkdir()
    write_queue(path)
    return path


def audit_trail(database) -> list[AuditEntry]:
    with database.reading() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_the_steward_sees_the_best_pair_and_values_only_where_they_differ(database, queue_path):
    review = linkage_review.next_pair(database, STEWARD, queue_path)
    assert (review.waiting, review.decided, review.queue_found) == (2, 0, True)
    pair = review.pair
    assert (pair.source, pair.partner_record, pair.person) == ("police", RECORDS[0], PEOPLE[0])
    assert pair.match_weight == pytest.approx(2.285, abs=0.01)  # log2(0.83 / 0.17)
    levels = {c.field: (c.level, c.partner, c.master) for c in pair.comparisons}
    assert levels["given_name"] == ("differs", "jon", "john")
    assert levels["birth_date"] == ("differs", "2011-03-04", "2011-04-03")
    assert levels["family_name"] == ("agrees", None, None)  # agreement never shows the value
    assert levels["nhs_number"][0] == "blank"
    described = {c.field: c.description for c in pair.comparisons}
    assert described["given_name"] == "nickname of the same name"
    assert described["birth_date"] == "day and month swapped"
    assert described["family_name"] is None  # a queue without that level column: agreement alone
    [entry] = audit_trail(database)
    assert (entry.action, entry.actor_role, entry.actor, entry.subject) == (
        "linkage.review.view", "data_steward", "steward-1", RECORDS[0])


def test_accept_and_reject_are_recorded_audited_and_read_by_the_next_build(database, database_url, queue_path):
    made = linkage_review.decide(database, STEWARD, queue_path, partner_record=RECORDS[0], person=PEOPLE[0],
                                 decision="accept")
    assert made.reviewer == "steward-1"
    following = linkage_review.next_pair(database, STEWARD, queue_path)
    assert following.pair.partner_record == RECORDS[1] and (following.waiting, following.decided) == (1, 1)
    linkage_review.decide(database, STEWARD, queue_path, partner_record=RECORDS[1], person=PEOPLE[1],
                          decision="reject", note="  different dates of birth on the GP record  ")
    done = linkage_review.next_pair(database, STEWARD, queue_path)
    assert done.pair is None and (done.waiting, done.decided) == (0, 2)

    with pytest.raises(Conflict):
        linkage_review.decide(database, STEWARD, queue_path, partner_record=RECORDS[0], person=PEOPLE[0],
                              decision="reject")
    with pytest.raises(NotFound):
        linkage_review.decide(database, STEWARD, queue_path, partner_record=RECORDS[2], person=PEOPLE[2],
                              decision="accept")
    with pytest.raises(Invalid):
        linkage_review.decide(database, STEWARD, queue_path, partner_record=RECORDS[1], person=PEOPLE[1],
                              decision="maybe")
    with pytest.raises(Invalid):
        linkage_review.decide(database, STEWARD, queue_path, partner_record=RECORDS[1], person=PEOPLE[1],
                              decision="accept", note="x" * 501)

    read = steward_decisions(database_url)
    assert list(read.columns) == list(DECISION_COLUMNS)
    assert read[["partner_record", "person", "decision", "reviewer"]].values.tolist() == [
        [RECORDS[0], PEOPLE[0], "accept", "steward-1"], [RECORDS[1], PEOPLE[1], "reject", "steward-1"]]
    assert all(datetime.fromisoformat(t).tzinfo is not None for t in read["decided_at"])
    decisions = [(e.action, e.subject) for e in audit_trail(database) if e.action == "linkage.decide"]
    assert decisions == [("linkage.decide", RECORDS[0]), ("linkage.decide", RECORDS[1])]


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.data_steward])
def test_only_a_data_steward_reviews_or_decides(database, queue_path, role):
    viewer = Viewer(role, "someone")
    with pytest.raises(Refused):
        linkage_review.next_pair(database, viewer, queue_path)
    with pytest.raises(Refused):
        linkage_review.decide(database, viewer, queue_path, partner_record=RECORDS[0], person=PEOPLE[0],
                              decision="accept")
    assert audit_trail(database) == []  # refused before anything was read


def test_no_queue_yet_shows_nothing_and_no_database_yet_reads_none(database, tmp_path):
    review = linkage_review.next_pair(database, STEWARD, tmp_path / "absent.csv")
    assert review.pair is None and not review.queue_found
    assert steward_decisions(f"sqlite:///{tmp_path / 'never-created.db'}") is None


@given(st.lists(st.tuples(st.sampled_from(RECORDS), st.sampled_from(PEOPLE[:2]), st.sampled_from(["accept", "reject"]),
                          st.integers(0, 10_000)), max_size=25))
@settings(deadline=None)  # pandas on a shared machine
def test_the_latest_decision_on_a_pair_wins(rows):
    start = datetime(2026, 12, 1, tzinfo=UTC)
    frame = pd.DataFrame([{"partner_record": r, "person": p, "decision": d,
                           "decided_at": (start + timedelta(seconds=s)).isoformat(), "reviewer": "s"}
                          for r, p, d, s in rows], columns=list(DECISION_COLUMNS))
    half = len(frame) // 2
    merged = latest_decisions(frame.iloc[:half], None, frame.iloc[half:])
    if not rows:
        assert merged is None
        return
    assert not merged.duplicated(["partner_record", "person"]).any()
    for (record, person), group in frame.groupby(["partner_record", "person"]):
        last = group.loc[pd.to_datetime(group["decided_at"]) == pd.to_datetime(group["decided_at"]).max()]
        chosen = merged.loc[(merged["partner_record"] == record) & (merged["person"] == person), "decision"]
        assert chosen.item() in set(last["decision"])


# ------------------------------------------------------------------ through the app ------


def test_api_and_page_accept_and_reject_only_for_the_steward(world, database_url, tmp_path):
    queue = tmp_path / "queue" / "linkage_review.csv"
    queue.parent.mkdir()
    write_queue(queue)
    settings = service_settings(world, database_url, tmp_path, linkage_review_queue=queue)
    from .conftest import Tokens

    tokens = Tokens(settings)
    steward = tokens("data_steward", "steward-api")
    with running(settings) as client:
        for role, subject in (("citizen", world.people.citizen), ("caseworker", world.people.caseworker),
                              ("analyst", "analyst-1"), ("admin", "admin-1")):
            refused = client.get("/v1/linkage/review", headers=tokens(role, subject))
            assert refused.status_code == 403 and refused.json()["code"] == "role", refused.text
            posted = client.post("/v1/linkage/decisions", headers=tokens(role, subject), json={
                "partner_record": RECORDS[0], "person": PEOPLE[0], "decision": "accept"})
            assert posted.status_code == 403, posted.text

        shown = client.get("/v1/linkage/review", headers=steward).json()
        assert shown["pair"]["partner_record"] == RECORDS[0] and shown["waiting"] == 2
        assert {c["field"]: c["partner"] for c in shown["pair"]["comparisons"]}["family_name"] is None
        made = client.post("/v1/linkage/decisions", headers=steward, json={
            "partner_record": RECORDS[0], "person": PEOPLE[0], "decision": "accept", "note": "same GP"})
        assert made.status_code == 201 and made.json()["reviewer"] == "steward-api", made.text
        again = client.post("/v1/linkage/decisions", headers=steward, json={
            "partner_record": RECORDS[0], "person": PEOPLE[0], "decision": "reject"})
        assert again.status_code == 409

        # the page: the same rules, a CSRF-checked form
        client.cookies.set("signpost_session", steward["Authorization"].removeprefix("Bearer "))
        page = client.get("/steward")
        assert page.status_code == 200 and "Is this the same person?" in page.text
        assert RECORDS[1] in page.text and "(blank)" in page.text and "ZZ1 1ZZ" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {"partner_record": RECORDS[1], "person": PEOPLE[1], "decision": "reject"}
        forged = client.post("/steward/decisions", data=form, follow_redirects=False)
        assert forged.status_code == 403
        unchosen = client.post("/steward/decisions", data={**form, "decision": "", "csrf_token": token})
        assert unchosen.status_code == 400 and "Choose whether these are the same person" in unchosen.text
        done = client.post("/steward/decisions", data={**form, "note": "another child", "csrf_token": token},
                           follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"].startswith("/steward?done=reject")
        assert "No pairs are waiting" in client.get("/steward").text
        client.cookies.set("signpost_session", tokens("caseworker", world.people.caseworker)[
            "Authorization"].removeprefix("Bearer "))
        assert client.get("/steward").status_code == 403

        trail = client.get("/v1/audit?limit=500", headers=tokens("admin", "admin-1")).json()["entries"]
    mine = [(e["action"], e["actor"]) for e in trail if e["action"].startswith("linkage.")]
    assert ("linkage.decide", "steward-api") in mine and mine.count(("linkage.decide", "steward-api")) == 2
    assert sum(1 for action, _ in mine if action == "linkage.review.view") >= 4
    read = steward_decisions(database_url)
    assert read["decision"].tolist() == ["accept", "reject"]
