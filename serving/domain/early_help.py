"""Early-help indicators for a caseworker: band, calibrated probability, reasons, interventions.

A suggestion for a person to review, never a decision. The family's objection to early
intervention is checked at request time (a parent's objection covers the family), every
view is audited, and the caseload is ordered by the highest indicator in each household.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from recommender.early_help import CONTEXT_HEADING, CONTEXT_SENTENCE
from recommender.early_help_interventions import household_suggestions, intervention_suggestions
from serving.domain import access, audit, consent, erasure
from serving.domain.access import Action, Person
from serving.domain.auth import Viewer
from serving.domain.errors import Invalid, NotFound
from serving.domain.recommendations import Suggestion
from serving.infra.db import Database
from serving.infra.limits import Limits
from serving.infra.processed import ProcessedData
from serving.infra.registry import Models
from serving.infra.served import ServedLog
from serving.infra.tables import (
    Caseload,
    EarlyHelpDecision,
    EarlyHelpRequest,
    utc_text,
)

NOTICE = (
    "A suggestion for a person to review, never a decision. "
    "This view is recorded in the audit trail."
)
BANDS = ("low", "medium", "high")
#: How household composition and age are presented: context, never "raises" or "lowers".
CONTEXT = {"heading": CONTEXT_HEADING, "sentence": CONTEXT_SENTENCE}


@dataclass(frozen=True)
class Factor:
    text: str  # e.g. "3 police notifications about the child concerning domestic abuse (last 12 months)"
    direction: str  # "raises" or "lowers"


@dataclass(frozen=True)
class Meaning:
    """What the indicator means, from the model's last evaluation (`IndicatorMeaning.explain`).

    The sentences are the registered model's own, so the page, the model card and the
    transparency record say the same thing.
    """

    band_meaning: str  # "In the last evaluation, about 1 in 4 children with this band ..."
    probability_sentence: str  # the calibrated probability with the interval around it
    probability_low: float
    probability_high: float
    capacity_sentence: str  # precision and recall at the team's capacity
    precision_at_capacity: float
    recall_at_capacity: float
    capacity: int
    evaluated_on: str


@dataclass(frozen=True)
class HouseholdSupport:
    """Support for another member of the household that answers a need behind a child's factors."""

    service_id: str
    name: str
    provider: str | None
    for_whom: str  # role and age band, never an id
    reason: str  # shareable: names no sensitive service
    for_children: tuple[int, ...] = ()  # the numbers of the children whose factors it answers


@dataclass(frozen=True)
class Indicator:
    """What a caseworker sees for one child: a band and its reasons, or why there is none."""

    available: bool
    notice: str
    band: str | None = None  # low, medium, high
    probability: float | None = None  # calibrated probability of an early-help outcome in 6 months
    factors: list[Factor] = field(default_factory=list)
    #: Household composition and the child's age as the model takes them into account: context,
    #: never "raises" or "lowers" (family shape is not a reason).
    context: list[str] = field(default_factory=list)
    interventions: list[Suggestion] = field(default_factory=list)
    model_version: str | None = None
    meaning: Meaning | None = None  # None for a model registered without its meaning
    household_support: list[HouseholdSupport] = field(default_factory=list)


@dataclass(frozen=True)
class Household:
    household: str  # pseudonym
    priority: int  # 1 = review first
    band: str | None
    children_scored: int
    members: int
    since: str  # ISO date the household joined the caseload
    latest: Decision | None = None  # the newest decision for any child; None = not reviewed
    review_requested: bool = False  # the family asked for a review after the latest decision

    @property
    def reviewed(self) -> bool:
        return self.latest is not None


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
    context: list[str] = field(default_factory=list)  # composition and age, no direction


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
    context = scored.context or [[] for _ in present]  # a model pickled before context existed
    return {
        p: Scored(float(scored.probability[i]), str(scored.band[i]), scored.factors[i], context[i])
        for i, p in enumerate(present)
    }


