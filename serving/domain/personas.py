"""Development sign-in: demo people picked from the processed data, one per kind of user.

Only in `environment = local`: a deployment signs people in through the council's identity
provider and these personas do not exist. Citizens are chosen by what they show off (one who
agreed to personalisation and has a history, one who has not agreed); the caseworker is the
one with the most households on open caseloads; analyst and admin are staff ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from serving.domain.auth import Role
from serving.infra.processed import ProcessedData
from serving.infra.tables import Caseload

ANALYST_ID = "analyst-demo"
ADMIN_ID = "admin-demo"
STEWARD_ID = "steward-demo"


@dataclass(frozen=True)
class Persona:
    key: str  # what the sign-in form posts; never the subject itself
    role: Role
    subject: str  # token `sub`: a pseudonym for a citizen, a staff id otherwise
    label: str
    hint: str


def _citizen(processed: ProcessedData, *, consented: bool) -> str | None:
    citizens = processed.citizens
    rows = citizens["row"].to_numpy()
    used = np.diff(processed.interactions.indptr)[rows]
    adult = citizens["age_min"].to_numpy() >= 18
    agreed = citizens["consent_personalisation"].fillna(False).to_numpy(dtype=bool)
    wanted = adult & (agreed if consented else ~agreed)
    if consented:
        wanted &= used >= 3
    candidates = citizens.loc[wanted, ["pseudonym"]].assign(used=used[wanted])
    if candidates.empty:
        return None
    # The most active qualifying citizen (ties by pseudonym): a stable, interesting demo.
    best = candidates.sort_values(["used", "pseudonym"], ascending=[False, True]).iloc[0]
    return str(best["pseudonym"])


def _caseworker(session: Session, today: date) -> str | None:
    open_now = or_(Caseload.end_date.is_(None), Caseload.end_date >= today)
    row = session.execute(
        select(Caseload.caseworker_id, func.count(func.distinct(Caseload.household)).label("n"))
        .where(Caseload.start_date <= today, open_now)
        .group_by(Caseload.caseworker_id)
        .order_by(func.count(func.distinct(Caseload.household)).desc(), Caseload.caseworker_id)
        .limit(1)
    ).first()
    return row[0] if row else None


def choose(processed: ProcessedData, session: Session, today: date) -> list[Persona]:
    """The demo people available in this build, in the order the sign-in page lists them."""
    people: list[Persona] = []
    sharing = _citizen(processed, consented=True)
    if sharing:
        people.append(Persona("citizen", Role.citizen, sharing, "Citizen who shares their data",
                              "Has agreed to personalisation: sees services suggested from what they use."))
    private = _citizen(processed, consented=False)
    if private:
        people.append(Persona("citizen-private", Role.citizen, private, "Citizen who has not agreed to personalisation",
                              "Sees services popular with people of their age in their area."))
    caseworker = _caseworker(session, today)
    if caseworker:
        people.append(Persona("caseworker", Role.caseworker, caseworker, "Caseworker",
                              "Sees the households on their open caseload and records decisions."))
    people.append(Persona("analyst", Role.analyst, ANALYST_ID, "Analyst",
                          "Sees model versions, metrics, calibration and fairness: no individual's data."))
    people.append(Persona("admin", Role.admin, ADMIN_ID, "Administrator",
                          "Everything an analyst sees, and promotes models through the gates."))
    people.append(Persona("data_steward", Role.data_steward, STEWARD_ID, "Data steward",
                          "Decides uncertain links between partner records and the council's index: nothing else."))
    return people
