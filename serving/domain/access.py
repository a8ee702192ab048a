"""Who may do what to whose records — the rules as data, and one check that applies them.

A citizen reaches only their own records; a caseworker only people whose household is on an
open caseload of theirs; an analyst no individual-level data at all; an admin erases, reads
the audit trail, cuts off someone's sign-ins and answers subject access requests made on
paper; a partner system posts events under its own source and reads nothing individual; a data
steward only the uncertain partner-record links of the review queue (and only the compared
fields of the pair being decided); anyone signed in may sign out. Anything not listed is refused, and every refusal
carries a reason a person can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session

from serving.domain.auth import Role, Viewer
from serving.infra.db import Database
from serving.infra.tables import Caseload

Scope = Literal["self", "caseload", "any"]


class Action(StrEnum):
    recommendations = "read recommendations"
    early_help = "read early-help indicators"
    consent_read = "read consent"
    consent_change = "change consent"
    consent_override = "continue despite an objection (UK GDPR Art. 21)"
    subject_access = "read everything held about a person"
    events_write = "record usage events"
    feedback_write = "record feedback"
    erase = "erase a person"
    caseload = "read a caseload"
    audit = "read the audit trail"
    services = "read the service catalogue"
    models = "read which models are served"
    sign_out = "sign out"
    revoke = "revoke someone else's sign-ins"
    corrections_read = "read residents' correction requests"
    monitoring = "read early-help decision rates"
    linkage_review = "review uncertain partner-record links"
    linkage_decide = "decide an uncertain partner-record link"


#: action -> role -> scope. A role missing from an action's map is refused that action.
RULES: dict[Action, dict[Role, Scope]] = {
    Action.recommendations: {Role.citizen: "self", Role.caseworker: "caseload"},
    Action.early_help: {Role.caseworker: "caseload"},
    Action.consent_read: {Role.citizen: "self", Role.caseworker: "caseload", Role.admin: "any"},
    Action.consent_change: {Role.citizen: "self", Role.caseworker: "caseload", Role.admin: "any"},
    Action.consent_override: {Role.admin: "any"},
    Action.subject_access: {Role.citizen: "self", Role.admin: "any"},
    # Which source each may post under is a rule of its own (serving/domain/events.py, `provenance`).
    Action.events_write: {Role.citizen: "self", Role.caseworker: "caseload", Role.admin: "any", Role.partner: "any"},
    Action.feedback_write: {Role.citizen: "self", Role.caseworker: "caseload"},
    Action.erase: {Role.admin: "any"},
    Action.monitoring: {Role.analyst: "any", Role.admin: "any"},
    Action.caseload: {Role.caseworker: "any"},
    Action.audit: {Role.admin: "any"},
    Action.services: {r: "any" for r in Role},
    Action.models: {r: "any" for r in Role},
    Action.sign_out: {r: "self" for r in Role},
    Action.revoke: {Role.admin: "any"},
    Action.corrections_read: {Role.admin: "any"},
    Action.linkage_review: {Role.data_steward: "any"},
    Action.linkage_decide: {Role.data_steward: "any"},
}

#: Actions on one person's records (individual-level data).
PERSONAL = frozenset(
    {Action.recommendations, Action.early_help, Action.consent_read, Action.consent_change,
     Action.consent_override, Action.subject_access, Action.events_write, Action.feedback_write, Action.erase}
)


class Refused(Exception):
    """An authenticated request that the rules do not allow (answered 403 with `reason`)."""

    def __init__(self, reason: str, *, action: Action, code: str, subject: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.action = action
        self.code = code
        #: The pseudonym of the person whose records were asked for, when there was one (audited).
        self.subject = subject


@dataclass(frozen=True)
class Person:
    """A person as the service knows them: the pseudonym and their household's pseudonym."""

    pseudonym: str
    household: str | None
    known: bool  # present in the processed citizens table


def _article(role: Role) -> str:
    return "an" if role.value[0] in "aeiou" else "a"


def _role_words(role: Role) -> str:
    return role.value.replace("_", " ")


def role_allowed(viewer: Viewer, action: Action) -> Scope:
    """The viewer's scope for `action`, or Refused when their role may not do it at all."""
    scope = RULES[action].get(viewer.role)
    if scope is None:
        if viewer.role is Role.analyst and action in PERSONAL:
            reason = "an analyst may not see or change individual-level data; use the aggregate reports"
        else:
            reason = f"{_article(viewer.role)} {_role_words(viewer.role)} may not {action.value}"
        raise Refused(reason, action=action, code="role")
    return scope


_ON_CASELOAD = select(
    exists().where(
        Caseload.caseworker_id == bindparam("caseworker"),
        Caseload.household == bindparam("household"),
        Caseload.start_date <= bindparam("today"),
        or_(Caseload.end_date.is_(None), Caseload.end_date >= bindparam("today")),
    )
)


def on_open_caseload(session: Session | Database, caseworker_id: str, household: str, today: date) -> bool:
    """Whether the household is on an open caseload of this caseworker (Database: fast read path)."""
    params = {"caseworker": caseworker_id, "household": household, "today": today}
    if isinstance(session, Database):
        return bool(session.fetch(_ON_CASELOAD, params)[0][0])
    return bool(session.scalar(_ON_CASELOAD, params))


def check(session: Session | Database, viewer: Viewer, action: Action, person: Person, *, today: date) -> None:
    """Raise Refused (naming the person's pseudonym, for the audit trail) unless `viewer` may do
    `action` to `person`'s records."""
    try:
        scope = role_allowed(viewer, action)
    except Refused as refused:
        refused.subject = person.pseudonym
        raise
    if scope == "any":
        return
    if scope == "self":
        if viewer.subject != person.pseudonym:
            raise Refused("a citizen may only see and change their own records", action=action, code="not_self",
                          subject=person.pseudonym)
        return
    if person.household is None or not on_open_caseload(session, viewer.subject, person.household, today):
        raise Refused("this person's household is not on an open caseload of yours", action=action,
                      code="not_on_caseload", subject=person.pseudonym)