def sensitive_names(processed: ProcessedData) -> tuple[str, ...]:
    """Names of the catalogue's sensitive services (contract v2 ``sensitive``), longest first."""
    services = processed.services
    if "sensitive" not in services.columns:
        return ()
    names = services.loc[services["sensitive"].fillna(False).astype(bool), "name"].astype(str)
    return tuple(sorted(set(names), key=lambda name: (-len(name), name)))


def shareable_factor(text: str, sensitive: tuple[str, ...]) -> str:
    """A factor's words without the sensitive service it counts.

    Factor labels read "<records> <whose> concerning <kind of concern> (<window>)" and never
    name a service; models built before that read "<records> <whose> (<service name>,
    <window>)", and for them the shareable form keeps the records, whose and window ("1
    police notification about the child (last 12 months)"). Staff and family views both pass
    every factor through here, so no view names a sensitive service whichever model serves.
    """
    for name in sensitive:
        text = text.replace(f"({name}, ", "(").replace(f"({name})", "").replace(name, "a related service")
    return text


def shareable_reason(suggested, processed: ProcessedData, sensitive: tuple[str, ...]) -> str:
    """An intervention's reason that names no sensitive service: the need and the factor behind it."""
    from recommender.early_help_interventions import reason

    alongside = None
    if suggested.alongside and suggested.alongside in processed.services.index:
        name = str(processed.services.at[suggested.alongside, "name"])
        alongside = "another service" if name in sensitive else name
    return reason(suggested.needs, shareable_factor(suggested.factor, sensitive), alongside)


def _family(processed: ProcessedData, person: Person) -> tuple[list[str], list[str]]:
    """The child's other household members, and the interventions any of them already uses."""
    household = [p for p in processed.members(person.household) if p != person.pseudonym] if person.household else []
    interventions_offered = set(processed.services.index[processed.services["intervention"].astype(bool)])
    in_use = sorted({sid for p in [person.pseudonym, *household] if processed.knows(p)
                     for sid, _ in processed.history(p) if sid in interventions_offered})
    return household, in_use


def interventions(models: Models, processed: ProcessedData, person: Person, factors: list, *, k: int = 3
                  ) -> list[Suggestion]:
    """Interventions the child is eligible for that answer a need behind the child's own factors."""
    signposter = models.signposter
    if signposter is None:
        return []
    household, in_use = _family(processed, person)
    suggested = intervention_suggestions(signposter, person.pseudonym, factors,
                                         household_pseudonyms=household, in_use=in_use, k=k)
    fields = processed.service_fields
    sensitive = sensitive_names(processed)
    return [
        Suggestion(rank=s.rank, service_id=s.service_id, name=s.name,
                   category=fields.get(s.service_id, {}).get("category"),
                   provider=fields.get(s.service_id, {}).get("provider"),
                   reason=shareable_reason(s, processed, sensitive),
                   means_tested=s.means_tested, eligibility_note=None, url=fields.get(s.service_id, {}).get("url"))
        for s in suggested
    ]


def household_support(models: Models, processed: ProcessedData, person: Person, factors: list, *, k: int = 3
                      ) -> list[HouseholdSupport]:
    """Support another member is eligible for (the child is not), answering a need behind the child's factors."""
    signposter = models.signposter
    if signposter is None:
        return []
    household, in_use = _family(processed, person)
    suggested = household_suggestions(signposter, person.pseudonym, factors,
                                      household_pseudonyms=household, in_use=in_use, k=k)
    sensitive = sensitive_names(processed)
    return [
        HouseholdSupport(service_id=s.service_id, name=s.name,
                         provider=processed.service_fields.get(s.service_id, {}).get("provider"),
                         for_whom=s.for_whom, reason=shareable_reason(s, processed, sensitive))
        for s in suggested
    ]


