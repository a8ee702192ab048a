"""Suggested interventions for a flagged child: eligible for that child, matched by need, explained.

Interventions are data, not patterns over names: each intervention service lists the needs
it addresses (services ``needs``, DATA_CONTRACT v2) and its eligibility (``min_age``,
``max_age``, ``districts``, ``active``); each factor of the early-help indicator carries the
needs behind it (a concern-indicator service's ``needs``, see ``features.early_help``). A
suggestion is made only where the two meet:

- **for the child** (:func:`intervention_suggestions`): an active intervention the child is
  eligible for (their age band lies inside its age range, it is offered in their district),
  not already in use, that addresses a need behind one of the child's raising factors;
- **for the household** (:func:`household_suggestions`): an active intervention the child is
  not eligible for but another member is (e.g. domestic-abuse outreach or a parenting course
  for an adult), addressing a need behind one of the child's raising factors, saying whom it
  is for by role and age band — never by any identifier.

Eligibility comes from the ``Signposter``'s per-segment masks (age band × district, active
services), the same rules as signposting. Among the matches, ranking is

    ``score = match + uptake_weight × uptake``

- ``match`` (0–1): the share of the child's raising log-odds carried by factors whose needs
  the service addresses;
- ``uptake`` (0–1): the larger of the service's popularity in the eligible person's segment
  (relative to the most popular candidate) and its similarity to interventions the family
  already uses.

Every reason names the factor it answers and the need they share. The caseworker decides;
the tool refers no one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recommender.eligibility import eligible
from recommender.signposting import Signposter

#: The contract's needs (``features.contract.NEEDS``) in a caseworker's words.
NEED_WORDS: dict[str, str] = {
    "domestic_abuse": "domestic abuse",
    "school_attendance": "school attendance",
    "youth_safety": "young people's safety",
    "money_housing": "money and housing",
    "health_wellbeing": "health and wellbeing",
    "family_support": "family support",
    "caring": "caring responsibilities",
    "learning": "learning",
}


@dataclass(frozen=True)
class InterventionSuggestion:
    """One intervention a caseworker might discuss for the child, and why."""

    service_id: str
    name: str
    category: str
    score: float
    reason: str
    means_tested: bool
    rank: int
    needs: tuple[str, ...] = ()  # the needs it addresses that lie behind the child's factors
    factor: str = ""  # the text of the factor it answers best
    alongside: str = ""  # the service id of the family's intervention named in the reason, if any

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "service_id": self.service_id, "name": self.name,
            "category": self.category, "score": self.score, "reason": self.reason,
            "means_tested": self.means_tested, "needs": list(self.needs), "factor": self.factor,
            "alongside": self.alongside,
        }


@dataclass(frozen=True)
class HouseholdSuggestion(InterventionSuggestion):
    """Support for another member of the child's household, and whom it is for."""

    for_whom: str = ""  # "an adult aged 35-49 in the household" — role and age band only

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "for_whom": self.for_whom}


def _get(factor: Any, key: str, default: Any = None) -> Any:
    if isinstance(factor, Mapping):
        return factor.get(key, default)
    return getattr(factor, key, default)


def service_needs(catalogue: Mapping[str, np.ndarray]) -> list[frozenset[str]]:
    """The needs each catalogue service addresses (empty where none are listed)."""
    values = catalogue.get("needs")
    n = len(catalogue["service_id"])
    if values is None:
        return [frozenset()] * n
    out = []
    for value in values:
        if value is None or isinstance(value, (float, str)):
            listed = [] if value is None or isinstance(value, float) else str(value).split(";")
        else:
            listed = list(value)
        out.append(frozenset(str(v).strip() for v in listed if str(v).strip()))
    return out


