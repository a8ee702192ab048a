"""Clerical review of uncertain partner-record links, for data stewards (serving/domain/linkage_review.py)."""

from __future__ import annotations

import math
from dataclasses import asdict

from fastapi import APIRouter

from serving.domain import linkage_review
from serving.http.api.citizens import REFUSALS, WRITES
from serving.http.deps import RuntimeDep, ViewerDep
from serving.http.schemas import LinkageDecisionIn, LinkageDecisionOut, ReviewOut

router = APIRouter(prefix="/linkage", tags=["linkage"])

def review_out(review: linkage_review.Review) -> dict:
    """The review as JSON: an infinite margin (no runner-up) becomes null."""
    out = asdict(review)
    if review.pair is not None and not math.isfinite(review.pair.margin_bits):
        out["pair"]["margin_bits"] = None
    return out


@router.get("/review", response_model=ReviewOut, responses=REFUSALS)
def next_pair(viewer: ViewerDep, runtime: RuntimeDep) -> dict:
    """Data stewards only: the best-scored undecided pair of the review queue, with its agreement
    pattern (values only where the two sides differ). Audited."""
    return review_out(linkage_review.next_pair(runtime.database, viewer, runtime.settings.review_queue_path))


@router.post(
    "/decisions", response_model=LinkageDecisionOut, status_code=201,
    responses=WRITES,  # 404: the pair is not in the review queue; 409: it has already been decided
)
def decide(body: LinkageDecisionIn, viewer: ViewerDep, runtime: RuntimeDep) -> linkage_review.Decided:
    """Data stewards only: accept or reject one queued pair; the next feature build uses it. Audited."""
    return linkage_review.decide(runtime.database, viewer, runtime.settings.review_queue_path,
                                 partner_record=body.partner_record, person=body.person,
                                 decision=body.decision, note=body.note)