def meaning_of(models: Models, probability: float, band: str) -> Meaning | None:
    """The registered model's own words for what this band and probability mean."""
    scorer = models.early_help.model if models.early_help is not None else None
    meaning = getattr(scorer, "meaning", None)
    if meaning is None:
        return None
    told = meaning.explain(probability, band)
    return Meaning(
        band_meaning=told["band_meaning"], probability_sentence=told["probability_sentence"],
        probability_low=float(told["probability_low"]), probability_high=float(told["probability_high"]),
        capacity_sentence=told["capacity_sentence"], precision_at_capacity=float(told["precision_at_capacity"]),
        recall_at_capacity=float(told["recall_at_capacity"]), capacity=int(told["capacity"]),
        evaluated_on=str(told["evaluated_on"]),
    )


@dataclass(frozen=True)
class Help:
    """The workspace help: what each band means and how the model does at the team's capacity."""

    model_version: str | None
    bands: list[tuple[str, str]]  # (band, what it means)
    capacity_sentence: str | None
    evaluated_on: str | None


def workspace_help(models: Models) -> Help:
    """What the help page says about the indicator, in the registered model's own sentences."""
    scorer = models.early_help.model if models.early_help is not None else None
    meaning = getattr(scorer, "meaning", None)
    version = models.early_help.version if models.early_help is not None else None
    if meaning is None:
        return Help(version, [], None, None)
    return Help(version, [(b.band, b.sentence(meaning.label_months)) for b in meaning.bands],
                meaning.capacity_sentence(), meaning.evaluated_on)


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
            sensitive = sensitive_names(processed)
            out = Indicator(
                available=True, band=scored.band, probability=round(scored.probability, 4),
                factors=[Factor(text=shareable_factor(f.text, sensitive), direction=f.direction)
                         for f in scored.factors],
                context=scored.context,
                interventions=suggested, model_version=version, notice=NOTICE,
                meaning=meaning_of(models, scored.probability, scored.band),
                household_support=household_support(models, processed, person, scored.factors),
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
    latest = latest_by_household(session, processed, list(since))
    asked = {h: max(reviews_by_child(session, h).values(), default=None) for h in since}
    audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="caseload.view",
                 subject=None, detail={"households": len(summary)})
    return CaseloadView(
        caseworker=viewer.subject,
        model_version=models.early_help.version if models.early_help is not None else None,
        households=[
            Household(household=h, priority=i, band=best.band if best else None, children_scored=n,
                      members=m, since=since[h].isoformat(), latest=latest.get(h),
                      review_requested=_after(asked[h], latest.get(h)))
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


def workspace_help_for(viewer: Viewer, models: Models) -> Help:
    """The workspace help, for staff who may see caseloads."""
    access.role_allowed(viewer, Action.caseload)
    return workspace_help(models)


def _after(asked: datetime | None, latest: Decision | None) -> bool:
    """A review request still open: made, and no decision recorded since."""
    if asked is None:
        return False
    return latest is None or utc_text(asked) > utc_text(latest.recorded_at)


NOT_ON_CASELOAD = "no family with that reference is on your open caseload"


def find_household(database: Database, limits: Limits, viewer: Viewer, *, person: str, household: str,
                   processed: ProcessedData, today: date) -> str:
    """The household of a council reference the caseworker typed (pseudonymised on arrival, as a
    person and as a household reference), if it is on their open caseload.

    Unknown, and known but on someone else's caseload, answer the same, so the lookup tells a
    caseworker nothing about families outside their caseload; every lookup is audited.
    """
    access.role_allowed(viewer, Action.caseload)
    limits.check_person(viewer.subject, person)
    candidates = [h for h in (processed.household_of(person), household if processed.members(household) else None)
                  if h]
    with database.write_session() as session:
        found = next((h for h in candidates if access.on_open_caseload(session, viewer.subject, h, today)), None)
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="caseload.lookup",
                     subject=found, detail={"found": found is not None})
    if found is None:
        raise NotFound(NOT_ON_CASELOAD)
    return found


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
    history: list = field(default_factory=list)  # Decision, newest first


@dataclass(frozen=True)
class HouseholdView:
    household: str
    children: list[Child]
    adults: int
    support: list[HouseholdSupport] = field(default_factory=list)  # for other members, each saying for whom
    reviews: list = field(default_factory=list)  # ReviewRequest: the family asked for a review


def support_for_household(children: list[Child]) -> list[HouseholdSupport]:
    """Each child's household-level support once, saying which children's factors it answers."""
    merged: dict[str, HouseholdSupport] = {}
    for child in children:
        for s in child.indicator.household_support:
            seen = merged.get(s.service_id)
            numbers = (*seen.for_children, child.number) if seen else (child.number,)
            merged[s.service_id] = replace(seen or s, for_children=numbers)
    return list(merged.values())


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
        history = histories(session, processed, [c.pseudonym for c in children])
        children = [replace(c, history=history[c.pseudonym]) for c in children]
        reviews = review_requests(session, household, children)
    return HouseholdView(household, children, len(people) - len(children), support_for_household(children), reviews)


#: What a practitioner records, in the words the page uses. Every decision needs a reason.
DECISIONS: dict[str, str] = {
    "offered_accepted": "Offered, and the family accepted",
    "offered_declined": "Offered, and the family declined",
    "not_offered_not_suitable": "Not offered: not suitable",
    "not_offered_already_supported": "Not offered: the family is already supported",
    "not_offered_other": "Not offered: another reason",
    "disagree": "I disagree with the indicator",
}
#: Decisions about a suggested intervention (the rest are about the indicator itself).
SERVICE_DECISIONS = tuple(d for d in DECISIONS if d != "disagree")
#: Decisions that set a suggestion aside: counted as overrides in monitoring.
OVERRIDES = tuple(d for d in DECISIONS if d.startswith("not_offered"))


@dataclass(frozen=True)
class Decision:
    """One entry of a child's history: who (staff id), when, what, and why."""

    decision: str
    label: str
    service: str | None  # the intervention's name; None for a disagreement with the indicator
    reason: str
    actor: str
    recorded_at: datetime
    band: str | None


def _decision(row: EarlyHelpDecision, processed: ProcessedData) -> Decision:
    service = None
    if row.service_id is not None:
        known = row.service_id in processed.services.index
        service = str(processed.services.at[row.service_id, "name"]) if known else row.service_id
    return Decision(row.decision, DECISIONS.get(row.decision, row.decision), service, row.reason, row.actor,
                    row.recorded_at, row.band)


def histories(session: Session, processed: ProcessedData, children: list[str]) -> dict[str, list[Decision]]:
    """Each child's decisions, newest first."""
    out: dict[str, list[Decision]] = {child: [] for child in children}
    if not children:
        return out
    rows = session.scalars(select(EarlyHelpDecision).where(EarlyHelpDecision.pseudonym.in_(children))
                           .order_by(EarlyHelpDecision.id.desc()))
    for row in rows:
        out[row.pseudonym].append(_decision(row, processed))
    return out


def latest_by_household(session: Session, processed: ProcessedData, households: list[str]
                        ) -> dict[str, Decision]:
    """The newest decision recorded for any child of each household (reviewed when present)."""
    out: dict[str, Decision] = {}
    if not households:
        return out
    rows = session.scalars(select(EarlyHelpDecision).where(EarlyHelpDecision.household.in_(households))
                           .order_by(EarlyHelpDecision.id.desc()))
    for row in rows:
        out.setdefault(row.household, _decision(row, processed))
    return out


def decide_for_child(database: Database, limits: Limits, viewer: Viewer, household: str, child: str, *,
                     decision: str | None, reason: str | None, service_id: str | None, models: Models,
                     processed: ProcessedData, today: date) -> Decision:
    """Record a practitioner's decision about a child of a household on their caseload (audited)."""
    access.role_allowed(viewer, Action.feedback_write)
    with database.write_session() as session:
        people = household_members(session, viewer, processed, household, today=today)
        if not PSEUDONYM.match(child) or child not in {p.pseudonym for p in people}:
            raise NotFound("that child is not in this household")
        person = Person(child, household, True)
        limits.check_person(viewer.subject, child)
        access.check(session, viewer, Action.feedback_write, person, today=today)
        erasure.require_present(session, person)
        if decision not in DECISIONS:
            raise Invalid("select what you decided")
        if not reason:
            raise Invalid("a decision needs a reason: say why, in a sentence for the case record")
        if decision in SERVICE_DECISIONS:
            services = processed.services
            if not service_id or service_id not in services.index or not bool(services.at[service_id, "intervention"]):
                raise Invalid("choose the intervention this decision is about")
        else:
            service_id = None
        scored = _score(models, processed, [child]).get(child)
        row = EarlyHelpDecision(
            pseudonym=child, household=household, decision=decision, service_id=service_id, reason=reason,
            band=scored.band if scored else None,
            model_version=models.early_help.version if models.early_help is not None else None,
            actor=viewer.subject, recorded_at=datetime.now(UTC),
        )
        session.add(row)
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="early_help.decision",
                     subject=child, detail={"decision": decision, "service_id": service_id})
        session.flush()
        return _decision(row, processed)