def need_match(factors: Sequence[Any], needs: Sequence[frozenset[str]]
               ) -> tuple[np.ndarray, list[Any], list[frozenset[str]]]:
    """How much of the flag each service answers, through which factor and which needs.

    Parameters
    ----------
    factors : sequence of Factor (or dicts with ``text``, ``contribution``, ``needs``)
        The child's factors; only raising ones (positive contribution) with needs count.
    needs : sequence of length n_services of frozenset of str
        What each service addresses (:func:`service_needs`).

    Returns
    -------
    match : ndarray of shape (n_services,), float in [0, 1]
        Share of the raising log-odds carried by factors whose needs the service addresses.
    best_factor : list of length n_services
        The matching factor with the largest contribution (None where nothing matches).
    shared : list of length n_services of frozenset
        The needs the service shares with that factor.
    """
    n = len(needs)
    match = np.zeros(n)
    best: list[Any] = [None] * n
    shared: list[frozenset[str]] = [frozenset()] * n
    raising = [f for f in factors if float(_get(f, "contribution", 0.0)) > 0]
    total = sum(float(_get(f, "contribution")) for f in raising)
    if total <= 0:
        return match, best, shared
    for factor in sorted(raising, key=lambda f: -float(_get(f, "contribution"))):
        behind = frozenset(_get(factor, "needs", ()) or ())
        if not behind:
            continue
        weight = float(_get(factor, "contribution")) / total
        for i, addressed in enumerate(needs):
            common = behind & addressed
            if common:
                match[i] += weight
                if best[i] is None:
                    best[i], shared[i] = factor, common
    return np.minimum(match, 1.0), best, shared


def intervention_suggestions(
    signposter: Signposter,
    child_pseudonym: str,
    factors: Sequence[Any],
    *,
    household_pseudonyms: Sequence[str] = (),
    in_use: Sequence[str] = (),
    k: int = 3,
    uptake_weight: float = 0.5,
) -> list[InterventionSuggestion]:
    """Interventions for the child: eligible for the child, answering a raising factor's need.

    Parameters
    ----------
    signposter : Signposter
        Built with the processed folder's catalogue (its ``needs`` column included).
    child_pseudonym : str
    factors : sequence of Factor or dicts
        The child's top factors from the early-help scorer (with their ``needs``).
    household_pseudonyms : sequence of str
        Other household members (their interventions in use seed similarity).
    in_use : sequence of service ids
        Interventions the family already uses (never suggested again).
    k : int
    uptake_weight : float

    Returns
    -------
    list of InterventionSuggestion (at most k), best first.
    """
    plan = _Plan(signposter, child_pseudonym, factors, household_pseudonyms, in_use)
    chosen = plan.candidate & plan.child_allowed & (plan.match > 0)
    uptake = plan.uptake(chosen, [plan.child_segment])
    return [
        InterventionSuggestion(**fields)
        for fields in plan.ranked(chosen, plan.match + uptake_weight * uptake, k)
    ]


def household_suggestions(
    signposter: Signposter,
    child_pseudonym: str,
    factors: Sequence[Any],
    *,
    household_pseudonyms: Sequence[str] = (),
    in_use: Sequence[str] = (),
    k: int = 3,
    uptake_weight: float = 0.5,
) -> list[HouseholdSuggestion]:
    """Support for other household members that answers a need behind the child's factors.

    Only interventions the child is *not* eligible for (those appear under the child) and
    at least one other member is; each says whom it is for by role and age band. Parameters
    as :func:`intervention_suggestions`.

    Returns
    -------
    list of HouseholdSuggestion (at most k), best first.
    """
    plan = _Plan(signposter, child_pseudonym, factors, household_pseudonyms, in_use)
    members = [(segment, band) for segment, band in plan.members if segment >= 0]
    for_member = np.zeros((len(members), signposter.n_services), dtype=bool)
    for m, (segment, _) in enumerate(members):
        for_member[m] = signposter.segment_allowed[segment]
    chosen = plan.candidate & ~plan.child_allowed & for_member.any(axis=0) & (plan.match > 0)
    uptake = plan.uptake(chosen, [segment for segment, _ in members])
    out = []
    for fields in plan.ranked(chosen, plan.match + uptake_weight * uptake, k):
        col = signposter.service_col(fields["service_id"])
        whom = sorted({_whom(band) for m, (_, band) in enumerate(members) if for_member[m, col]})
        out.append(HouseholdSuggestion(**fields, for_whom=" or ".join(whom)))
    return out


