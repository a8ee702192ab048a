"""Find any service: browse by category or search by words over the whole catalogue.

Unlike suggestions, this shows sensitive and intervention services too (a person who looks
for one should find it) and every service the person is not eligible for, marked as such, so
no one is limited to the ten services a list happens to show. The eligibility is the
recommender's own (`Signposter.eligible_services`), so search and suggestions never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.domain import access
from serving.domain.access import Action, Person
from serving.domain.auth import Viewer
from serving.domain.errors import NotFound, Unavailable
from serving.domain.recommendations import Service, service
from serving.infra.processed import ProcessedData
from serving.infra.registry import Models

MAX_WORDS = 10


@dataclass(frozen=True)
class Found:
    service: Service
    eligible: bool  # False: not for the person's age or area


@dataclass(frozen=True)
class Search:
    words: str
    category: str | None
    categories: list[tuple[str, int]]  # (category, active services in it), by name
    results: list[Found]  # eligible first, then by name; empty when nothing was asked


def _eligible(models: Models, person: Person) -> dict[str, bool]:
    signposter = models.signposter
    if signposter is None:
        raise Unavailable("the service catalogue is not loaded yet; try again in a minute")
    flags = signposter.eligible_services([person.pseudonym])[0]
    return {sid: bool(flag) for sid, flag in zip(signposter.catalogue["service_id"].tolist(), flags, strict=True)}


def _matches(row, words: list[str]) -> bool:
    text = " ".join(str(row.get(c) or "") for c in ("name", "description", "category", "provider")).lower()
    return all(word in text for word in words)


def find(viewer: Viewer, person: Person, *, models: Models, processed: ProcessedData, words: str = "",
         category: str | None = None) -> Search:
    """Active services matching every word (name, description, category, provider) and the category."""
    access.role_allowed(viewer, Action.services)
    active = processed.services[processed.services["active"].astype(bool)]
    counts = active["category"].dropna().value_counts()
    categories = sorted((str(c), int(n)) for c, n in counts.items())
    terms = [w for w in words.lower().split() if w][:MAX_WORDS]
    if not terms and not category:
        return Search(words, category, categories, [])
    eligible = _eligible(models, person)
    found = []
    for _, row in active.iterrows():
        if category and row.get("category") != category:
            continue
        if terms and not _matches(row, terms):
            continue
        found.append(Found(service(row), eligible.get(str(row["service_id"]), False)))
    found.sort(key=lambda f: (not f.eligible, f.service.name.lower()))
    return Search(words, category, categories, found)


def one(viewer: Viewer, person: Person, service_id: str, *, models: Models, processed: ProcessedData) -> Found:
    """One service with whether the person is eligible for it (a page of its own)."""
    access.role_allowed(viewer, Action.services)
    if service_id not in processed.services.index:
        raise NotFound(f"there is no service {service_id!r}; search for services instead")
    row = processed.services.loc[service_id]
    return Found(service(row), _eligible(models, person).get(service_id, False))