@dataclass(frozen=True)
class DecisionRate:
    """Disagreement and override rates in one group of children (None when suppressed)."""

    attribute: str  # team (the child's local authority area), sex, ethnicity, disability
    group: str
    children_reviewed: int | None  # None: fewer than k, suppressed
    disagreement_rate: float | None
    override_rate: float | None


RATE_ATTRIBUTES = {"local_authority": "team (area)", "sex": "sex", "ethnicity": "ethnicity",
                   "disability": "disability"}


def decision_rates(session: Session, processed: ProcessedData, *, k: int) -> list[DecisionRate]:
    """Per team and protected group: the share of reviewed children with a disagreement, and with
    a suggestion set aside (an override). Groups with fewer than `k` reviewed children are
    suppressed (the analyst sees that a group exists, not its figures)."""
    rows = session.execute(select(EarlyHelpDecision.pseudonym, EarlyHelpDecision.decision)).all()
    reviewed: dict[str, set[str]] = {}
    for pseudonym, decision in rows:
        reviewed.setdefault(pseudonym, set()).add(decision)
    citizens = processed.citizens
    known = [p for p in reviewed if p in citizens.index]
    out = []
    for column, attribute in RATE_ATTRIBUTES.items():
        if column not in citizens.columns:
            continue
        groups: dict[str, list[str]] = {}
        for p in known:
            value = citizens.at[p, column]
            groups.setdefault("unknown" if pd.isna(value) else str(value), []).append(p)
        for group, children in sorted(groups.items()):
            n = len(children)
            if n < k:
                out.append(DecisionRate(attribute, group, None, None, None))
                continue
            disagree = sum("disagree" in reviewed[p] for p in children)
            overridden = sum(bool(reviewed[p] & set(OVERRIDES)) for p in children)
            out.append(DecisionRate(attribute, group, n, disagree / n, overridden / n))
    return out


