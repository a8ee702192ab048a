"""Early-help indicators for a caseworker: band, calibrated probability, reasons, interventions.

A suggestion for a person to review, never a decision. The family's objection to early
intervention is checked at request time (a parent's objection covers the family), every
view is audited, and the caseload is ordered by the highest indicator in each household.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from serving.domain import access, audit, consent, erasure, feedback
from serving.domain.access import Action, Person
from serving.domain.auth import Viewer
from serving.domain.errors import Invalid, NotFound
from serving.domain.recommendations import Suggestion
from serving.infra.db import Database
from serving.infra.limits import Limits
from serving.infra.processed import ProcessedData
from serving.infra.registry import Models
from serving.infra.served import ServedLog
from serving.infra.tables import Caseload

NOTICE = (
    "A suggestion for a person to review, never a decision. "
    "This view is recorded in the audit trail."
)
BANDS = ("low", "medium", "high")


@dataclass(frozen=True)
class Factor:
    text: str  # e.g. "3 police domestic-abuse notifications in the last 12 months"
    direction: str  # "raises" or "lowers"


@dataclass(frozen=True)
class Indicator:
    """What a caseworker sees for one child: a band and its reasons, or why there is none."""

    available: bool
    notice: str
    band: str | None = None  # low, medium, high
    probability: float | None = None  # calibrated probability of an early-help outcome in 6 months
    factors: list[Factor] = field(default_factory=list)
    interventions: list[Suggestion] = field(default_factory=list)
    model_version: str | None = None


@dataclass(frozen=True)
class Household:
    household: str  # pseudonym
    priority: int  # 1 = review first
    band: str | None
    children_scored: int
    members: int
    since: str  # ISO date the household joined the caseload


@dataclass(frozen=True)
class CaseloadView:
    caseworker: str
    model_version: str | None
    households: list[Household]


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
                  ) -> list[Suggestion]:
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
    fields = processed.service_fields
    return [
        Suggestion(rank=s.rank, service_id=s.service_id, name=s.name,
                   category=fields.get(s.service_id, {}).get("category"),
                   provider=fields.get(s.service_id, {}).get("provider"), reason=s.reason,
                   means_tested=s.means_tested, eligibility_note=None, url=fields.get(s.service_id, {}).get("url"))
        for s in suggested
    ]


def family_objects(session: Session, processed: ProcessedData, person: Person) -> bool:
    """The child's own or any household member's current objection to early intervention."""
    people = [person.pseudonym] + (processed.members(person.household) if person.household else [])
    return consent.household_objects(session, sorted(set(people)))


def for_child(
    session: Session, person: Person, *, viewer: Viewer, models: Models, processed: ProcessedData,
    served: ServedLog | None,
) -> Indicator:
    """The indicator for one child; the view is audited in the caller's transaction."""
    version = models.early_help.version if models.early_help is not None else None
    detail: dict = {"model_version": version}
    if models.early_help is None:
        out = Indicator(available=False, notice="No early-help model is registered yet; nothing to show.")
    elif family_objects(session, processed, person):
        out = Indicator(available=False, model_version=version,
                           notice="The family has objected to early-intervention use of their data; no indicator is shown.")
    else:
        scored = _score(models, processed, [person.pseudonym]).get(person.pseudonym)
        if scored is None:
            out = Indicator(available=False, model_version=version,
                               notice="No indicator: this person is not a child in the current early-help build.")
        else:
            suggested = interventions(models, processed, person, scored.factors)
            out = Indicator(
                available=True, band=scored.band, probability=round(scored.probability, 4),
                factors=[Factor(text=f.text, direction=f.direction) for f in scored.factors],
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


def caseload(session: Session, *, viewer: Viewer, models: Models, processed: ProcessedData, today: date) -> CaseloadView:
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
    objecting = consent.objecting(session, everyone)
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
    return CaseloadView(
        caseworker=viewer.subject,
        model_version=models.early_help.version if models.early_help is not None else None,
        households=[
            Household(household=h, priority=i, band=best.band if best else None, children_scored=n,
                         members=m, since=since[h].isoformat())
            for i, (h, best, n, m) in enumerate(summary, start=1)
        ],
    )


def indicator(database: Database, viewer: Viewer, person: Person, *, models: Models, processed: ProcessedData,
              served: ServedLog | None, today: date) -> Indicator:
    """One child's indicator, if `viewer` may see it; the view is audited."""
    with database.write_session() as session:
        access.check(session, viewer, Action.early_help, person, today=today)
        erasure.require_present(session, person)
        return for_child(session, person, viewer=viewer, models=models, processed=processed, served=served)


def caseload_for(database: Database, viewer: Viewer, *, models: Models, processed: ProcessedData,
                 today: date) -> CaseloadView:
    """The caseworker's own caseload, if `viewer` is one; the view is audited."""
    access.role_allowed(viewer, Action.caseload)
    with database.write_session() as session:
        return caseload(session, viewer=viewer, models=models, processed=processed, today=today)


PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Child:
    number: int  # 1, 2, ... youngest first, as the page lists them
    pseudonym: str
    age_band: str
    indicator: Indicator


@dataclass(frozen=True)
class HouseholdView:
    household: str
    children: list[Child]
    adults: int


def household_members(session: Session, viewer: Viewer, processed: ProcessedData, household: str, *,
                      today: date) -> list[Person]:
    """The household's members, after the caseload check (refused before anything is read)."""
    if not PSEUDONYM.match(household):
        raise NotFound("there is no such household; open it from your caseload")
    access.check(session, viewer, Action.early_help, Person("", household, False), today=today)
    members = processed.members(household)
    if not members:
        raise NotFound("this household is not in the current build")
    return [Person(p, household, True) for p in members]


def children_of(processed: ProcessedData, people: list[Person]) -> list[tuple[Person, str]]:
    """Members aged 17 or under at the build date, youngest band first, with their age band."""
    citizens = processed.citizens
    out = []
    for person in people:
        row = citizens.loc[person.pseudonym]
        if row["age_max"] <= 17:
            out.append((person, str(row["age_band"]), int(row["age_min"])))
    out.sort(key=lambda item: (item[2], item[0].pseudonym))
    return [(person, band) for person, band, _ in out]


def household_view(database: Database, limits: Limits, viewer: Viewer, household: str, *, models: Models,
                   processed: ProcessedData, served: ServedLog | None, today: date) -> HouseholdView:
    """Each child's indicator in one household on the caseworker's caseload; each view audited."""
    access.role_allowed(viewer, Action.early_help)
    with database.write_session() as session:
        people = household_members(session, viewer, processed, household, today=today)
        children = []
        for number, (child, age_band) in enumerate(children_of(processed, people), start=1):
            limits.check_person(viewer.subject, child.pseudonym)
            access.check(session, viewer, Action.early_help, child, today=today)
            if erasure.is_erased(session, child.pseudonym):
                continue
            shown = for_child(session, child, viewer=viewer, models=models, processed=processed, served=served)
            children.append(Child(number, child.pseudonym, age_band, shown))
    return HouseholdView(household, children, len(people) - len(children))


def decide_for_child(database: Database, limits: Limits, viewer: Viewer, household: str, child: str, *,
                     service_id: str, decision: str | None, reason: str | None, processed: ProcessedData,
                     today: date) -> feedback.Recorded:
    """A caseworker's decision on a service suggested for a child of a household on their caseload."""
    access.role_allowed(viewer, Action.feedback_write)
    with database.write_session() as session:
        people = household_members(session, viewer, processed, household, today=today)
        if not PSEUDONYM.match(child) or child not in {p.pseudonym for p in people}:
            raise NotFound("that child is not in this household")
        person = Person(child, household, True)
        limits.check_person(viewer.subject, child)
        access.check(session, viewer, Action.feedback_write, person, today=today)
        if decision not in ("accepted", "declined"):
            raise Invalid("select whether the family accepted or declined this service")
        row = feedback.record(session, child, service_id=service_id, decision=decision, reason=reason,
                              viewer=viewer, processed=processed)
        return feedback.Recorded(row.id, row.decision, row.recorded_at)
