"""The candidate models by the names the CLI and MLflow use."""

from __future__ import annotations

from recommender.base import Recommender
from recommender.blend import Blend
from recommender.ease import EASE
from recommender.factorisation import ALS, BPR
from recommender.neighbours import ItemKNN
from recommender.popularity import DemographicPopularity, Popularity

CANDIDATES: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "demographic": DemographicPopularity,
    "itemknn": ItemKNN,
    "als": ALS,
    "bpr": BPR,
    "ease": EASE,
    "blend": Blend,
}


def make(name: str, **params: object) -> Recommender:
    """A fresh, unfitted candidate; unknown names list the valid ones."""
    try:
        cls = CANDIDATES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(CANDIDATES)}") from None
    return cls(**params)


def name_of(model: Recommender) -> str:
    """The candidate name of a model instance (inverse of :func:`make`)."""
    for name, cls in CANDIDATES.items():
        if type(model) is cls:
            return name
    return type(model).__name__.lower()
