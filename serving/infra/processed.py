"""The processed folder as the service needs it: who exists, their household, the catalogue.

Loaded once at start-up and never changed (a new build means a restart). Holds no raw id:
every person and household appears only as a pseudonym.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from features.processed import read_processed


@dataclass(frozen=True, eq=False)
class ProcessedData:
    folder: Path
    manifest: dict
    citizens: pd.DataFrame  # indexed by pseudonym; row, household, age_band, district, ...
    services: pd.DataFrame  # indexed by service_id; col, name, category, ...
    interactions: sparse.csr_matrix  # interactions_all: citizens.row x services.col
    early_help: pd.DataFrame | None  # early_help_score, indexed by pseudonym
    early_help_features: list[dict]
    households: np.ndarray = field(repr=False)  # household pseudonym (or None) per citizen position
    service_by_col: np.ndarray = field(repr=False)  # service_id per matrix column
    service_fields: dict[str, dict] = field(repr=False, default_factory=dict)  # id -> category, provider, url
    _members: dict[str, list[str]] = field(repr=False, default_factory=dict)
    # Response parts built from this build's catalogue, kept for its lifetime (see signposting)
    memo: dict = field(repr=False, default_factory=dict)

    @property
    def pseudonym_key_id(self) -> str | None:
        return self.manifest.get("pseudonym_key_id")

    def household_of(self, pseudonym: str) -> str | None:
        """The person's household pseudonym (None if unknown or living alone without one)."""
        try:
            value = self.households[self.citizens.index.get_loc(pseudonym)]
        except KeyError:
            return None
        return value if isinstance(value, str) else None

    def knows(self, pseudonym: str) -> bool:
        return pseudonym in self.citizens.index

    def members(self, household: str) -> list[str]:
        return self._members.get(household, [])

    def history(self, pseudonym: str) -> list[tuple[str, float]]:
        """Services in the person's build-time history (personalisation sources only), by weight."""
        row = int(self.citizens.at[pseudonym, "row"])
        start, end = self.interactions.indptr[row], self.interactions.indptr[row + 1]
        cols = self.interactions.indices[start:end]
        weights = self.interactions.data[start:end]
        by_col = self.service_by_col
        return sorted(((by_col[c], float(w)) for c, w in zip(cols, weights, strict=True)),
                      key=lambda item: -item[1])



def load(folder: Path) -> ProcessedData:
    """Read what serving needs from `folder`; a UserError says what to run if it is missing."""
    read = read_processed(folder, windows=("all",))
    folder, manifest, interactions = read.folder, read.manifest, read.matrices["all"]
    citizens = read.citizens.set_index("pseudonym", drop=False)
    citizens.index.name = None
    services = read.services.set_index("service_id", drop=False)
    services.index.name = None
    early_help = None
    if (folder / "early_help_score.parquet").exists():
        early_help = pd.read_parquet(folder / "early_help_score.parquet").set_index("pseudonym", drop=False)
        early_help.index.name = None
    features = []
    if (folder / "early_help_features.json").exists():
        features = json.loads((folder / "early_help_features.json").read_text())
    members: dict[str, list[str]] = {}
    for pseudonym, household in zip(citizens["pseudonym"], citizens["household"], strict=True):
        if isinstance(household, str):
            members.setdefault(household, []).append(pseudonym)
    return ProcessedData(
        folder=folder,
        manifest=manifest,
        citizens=citizens,
        services=services,
        interactions=interactions,
        early_help=early_help,
        early_help_features=features,
        households=citizens["household"].to_numpy(dtype=object),
        service_by_col=services.sort_values("col").index.to_numpy(dtype=object),
        service_fields={
            sid: {c: (v if isinstance(v, str) and v else None) for c, v in zip(
                ("category", "provider", "url"), values, strict=True)}
            for sid, *values in services.reindex(columns=["service_id", "category", "provider", "url"])
            .itertuples(index=False, name=None)
        },
        _members=members,
    )
