"""Early-help indicators for a caseworker: band, calibrated probability, reasons, interventions.

A suggestion for a person to review, never a decision. The family's objection to early
intervention is checked at request time (a parent's objection covers the family), every
view is audited, and the caseload is ordered by the highest indicator in each household.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from serving import audit, consent
from serving.access import Person
from serving.auth import Viewer
from serving.models import Caseload
from serving.processed import ProcessedData
from serving.registry import Models
from serving.schemas import CaseloadOut, EarlyHelpOut, FactorOut, HouseholdOut, SuggestionOut
from serving.served import ServedLog

NOTICE = (
    "A suggestion for a person to review, never a decision. "
    "This view is recorded in the audit trail."
)
BANDS = ("low", "medium", "high")


@dataclass(frozen=True)
class Scored:
    probability: float
    band: str
    factors: list


def _score(models: Models, processed: ProcessedData, pseudonyms: list[str]) -> dict[str, Scored]:
    """Score the children among `pseudonyms` who are in the score table."""
    scorer = models.early_help.model if models.early_help is not None else None
    table = processed.early_help
    if scorer is None or table is None:
        return {}
    present = [p for p in pseudonyms if p in table.index]
    if not present:
        return {}
    X = table.loc[present, scorer.feature_names].to_numpy(dtype=np.float64, na_value=np.nan)
    scored = scorer.score(X)
    return {
        p: Scored(float(scored.probability[i]), str(scored.band[i]), scored.factors[i])
        for i, p in enumerate(present)
    }


def interventions(models: Models, processed: ProcessedData, person: Person, factors: list, *, k: int = 3
                  ) -> list[SuggestionOut]:
    """Eligible interventions for the child's household, matched to the reasons flagged."""
    from recommender.early_help_interventions import intervention_suggestions

    signposter = models.signposter
    if signposter is None:
        return []
    household = [p for p in processed.members(person.household) if p != person.pseudonym] if person.household else []
    interventions_offered = set(processed.services.index[processed.services["intervention"].astype(bool)])
    in_use = sorted({sid for p in [person.pseudonym, *household] if processed.knows(p)
                     for sid, _ in processed.history(p) if sid in interventions_offered})
    suggested = intervention_suggestions(signposter, person.pseudonym, factors,
                                         household_pseudonyms=household, in_use=in_use, k=k)
    return [
        SuggestionOut(rank=s.rank, service_id=s.service_id, name=s.name, reason=s.reason,
                      means_tested=s.means_tested, **processed.service_fields.get(s.service_id, {}))
        for s in suggested
    ]


def family_objects(session: Session, processed: ProcessedData, person: Person) -> bool:
    """The child's own or any household member's current objection to early intervention."""
    people = [person.pseudonym] + (processed.members(person.household) if person.household else [])
    return consent.household_objects(session, sorted(set(people)))


def for_child(
    session: Session, person: Person, *, viewer: Viewer, models: Models, processed: ProcessedData,
    served: ServedLog | None,
) -> EarlyHelpOut:
    """The indicator for one child; the view is audited in the caller's transaction."""
    version = models.early_help.version if models.early_help is not None else None
    detail: dict = {"model_version": version}
    if models.early_help is None:
        out = EarlyHelpOut(available=False, notice="No early-help model is registered yet; nothing to show.")
    elif family_objects(session, processed, person):
        out = EarlyHelpOut(available=False, model_version=version,
                           notice="The family has objected to early-intervention use of their data; no indicator is shown.")
    else:
        scored = _score(models, processed, [person.pseudonym]).get(person.pseudonym)
        if scored is None:
            out = EarlyHelpOut(available=False, model_version=version,
                               notice="No indicator: this person is not a child in the current early-help build.")
        else:
            suggested = interventions(models, processed, person, scored.factors)
            out = EarlyHelpOut(
                available=True, band=scored.band, probability=round(scored.probability, 4),
                factors=[FactorOut(text=f.text, direction=f.direction) for f in scored.factors],
                interventions=suggested, model_version=version, notice=NOTICE,
            )
            detail["band"] = scored.band
            if served is not None:
                served.record(person.pseudonym, kind="early_help", model_version=version or "",
                              personalised=True, service_ids=[s.service_id for s in suggested])
    detail["available"] = out.available
    audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="early_help.view",
                 subject=person.pseudonym, detail=detail)
    return out


def caseload(session: Session, *, viewer: Viewer, models: Models, processed: ProcessedData, today: date) -> CaseloadOut:
    """The caseworker's open households, highest indicator first (bands only, no scores)."""
    rows = session.execute(
        select(Caseload.household, Caseload.start_date).where(
            Caseload.caseworker_id == viewer.subject,
            Caseload.start_date <= today,
            or_(Caseload.end_date.is_(None), Caseload.end_date >= today),
        ).order_by(Caseload.start_date)
    ).all()
    since: dict[str, date] = {}
    for household, start in rows:
        since.setdefault(household, start)
    members = {h: processed.members(h) for h in since}
    everyone = sorted({p for people in members.values() for p in people})
    objecting = set()
    if everyone:
        objecting = {
            p for p, _ in session.execute(
                select(consent.ConsentState.pseudonym, consent.ConsentState.status).where(
                    consent.ConsentState.pseudonym.in_(everyone),
                    consent.ConsentState.purpose == "early_intervention",
                    consent.ConsentState.status.in_(("objected", "withdrawn")),
                )
            )
        }
    scorable = [p for h, people in members.items() if not objecting.intersection(people) for p in people]
    scores = _score(models, processed, scorable)
    summary = []
    for household, people in members.items():
        found = [scores[p] for p in people if p in scores]
        best = max(found, key=lambda s: s.probability) if found else None
        summary.append((household, best, len(found), len(people)))
    summary.sort(key=lambda item: (-(item[1].probability if item[1] else -1.0), since[item[0]], item[0]))
    audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="caseload.view",
                 subject=None, detail={"households": len(summary)})
    return CaseloadOut(
        caseworker=viewer.subject,
        model_version=models.early_help.version if models.early_help is not None else None,
        households=[
            HouseholdOut(household=h, priority=i, band=best.band if best else None, children_scored=n,
                         members=m, since=since[h].isoformat())
            for i, (h, best, n, m) in enumerate(summary, start=1)
        ],
    )
