"""The candidate models by the names the CLI and MLflow use."""

from __future__ import annotations

from recommender.base import Recommender
from recommender.blend import Blend
from recommender.ease import EASE, HouseholdEASE, RecentEASE
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
    "ease_recent": RecentEASE,
    "ease_household": HouseholdEASE,
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


def config_of(model: Recommender) -> dict:
    """A JSON-able description that :func:`from_config` turns back into an unfitted twin.

    Registered versions carry it, so promotion can refit champion and challenger alike.
    """
    params = model.get_params()
    if isinstance(model, Blend):
        components, weights = model._resolved()
        return {
            "model": "blend",
            "params": {"weights": [float(w) for w in weights]},
            "components": [config_of(c) for c in components],
        }
    return {"model": name_of(model), "params": {k: _plain(v) for k, v in params.items()}}


def from_config(config: dict) -> Recommender:
    """Inverse of :func:`config_of`."""
    params = dict(config.get("params", {}))
    if config["model"] == "blend":
        components = tuple(from_config(c) for c in config.get("components", []))
        return Blend(components=components, weights=tuple(params.get("weights", ())))
    return make(config["model"], **params)


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value
