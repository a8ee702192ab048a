"""Suggested interventions for a flagged child's household: eligible, matched to the reasons, explained.

Reuses the signposting machinery rather than re-implementing it: eligibility comes from the
`Signposter`'s per-segment masks (age band × district, active services), uptake from its
fitted demographic popularity (what households of the same age group and area took up,
aggregated) and its service similarity (what is used alongside an intervention the family
already has). No other person's record is read and no reason names anyone else.

Each candidate intervention (``intervention`` and active in the catalogue, eligible for the
child or for an adult of the household, not already in use) scores

    ``score = match + uptake_weight × uptake``

- ``match`` (0–1): the share of the child's raising log-odds carried by factors whose theme
  fits the service — its category is one of the theme's categories, or its name/description
  mentions the theme's words. Themes are data (:data:`THEMES`), matched against the factor's
  feature name and label.
- ``uptake`` (0–1): the larger of the service's popularity in the child's segment (relative
  to the most popular eligible intervention) and its similarity to interventions in use.

The caseworker sees each suggestion with its reason; the tool does not refer anyone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recommender.eligibility import eligible
from recommender.signposting import Signposter

#: theme -> (pattern over the factor's feature name + label, service categories, service words)
THEMES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "domestic abuse": (r"domestic|encompass|abuse", ("safety",), ("abuse", "domestic")),
    "young people's safety": (r"police|missing|asb|anti.social|youth|fire",
                              ("safety",), ("youth", "young people", "safety", "fire")),
    "school attendance and learning": (r"school|absence|attendance|exclusion|learning",
                                       ("learning", "family"), ("school", "attendance", "learning", "mentor")),
    "housing and money": (r"housing|arrears|homeless|revenues|council.tax|debt|benefit|imd|depriv",
                          ("money", "housing"), ("debt", "money", "housing", "rent", "benefit", "food")),
    "health and wellbeing": (r"nhs|health|mental|substance|alcohol|drug|gp",
                             ("health", "care"), ("health", "mental", "wellbeing", "substance", "counselling")),
    "family support": (r"social.care|childrens|single.adult|lone|members|children_|parent",
                       ("family", "care"), ("family", "parent", "parenting", "early help")),
}


@dataclass(frozen=True)
class InterventionSuggestion:
    """One intervention a caseworker might discuss with a family, and why."""

    service_id: str
    name: str
    category: str
    score: float
    reason: str
    means_tested: bool
    rank: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "service_id": self.service_id, "name": self.name,
            "category": self.category, "score": self.score, "reason": self.reason,
            "means_tested": self.means_tested,
        }


def _get(factor: Any, key: str) -> Any:
    return factor[key] if isinstance(factor, Mapping) else getattr(factor, key)


def theme_match(
    factors: Sequence[Any],
    categories: np.ndarray,
    texts: np.ndarray,
    themes: Mapping[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = THEMES,
) -> tuple[np.ndarray, list[str | None]]:
    """How much of the flag each service answers, and the factor it answers best.

    Parameters
    ----------
    factors : sequence of Factor (or dicts with ``feature``, ``text``, ``contribution``)
        The child's factors; only raising ones (positive contribution) count.
    categories : ndarray of shape (n_services,), str
    texts : ndarray of shape (n_services,), str
        Lower-cased service name and description.
    themes : mapping, default :data:`THEMES`

    Returns
    -------
    match : ndarray of shape (n_services,), float in [0, 1]
    best_factor : list of length n_services, the text of the factor contributing most (or None)
    """
    n = len(categories)
    match = np.zeros(n)
    best = np.zeros(n)
    best_text: list[str | None] = [None] * n
    raising = [f for f in factors if float(_get(f, "contribution")) > 0]
    total = sum(float(_get(f, "contribution")) for f in raising)
    if not raising or total <= 0:
        return match, best_text
    categories = np.asarray([str(c).lower() for c in categories])
    for factor in raising:
        weight = float(_get(factor, "contribution")) / total
        key = f"{_get(factor, 'feature')} {_get(factor, 'text')}".lower()
        fits = np.zeros(n, dtype=bool)
        for pattern, theme_categories, words in themes.values():
            if re.search(pattern, key):
                fits |= np.isin(categories, theme_categories)
                fits |= np.array([any(w in t for w in words) for t in texts])
        match += weight * fits
        better = fits & (weight > best)
        best[better] = weight
        for i in np.flatnonzero(better):
            best_text[i] = str(_get(factor, "text"))
    return np.minimum(match, 1.0), best_text


def intervention_suggestions(
    signposter: Signposter,
    child_pseudonym: str,
    factors: Sequence[Any],
    *,
    household_pseudonyms: Sequence[str] = (),
    in_use: Sequence[str] = (),
    k: int = 3,
    uptake_weight: float = 0.5,
    themes: Mapping[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = THEMES,
) -> list[InterventionSuggestion]:
    """Eligible intervention services for a flagged child's household, best first, with reasons.

    Parameters
    ----------
    signposter : Signposter
        Built with the processed folder's catalogue (interventions included in its catalogue,
        whatever its ``include_interventions``).
    child_pseudonym : str
    factors : sequence of Factor or dicts
        The child's top factors from the early-help scorer.
    household_pseudonyms : sequence of str
        Other household members (adults may be eligible for parent-focused services).
    in_use : sequence of service ids
        Interventions the family already uses (never suggested again; they seed similarity).
    k : int
    uptake_weight : float
    themes : mapping, default :data:`THEMES`

    Returns
    -------
    list of InterventionSuggestion (at most k).
    """
    catalogue = signposter.catalogue
    n = signposter.n_services
    candidate = np.asarray(catalogue["intervention"], dtype=bool) & np.asarray(catalogue["active"], dtype=bool)
    people = [child_pseudonym, *household_pseudonyms]
    rows = signposter.rows_of(people)
    known = rows >= 0
    allowed = np.zeros(n, dtype=bool)
    if known.any():
        segments = signposter.segments[rows[known]]
        for segment in segments[segments >= 0]:
            allowed |= signposter.segment_allowed[segment]
    if not known[0]:  # an unknown child: only services open to every age and district
        allowed |= eligible(np.array([np.nan]), np.array([np.nan]), [None], catalogue["min_age"],
                            catalogue["max_age"], catalogue["districts"], catalogue["active"])[0]
    in_use_cols = [signposter.service_col(s) for s in in_use if s in signposter._service_col]
    candidate &= allowed
    candidate[in_use_cols] = False
    if not candidate.any():
        return []

    texts = np.array([f"{name} {desc or ''}".lower() for name, desc in
                      zip(catalogue["name"], catalogue.get("description", [""] * n), strict=True)])
    categories = np.asarray(catalogue.get("category", np.array([""] * n)), dtype=object)
    match, best_factor = theme_match(factors, categories, texts, themes)

    popularity = np.zeros(n)
    child_segment = int(signposter.segments[rows[0]]) if known[0] else -1
    share = signposter.fallback.score(np.zeros((1, n)), segments=np.array([child_segment]))[0]
    if share[candidate].max() > 0:
        popularity = share / share[candidate].max()
    co_use = np.zeros(n)
    co_use_from: list[str | None] = [None] * n
    for col in in_use_cols:
        try:
            similarity = np.asarray(signposter.model.service_similarity(col), dtype=float)
        except NotImplementedError:
            similarity = np.asarray(signposter.fallback.service_similarity(col), dtype=float)
        better = similarity > co_use
        co_use = np.where(better, similarity, co_use)
        for i in np.flatnonzero(better):
            co_use_from[i] = str(catalogue["name"][col])
    uptake = np.clip(np.maximum(popularity, co_use), 0.0, 1.0)
    score = match + uptake_weight * uptake

    order = [int(i) for i in np.argsort(-score, kind="stable") if candidate[i]][:k]
    out = []
    for rank, i in enumerate(order, start=1):
        out.append(InterventionSuggestion(
            service_id=str(catalogue["service_id"][i]),
            name=str(catalogue["name"][i]),
            category=str(categories[i]),
            score=float(score[i]),
            # the family's own co-use is the more specific reason whenever it is comparable
            reason=_reason(best_factor[i], co_use_from[i] if co_use[i] >= 0.5 * popularity[i] else None,
                           popularity[i] > 0),
            means_tested=bool(catalogue["means_tested"][i]),
            rank=rank,
        ))
    return out


def _reason(factor: str | None, alongside: str | None, popular: bool) -> str:
    parts = []
    if factor:
        parts.append(f"Addresses a reason flagged: {factor}")
    if alongside:
        parts.append(f"often used alongside {alongside}, which the family uses")
    elif popular:
        parts.append("often taken up by children of this age in the area")
    if not parts:
        return "An early-help service available to this family"
    text = "; ".join(parts)
    return text[0].upper() + text[1:]