def decision_rates_for(database: Database, viewer: Viewer, processed: ProcessedData, *, k: int
                       ) -> list[DecisionRate]:
    """Monitoring after deployment, for analysts: rates only, no individual or household."""
    access.role_allowed(viewer, Action.monitoring)
    with database.write_session() as session:
        return decision_rates(session, processed, k=k)


# --------------------------------------------------------------- the family's view -----

WHO_CAN_SEE = ("Only the caseworkers with your household on their open caseload, in the council's early help "
               "team. Every time they look, it is recorded. Analysts see only totals, never your family.")


@dataclass(frozen=True)
class ReviewRequest:
    """A family's request for a review of a child's indicator, as the caseworker sees it."""

    child_number: int
    note: str | None
    recorded_at: datetime


#: What the family is told about the factors, by `Settings.early_help_family_factors`.
FACTORS_WITHHELD = ("The council's safeguarding lead has decided that the individual records behind the indicator "
                    "are not shown here. A caseworker can talk them through with you.")


@dataclass(frozen=True)
class FamilyRequest:
    """A request the family made about a child's indicator, and where it stands."""

    kind: str  # "review" or "object"
    recorded_at: datetime
    note: str | None
    state: str  # plain words: "Waiting for the caseworker", "Answered: a caseworker recorded a decision on ..."

    def as_record(self) -> dict:
        return {"kind": self.kind, "recorded_at": self.recorded_at.isoformat(), "note": self.note,
                "state": self.state}


