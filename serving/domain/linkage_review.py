"""Clerical review: a data steward decides the partner-record links the build was unsure of.

The steward sees one pair at a time, the best-scored undecided pair of the review queue, and
of it only what decides it: the source, the scores, and for each compared field whether the
two sides agreed and the level the linkage model's comparison reached, in the model's own
words ("similar (Jaro-Winkler ≥ 0.9)", "day and month swapped") — a value is shown only where
they differ, and only for this pair. Every view
and every decision is audited. Decisions are kept in the service database
(`linkage_decisions`) and the next feature build reads them
(`serving.infra.service_readers.steward_decisions`): ``accept`` links the pair, ``reject``
removes that candidate (features/linkage.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.domain import access, audit
from serving.domain.access import Action
from serving.domain.auth import Viewer
from serving.domain.errors import Conflict, Invalid, NotFound
from serving.infra.db import Database
from serving.infra.review_queue import COMPARED, read_review_queue
from serving.infra.tables import LinkageDecision

Level = Literal["agrees", "differs", "blank"]
DECISIONS = ("accept", "reject")
NOTE_LIMIT = 500

LABELS = {"given_name": "Given name", "family_name": "Family name", "birth_date": "Date of birth",
          "postcode": "Postcode", "address": "Address", "nhs_number": "NHS number", "upn": "Pupil number (UPN)"}
BLANK = "(blank)"


@dataclass(frozen=True)
class Comparison:
    """One compared field of the pair: its level of agreement, the two values only where they differ,
    and in words the level of the linkage model's comparison the pair reached (None from an older queue)."""

    field: str
    label: str
    level: Level
    partner: str | None = None
    master: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Pair:
    source: str
    partner_record: str
    person: str
    match_probability: float
    match_weight: float  # log2 of the odds: bits of evidence for a match
    runner_up: float
    margin_bits: float
    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True)
class Review:
    """What the steward's page shows: the next pair (None when none waits) and the queue's counts."""

    pair: Pair | None
    waiting: int
    decided: int
    queue_found: bool


@dataclass(frozen=True)
class Decided:
    partner_record: str
    person: str
    decision: str
    decided_at: datetime
    reviewer: str


def compare(shown: str) -> tuple[Level, str | None, str | None]:
    """A queue cell (``same`` or ``partner | master``) as a level and the differing values."""
    if shown == "same":
        return "agrees", None, None
    partner, _, master = shown.partition(" | ")
    if BLANK in (partner, master):
        return "blank", partner, master
    return "differs", partner, master


def match_weight(probability: float) -> float:
    """Bits of evidence: log2(p / (1 - p)), clipped where the probability saturates."""
    p = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log2(p / (1 - p))


def pair_from(row: pd.Series) -> Pair:
    comparisons = []
    for field in COMPARED:
        if field in row.index:
            level, partner, master = compare(str(row[field]))
            description = str(row.get(f"level_{field}", "")) or None
            comparisons.append(Comparison(field, LABELS[field], level, partner, master, description))
    return Pair(source=str(row["source"]), partner_record=str(row["partner_record"]), person=str(row["person"]),
                match_probability=float(row["match_probability"]), match_weight=match_weight(row["match_probability"]),
                runner_up=float(row["runner_up"]), margin_bits=float(row["margin_bits"]),
                comparisons=tuple(comparisons))


def _decided_pairs(session: Session) -> set[tuple[str, str]]:
    return {(record, person) for record, person in session.execute(
        select(LinkageDecision.partner_record, LinkageDecision.person))}


def _waiting(queue: pd.DataFrame | None, decided: set[tuple[str, str]]) -> pd.DataFrame:
    if queue is None:
        return pd.DataFrame()
    done = [(r, p) in decided for r, p in zip(queue["partner_record"], queue["person"], strict=True)]
    return queue.loc[[not d for d in done]]


def next_pair(database: Database, viewer: Viewer, queue_path: Path) -> Review:
    """The best-scored pair no one has decided yet; the view is audited (which pair was shown)."""
    access.role_allowed(viewer, Action.linkage_review)
    queue = read_review_queue(queue_path)
    with database.write_session() as session:
        decided = _decided_pairs(session)
        waiting = _waiting(queue, decided)
        pair = pair_from(waiting.iloc[0]) if len(waiting) else None
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="linkage.review.view",
                     subject=pair.partner_record if pair else None,
                     detail={"person": pair.person if pair else None, "waiting": len(waiting)})
    total = 0 if queue is None else len(queue)
    return Review(pair=pair, waiting=len(waiting), decided=total - len(waiting), queue_found=queue is not None)


def decide(database: Database, viewer: Viewer, queue_path: Path, *, partner_record: str, person: str,
           decision: str, note: str | None = None) -> Decided:
    """Record the steward's decision on one queued pair; audited, committed before this returns."""
    access.role_allowed(viewer, Action.linkage_decide)
    if decision not in DECISIONS:
        raise Invalid("`decision` must be accept or reject")
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_LIMIT:
        raise Invalid(f"the note must be at most {NOTE_LIMIT} characters")
    queue = read_review_queue(queue_path)
    queued = queue is not None and bool(
        ((queue["partner_record"] == partner_record) & (queue["person"] == person)).any())
    if not queued:
        raise NotFound("this pair is not in the review queue: it may have been decided by the last build")
    now = datetime.now(UTC)
    with database.write_session() as session:
        if (partner_record, person) in _decided_pairs(session):
            raise Conflict("this pair has already been decided")
        session.add(LinkageDecision(partner_record=partner_record, person=person, decision=decision,
                                    decided_at=now, reviewer=viewer.subject, note=note))
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="linkage.decide",
                     subject=partner_record, detail={"person": person, "decision": decision,
                                                     "note": note is not None})
    return Decided(partner_record, person, decision, now, viewer.subject)