class _Plan:
    """What both kinds of suggestion share: candidates, eligibility masks, need matches."""

    def __init__(self, signposter: Signposter, child: str, factors: Sequence[Any],
                 household: Sequence[str], in_use: Sequence[str]) -> None:
        self.signposter = signposter
        catalogue = signposter.catalogue
        n = signposter.n_services
        self.candidate = (np.asarray(catalogue["intervention"], dtype=bool)
                          & np.asarray(catalogue["active"], dtype=bool))
        self.in_use_cols = []
        for service_id in in_use:
            try:
                self.in_use_cols.append(signposter.service_col(service_id))
            except KeyError:
                continue
        self.candidate[self.in_use_cols] = False
        rows = signposter.rows_of([child, *household])
        segments = np.where(rows >= 0, signposter.segments[np.maximum(rows, 0)], -1)
        self.child_segment = int(segments[0])
        if self.child_segment >= 0:
            self.child_allowed = signposter.segment_allowed[self.child_segment].copy()
        else:  # an unknown child: only services open to every age and district
            self.child_allowed = eligible(np.array([np.nan]), np.array([np.nan]), [None], catalogue["min_age"],
                                          catalogue["max_age"], catalogue["districts"], catalogue["active"])[0]
        keys = signposter.segment_vocabulary.keys
        self.members = [(int(s), keys[s].split("|")[0] if s >= 0 else "") for s in segments[1:]]
        self.match, self.best, self.shared = need_match(factors, service_needs(catalogue))
        self.alongside: list[int | None] = [None] * n  # the in-use intervention (column) behind each uptake
        self.names = np.asarray(catalogue["name"], dtype=object)
        self.categories = np.asarray(catalogue.get("category", np.array([""] * n)), dtype=object)

    def uptake(self, chosen: np.ndarray, segments: Sequence[int]) -> np.ndarray:
        """Popularity in the given segments, or similarity to interventions in use (0–1)."""
        signposter, n = self.signposter, self.signposter.n_services
        popularity, co_use = np.zeros(n), np.zeros(n)
        if not chosen.any():
            return popularity
        for segment in segments:
            share = signposter.fallback.score(np.zeros((1, n)), segments=np.array([segment]))[0]
            if share[chosen].max() > 0:
                popularity = np.maximum(popularity, share / share[chosen].max())
        co_use_from: list[int | None] = [None] * n
        for col in self.in_use_cols:
            try:
                similarity = np.asarray(signposter.model.service_similarity(col), dtype=float)
            except NotImplementedError:
                similarity = np.asarray(signposter.fallback.service_similarity(col), dtype=float)
            for i in np.flatnonzero(similarity > co_use):
                co_use_from[i] = col
            co_use = np.maximum(co_use, similarity)
        # the family's own co-use is the more specific reason whenever it is comparable
        self.alongside = [co_use_from[i] if co_use[i] > 0 and co_use[i] >= 0.5 * popularity[i] else None
                          for i in range(n)]
        return np.clip(np.maximum(popularity, co_use), 0.0, 1.0)

    def ranked(self, chosen: np.ndarray, score: np.ndarray, k: int) -> list[dict[str, Any]]:
        catalogue = self.signposter.catalogue
        order = [int(i) for i in np.argsort(-score, kind="stable") if chosen[i]][:k]
        out = []
        for rank, i in enumerate(order, start=1):
            factor_text = str(_get(self.best[i], "text"))
            needs = tuple(sorted(self.shared[i]))
            alongside = self.alongside[i]
            out.append({
                "service_id": str(catalogue["service_id"][i]), "name": str(self.names[i]),
                "category": str(self.categories[i] or ""), "score": float(score[i]),
                "reason": reason(needs, factor_text, None if alongside is None else str(self.names[alongside])),
                "means_tested": bool(catalogue["means_tested"][i]), "rank": rank, "needs": needs,
                "factor": factor_text,
                "alongside": "" if alongside is None else str(catalogue["service_id"][alongside]),
            })
        return out


def reason(needs: Sequence[str], factor_text: str, alongside: str | None = None) -> str:
    """Why an intervention is suggested: the need it addresses and the factor behind it."""
    words = " and ".join(NEED_WORDS.get(n, n.replace("_", " ")) for n in needs)
    text = f"Addresses {words}, behind: {factor_text}"
    if alongside:
        text += f"; often used alongside {alongside}, which the family uses"
    return text


def _whom(age_band: str) -> str:
    """A household member by role and age band: "an adult aged 35-49 in the household"."""
    if not age_band:
        return "another member of the household"
    low = age_band.rstrip("+").split("-")[0]
    lowest = int(low) if low.isdigit() else 18
    role = "a child" if lowest < 18 else ("an older person" if lowest >= 65 else "an adult")
    return f"{role} aged {age_band} in the household"