@dataclass(frozen=True)
class ChildStatus:
    """What a parent is told about one child: whether an indicator is held and what it is based on."""

    number: int
    age_band: str
    held: bool
    factors: list[str]  # the raising factors, in the shareable words (no sensitive service named)
    review_requested: datetime | None
    context: list[str] = field(default_factory=list)  # household composition and age, no direction
    requests: list[FamilyRequest] = field(default_factory=list)  # oldest first

    def as_record(self, factors_shown: str) -> dict:
        based_on: dict = {"context": self.context}
        if factors_shown == "hidden":
            based_on["records"] = None
            based_on["records_withheld"] = FACTORS_WITHHELD
        else:
            based_on["records"] = self.factors
        return {"child": self.number, "age_band": self.age_band, "indicator_held": self.held,
                "based_on": based_on if self.held else None,
                "requests": [r.as_record() for r in self.requests]}


@dataclass(frozen=True)
class FamilyView:
    objected: bool  # someone in the household objected to early-intervention use of their data
    adult: bool  # the viewer is an adult of the household (only adults may ask for a review)
    children: list[ChildStatus]
    who_can_see: str = WHO_CAN_SEE
    factors_shown: str = "by_source"  # Settings.early_help_family_factors
    factors_withheld: str = FACTORS_WITHHELD

    def as_record(self) -> dict:
        """The family's early-help status as subject access returns it (JSON-ready)."""
        return {"objected": self.objected, "who_can_see": self.who_can_see, "factors_shown": self.factors_shown,
                "children": [c.as_record(self.factors_shown) for c in self.children]}


def _children_of_household(processed: ProcessedData, household: str | None) -> list[tuple[Person, str]]:
    if not household:
        return []
    return children_of(processed, [Person(p, household, True) for p in processed.members(household)])


def reviews_by_child(session: Session, household: str) -> dict[str, datetime]:
    """The latest review request per child of the household."""
    rows = session.execute(select(EarlyHelpRequest.pseudonym, EarlyHelpRequest.recorded_at).where(
        EarlyHelpRequest.household == household, EarlyHelpRequest.kind == "review").order_by(EarlyHelpRequest.id))
    return {p: at for p, at in rows}


def _request_state(row: EarlyHelpRequest, latest: Decision | None, objected: bool) -> str:
    if row.kind == "object":
        return "In force: no indicator is worked out" if objected else "Ended: the household's choice changed since"
    if latest is not None and utc_text(latest.recorded_at) > utc_text(row.recorded_at):
        return f"Answered: a caseworker recorded a decision on {latest.recorded_at:%-d %B %Y}"
    return "Waiting for the caseworker to look again"


