"""Demographic segments (age band × postcode district) as small integer codes.

Demographic popularity and blends look citizens up by segment; serving must code a citizen the
same way the model was trained, so the vocabulary travels with the fitted model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Code for a citizen whose segment was not seen in training (models back off to overall).
UNKNOWN_SEGMENT = -1


def _key(age_band: object, district: object) -> str:
    band = "" if age_band is None or (isinstance(age_band, float) and np.isnan(age_band)) else str(age_band)
    place = "" if district is None or (isinstance(district, float) and np.isnan(district)) else str(district).upper()
    return f"{band}|{place}"


@dataclass(frozen=True)
class SegmentVocabulary:
    """The ``age_band|district`` keys seen in training, in code order."""

    keys: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {key: code for code, key in enumerate(self.keys)})

    @classmethod
    def fit(cls, age_band: Sequence[object], district: Sequence[object]) -> SegmentVocabulary:
        """Every distinct (age band, district) pair, sorted so the coding is reproducible."""
        return cls(tuple(sorted({_key(b, d) for b, d in zip(age_band, district, strict=True)})))

    def codes(self, age_band: Sequence[object], district: Sequence[object]) -> np.ndarray:
        """Segment code per citizen, shape (n,), int64; ``UNKNOWN_SEGMENT`` for unseen pairs."""
        return np.fromiter(
            (self._index.get(_key(b, d), UNKNOWN_SEGMENT) for b, d in zip(age_band, district, strict=True)),
            dtype=np.int64,
            count=len(age_band),
        )

    def __len__(self) -> int:
        return len(self.keys)