def family_status(session: Session, person: Person, *, models: Models, processed: ProcessedData,
                  factors_shown: str) -> FamilyView:
    """Is an early-help indicator held for the children of `person`'s household, on what, and what
    the family asked; the caller checks access and audits (the portal and subject access share it).

    `factors_shown` is `Settings.early_help_family_factors`: the council's safeguarding lead
    decides how much of each factor the family sees; none of the choices names a sensitive service.
    """
    household = person.household
    children = _children_of_household(processed, household)
    adult = person.known and int(processed.citizens.at[person.pseudonym, "age_min"]) >= 18
    objected = family_objects(session, processed, person)
    scores = {} if objected else _score(models, processed, [c.pseudonym for c, _ in children])
    requests: dict[str, list[EarlyHelpRequest]] = {}
    if household:
        for row in session.scalars(select(EarlyHelpRequest).where(EarlyHelpRequest.household == household)
                                   .order_by(EarlyHelpRequest.id)):
            requests.setdefault(row.pseudonym, []).append(row)
    decided = histories(session, processed, [c.pseudonym for c, _ in children])
    sensitive = sensitive_names(processed)
    shown = []
    for number, (child, age_band) in enumerate(children, start=1):
        scored = scores.get(child.pseudonym)
        raising = [f for f in (scored.factors if scored else []) if f.direction == "raises"]
        if factors_shown == "hidden":
            factors = []
        elif factors_shown == "with_concern":
            factors = [shareable_factor(f.text, sensitive) for f in raising]
        else:
            factors = [shareable_factor(getattr(f, "by_source", "") or f.text, sensitive) for f in raising]
        latest = next(iter(decided.get(child.pseudonym, [])), None)
        asked = [FamilyRequest(r.kind, r.recorded_at, r.note, _request_state(r, latest, objected))
                 for r in requests.get(child.pseudonym, [])]
        reviews = [r.recorded_at for r in asked if r.kind == "review"]
        shown.append(ChildStatus(number, age_band, scored is not None, factors, reviews[-1] if reviews else None,
                                 scored.context if scored else [], asked))
    return FamilyView(objected, adult, shown, factors_shown=factors_shown)


def family_view(database: Database, viewer: Viewer, person: Person, *, models: Models, processed: ProcessedData,
                today: date, factors_shown: str) -> FamilyView:
    """For a citizen's own page: is an early-help indicator held for the children of their household?"""
    access.role_allowed(viewer, Action.subject_access)
    with database.write_session() as session:
        access.check(session, viewer, Action.subject_access, person, today=today)
        erasure.require_present(session, person, yourself=True)
        shown = family_status(session, person, models=models, processed=processed, factors_shown=factors_shown)
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject, action="early_help.family_view",
                     subject=person.pseudonym, detail={"children": len(shown.children)})
    return shown


def request_review(database: Database, viewer: Viewer, person: Person, *, child_number: str, note: str | None,
                   processed: ProcessedData, today: date) -> ChildStatus:
    """A parent asks for a review of a child's indicator: recorded, audited, shown to the caseworker."""
    access.role_allowed(viewer, Action.subject_access)
    with database.write_session() as session:
        access.check(session, viewer, Action.subject_access, person, today=today)
        erasure.require_present(session, person, yourself=True)
        if not person.known or int(processed.citizens.at[person.pseudonym, "age_min"]) < 18:
            raise Invalid("only an adult of the household can ask for a review")
        children = _children_of_household(processed, person.household)
        if not child_number.isdigit() or not 1 <= int(child_number) <= len(children):
            raise Invalid("choose which child the review is about")
        number = int(child_number)
        child, age_band = children[number - 1]
        now = datetime.now(UTC)
        session.add(EarlyHelpRequest(pseudonym=child.pseudonym, household=person.household, kind="review",
                                     requested_by=person.pseudonym, note=note or None, recorded_at=now))
        audit.append(session, actor_role=viewer.role.value, actor=viewer.subject,
                     action="early_help.review_requested", subject=child.pseudonym, detail={"kind": "review"})
        session.flush()
    return ChildStatus(number, age_band, True, [], now)


def review_requests(session: Session, household: str, children: list[Child]) -> list[ReviewRequest]:
    """The family's review requests for the caseworker's household page, newest first."""
    numbers = {c.pseudonym: c.number for c in children}
    rows = session.scalars(select(EarlyHelpRequest).where(EarlyHelpRequest.household == household,
                                                          EarlyHelpRequest.kind == "review")
                           .order_by(EarlyHelpRequest.id.desc()))
    return [ReviewRequest(numbers[r.pseudonym], r.note, r.recorded_at) for r in rows if r.pseudonym in numbers]
