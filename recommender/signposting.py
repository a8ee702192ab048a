"""The served object: a fitted model plus everything needed to turn pseudonyms into suggestions.

``Signposter`` is what training bundles into the MLflow pyfunc and what serving calls on every
request, so it is pure (no I/O but ``save``/``load``), picklable, and fast for one citizen.
It enforces the product rules in one place:

- eligibility (age band inside the service's range, offered in the district, active) and no
  intervention services (those are offered by a caseworker through early help);
- services already used are left out, as are any the citizen asked to exclude;
- citizens with no history or without personalisation consent — at request time when serving
  passes it — get demographic popularity, labelled not personalised, and their history is not
  read;
- every suggestion carries a plain-English reason built only from the citizen's own data.

Interface contract for serving: /work/briefs/signposter.md (copied in the README section).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import sparse

from recommender import explanations
from recommender.base import Recommender
from recommender.eligibility import eligible
from recommender.popularity import DemographicPopularity
from recommender.segments import UNKNOWN_SEGMENT, SegmentVocabulary

FORMAT_VERSION = 1


class UnknownCitizenError(KeyError):
    """Pseudonyms the Signposter has no record of (the API answers 404)."""

    def __init__(self, pseudonyms: Sequence[str]) -> None:
        self.pseudonyms = list(pseudonyms)
        super().__init__(
            f"{len(self.pseudonyms)} citizen(s) not known to this model; they may be new since the "
            "last `signpost features` build, or erased"
        )


@dataclass(frozen=True)
class Suggestion:
    """One suggested service for one citizen."""

    service_id: str
    name: str
    score: float
    reason: str
    means_tested: bool
    personalised: bool
    rank: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "service_id": self.service_id,
            "name": self.name,
            "score": self.score,
            "reason": self.reason,
            "means_tested": self.means_tested,
            "personalised": self.personalised,
        }


class Signposter:
    """Suggestions by pseudonym from a fitted model, a popularity fallback and the catalogue.

    Build it with :meth:`from_processed_tables`; the constructor takes already-encoded arrays.
    """

    def __init__(
        self,
        *,
        model: Recommender,
        fallback: DemographicPopularity,
        model_name: str,
        catalogue: dict[str, np.ndarray],
        pseudonyms: np.ndarray,
        segments: np.ndarray,
        segment_vocabulary: SegmentVocabulary,
        segment_allowed: np.ndarray,
        segment_reason: list[str],
        citizen_place: np.ndarray,
        places: list[str],
        consent: np.ndarray,
        history: sparse.csr_matrix,
        include_interventions: bool = False,
    ) -> None:
        self.model = model
        self.fallback = fallback
        self.model_name = model_name
        self.catalogue = catalogue
        order = np.argsort(pseudonyms, kind="stable")
        self._sorted_pseudonyms = pseudonyms[order]
        self._sorted_rows = order.astype(np.int64)
        self.segments = segments
        self.segment_vocabulary = segment_vocabulary
        self.segment_allowed = segment_allowed
        self.segment_reason = segment_reason
        self.citizen_place = citizen_place
        self.places = places
        self.consent = np.array(consent, dtype=bool)
        self.history = sparse.csr_matrix(history, dtype=np.float32)
        self.erased = np.zeros(len(pseudonyms), dtype=bool)
        self.include_interventions = include_interventions
        self._service_col = {sid: col for col, sid in enumerate(catalogue["service_id"].tolist())}
        offered = catalogue["active"].copy()
        if not include_interventions:
            offered &= ~catalogue["intervention"]
        self._offered = offered
        # open to everyone: what a citizen we know nothing about may safely be shown
        self._open_to_all = offered & eligible(
            np.array([np.nan]), np.array([np.nan]), [None],
            catalogue["min_age"], catalogue["max_age"], catalogue["districts"], catalogue["active"],
        )[0]
        self._derive()

    # Per-request look-ups derived from the state above: rebuilt on unpickling rather than
    # stored, so artifacts written before they existed load unchanged.
    _DERIVED = ("_service_ids", "_names", "_means_tested", "_segment_offered", "_reasons")

    def _derive(self) -> None:
        # canonical stored history (no explicit zeros, sorted), so a batch is a plain row gather
        self.history.sum_duplicates()
        self.history.eliminate_zeros()
        self._service_ids = [str(s) for s in self.catalogue["service_id"].tolist()]
        self._names = [str(n) for n in self.catalogue["name"].tolist()]
        self._means_tested = [bool(m) for m in self.catalogue["means_tested"].tolist()]
        self._segment_offered = self.segment_allowed & self._offered[None, :]
        self._reasons: dict[tuple, str] = {}  # reason sentences by contributing services / place

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._DERIVED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._derive()

    # --------------------------------------------------------------------- building --

    @classmethod
    def from_processed_tables(
        cls,
        citizens: Any,
        services: Any,
        history: sparse.csr_matrix,
        *,
        model: Recommender | None = None,
        fallback: DemographicPopularity | None = None,
        model_name: str | None = None,
        include_interventions: bool = False,
    ) -> Signposter:
        """Assemble from the processed folder's tables (pandas frames) and ``interactions_all``.

        Parameters
        ----------
        citizens : DataFrame
            ``citizens.parquet``: ``pseudonym``, ``row``, ``age_band``, ``age_min``,
            ``age_max``, ``postcode_district``, ``local_authority``,
            ``consent_personalisation``.
        services : DataFrame
            ``services.parquet``: ``col``, ``service_id``, ``name``, ``min_age``, ``max_age``,
            ``districts``, ``means_tested``, ``intervention``, ``active`` (+ optional
            ``category``, ``url``).
        history : csr_matrix of shape (n_citizens, n_services)
            ``interactions_all``: what personalised suggestions start from.
        model : fitted Recommender, optional
            None serves demographic popularity only (e.g. while no model is registered).
        fallback : fitted DemographicPopularity, optional
            Fitted here on ``history`` when not given.
        model_name : str, optional
        include_interventions : bool, default False

        Returns
        -------
        Signposter
        """
        citizens = citizens.sort_values("row").reset_index(drop=True)
        services = services.sort_values("col").reset_index(drop=True)
        if not np.array_equal(citizens["row"].to_numpy(), np.arange(len(citizens))):
            raise ValueError("citizens.row must be 0..n-1 (the matrix rows); rebuild the processed folder")
        if not np.array_equal(services["col"].to_numpy(), np.arange(len(services))):
            raise ValueError("services.col must be 0..m-1 (the matrix columns); rebuild the processed folder")
        if history.shape != (len(citizens), len(services)):
            raise ValueError(
                f"history has shape {history.shape} but there are {len(citizens)} citizens and "
                f"{len(services)} services; use the matrices of the same processed folder"
            )
        age_band = citizens["age_band"].astype(object).where(citizens["age_band"].notna(), None).tolist()
        district = citizens["postcode_district"].astype(object).where(citizens["postcode_district"].notna(), None).tolist()
        vocabulary = SegmentVocabulary.fit(age_band, district)
        segments = vocabulary.codes(age_band, district)
        if fallback is None:
            fallback = DemographicPopularity().fit(history, segments=segments)
        # eligibility depends only on (age band, district): one mask row per segment
        first_of_segment = np.unique(segments, return_index=True)[1]
        catalogue = _catalogue_arrays(services)
        age_min = citizens["age_min"].to_numpy(dtype=np.float64, na_value=np.nan)
        age_max = citizens["age_max"].to_numpy(dtype=np.float64, na_value=np.nan)
        segment_allowed = np.zeros((len(vocabulary), len(services)), dtype=bool)
        segment_allowed[segments[first_of_segment]] = eligible(
            age_min[first_of_segment],
            age_max[first_of_segment],
            [district[i] for i in first_of_segment],
            catalogue["min_age"],
            catalogue["max_age"],
            catalogue["districts"],
            catalogue["active"],
        )
        local_authority = citizens["local_authority"].astype(object).where(citizens["local_authority"].notna(), None)
        places = sorted({p for p in local_authority if p})
        place_code = {p: i for i, p in enumerate(places)}
        citizen_place = np.array([place_code.get(p, -1) if p else -1 for p in local_authority], dtype=np.int32)
        segment_reason = [
            explanations.popular_with(key.split("|")[0] or None, None) for key in vocabulary.keys
        ]
        return cls(
            model=model if model is not None else fallback,
            fallback=fallback,
            model_name=model_name or ("demographic" if model is None else type(model).__name__.lower()),
            catalogue=catalogue,
            pseudonyms=citizens["pseudonym"].to_numpy(dtype="S64"),
            segments=segments,
            segment_vocabulary=vocabulary,
            segment_allowed=segment_allowed,
            segment_reason=segment_reason,
            citizen_place=citizen_place,
            places=places,
            consent=citizens["consent_personalisation"].fillna(False).to_numpy(dtype=bool).copy(),
            history=history,
            include_interventions=include_interventions,
        )

    # ------------------------------------------------------------------- lookups --

    @property
    def n_services(self) -> int:
        return len(self.catalogue["service_id"])

    def rows_of(self, pseudonyms: Sequence[str]) -> np.ndarray:
        """Matrix row per pseudonym, shape (n,), int64; -1 for unknown or erased citizens."""
        keys = np.array([str(p).lower().encode() for p in pseudonyms], dtype="S64")
        rows = np.full(len(keys), -1, dtype=np.int64)
        if len(self._sorted_pseudonyms) == 0 or len(keys) == 0:
            return rows
        at = np.minimum(np.searchsorted(self._sorted_pseudonyms, keys), len(self._sorted_pseudonyms) - 1)
        found = self._sorted_pseudonyms[at] == keys
        rows[found] = self._sorted_rows[at[found]]
        rows[(rows >= 0) & self.erased[np.maximum(rows, 0)]] = -1
        return rows

    def knows(self, pseudonym: str) -> bool:
        return bool(self.rows_of([pseudonym])[0] >= 0)

    def service_col(self, service_id: str) -> int:
        """Matrix column of a service id; KeyError names the id."""
        try:
            return self._service_col[service_id]
        except KeyError:
            raise KeyError(f"service_id {service_id!r} is not in the catalogue") from None

    def services(self) -> list[dict[str, Any]]:
        """The catalogue as records, in column order (``pandas.DataFrame(records)`` for a table)."""
        columns = list(self.catalogue)
        return [
            {c: _plain(self.catalogue[c][i]) for c in columns} for i in range(self.n_services)
        ]

    # ------------------------------------------------------------------- suggesting --

    def suggest(
        self,
        pseudonyms: Sequence[str],
        *,
        k: int = 10,
        personalisation: np.ndarray | Sequence[bool] | None = None,
        extra_events: Sequence[Sequence[tuple[str, float]]] | None = None,
        extra_history: sparse.csr_matrix | None = None,
        exclude: Sequence[Sequence[str]] | None = None,
        unknown: Literal["raise", "popular"] = "raise",
    ) -> list[list[Suggestion]]:
        """Ranked, eligible, explained suggestions for a batch of citizens.

        Parameters
        ----------
        pseudonyms : sequence of str, length n
        k : int
        personalisation : array-like of shape (n,), bool, optional
            Consent at request time; None = consent at build time.
        extra_events : per citizen, (service_id, weight) pairs newer than the model, optional
        extra_history : csr_matrix of shape (n, n_services), optional
            The same as ``extra_events`` in matrix form; both may be given.
        exclude : per citizen, service ids never to suggest, optional
        unknown : "raise" (UnknownCitizenError) or "popular" (services open to everyone)

        Returns
        -------
        list (length n) of lists of Suggestion, best first, at most k each.
        """
        n = len(pseudonyms)
        rows = self.rows_of(pseudonyms)
        known = rows >= 0
        if unknown == "raise" and not known.all():
            raise UnknownCitizenError([p for p, ok in zip(pseudonyms, known, strict=True) if not ok])
        safe_rows = np.where(known, rows, 0)
        consent = (
            self.consent[safe_rows] if personalisation is None else np.asarray(personalisation, dtype=bool)
        ) & known
        if consent.shape != (n,):
            raise ValueError(f"personalisation has shape {consent.shape}, expected ({n},)")
        history = self._batch_history(safe_rows, consent, extra_events, extra_history, n)
        segments = np.where(known, self.segments[safe_rows], UNKNOWN_SEGMENT)
        allowed = np.where(
            known[:, None], self._segment_offered[np.maximum(segments, 0)] if len(self._segment_offered) else False,
            self._open_to_all[None, :],
        )
        if exclude is not None:
            for i, service_ids in enumerate(exclude):
                for service_id in service_ids or ():
                    col = self._service_col.get(service_id)
                    if col is not None:
                        allowed[i, col] = False
        personalised = consent & (np.diff(history.indptr) > 0) & self.model.personalised
        service_idx = np.full((n, k), -1, dtype=np.int64)
        scores = np.full((n, k), np.nan, dtype=np.float32)
        for use_model, members in ((True, np.flatnonzero(personalised)), (False, np.flatnonzero(~personalised))):
            if len(members) == 0:
                continue
            model = self.model if use_model else self.fallback
            everyone = len(members) == n  # the usual case: no copies
            ranking = model.recommend(
                history if everyone else history[members], k=k,
                allowed=allowed if everyone else allowed[members],
                segments=segments if everyone else segments[members],
            )
            service_idx[members] = ranking.service_idx
            scores[members] = ranking.scores
        return self._explain(rows, segments, history, personalised, service_idx, scores)

    def similar_services(self, service_id: str, *, k: int = 5) -> list[Suggestion]:
        """Services often used alongside ``service_id`` (never itself, offered ones only)."""
        col = self.service_col(service_id)
        ranking = self.model.similar_services(col, k=k, allowed=self._offered)
        name = str(self.catalogue["name"][col])
        return [
            self._suggestion(s, v, explanations.often_used_alongside(name), False, rank)
            for rank, (s, v) in enumerate(ranking.row(0), start=1)
        ]

    def forget(self, pseudonyms: Sequence[str]) -> None:
        """Erase citizens from the served state: history emptied, treated as unknown after."""
        rows = self.rows_of(pseudonyms)
        rows = rows[rows >= 0]
        if len(rows) == 0:
            return
        keep = np.ones(self.history.shape[0], dtype=np.float32)
        keep[rows] = 0.0
        history = sparse.diags(keep) @ self.history
        history.eliminate_zeros()
        self.history = sparse.csr_matrix(history, dtype=np.float32)
        self.consent[rows] = False
        self.erased[rows] = True

    # ---------------------------------------------------------------- persistence --

    def save(self, path: str | Path) -> Path:
        """Pickle to ``path``; only load files you wrote (unpickling runs code)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            pickle.dump({"format_version": FORMAT_VERSION, "signposter": self}, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Signposter:
        with Path(path).open("rb") as handle:
            payload = pickle.load(handle)  # our own artifact
        if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path} is not a Signposter of format {FORMAT_VERSION}; retrain")
        return payload["signposter"]

    # ------------------------------------------------------------------- internals --

    def _batch_history(
        self,
        rows: np.ndarray,
        consent: np.ndarray,
        extra_events: Sequence[Sequence[tuple[str, float]]] | None,
        extra_history: sparse.csr_matrix | None,
        n: int,
    ) -> sparse.csr_matrix:
        """Stored history plus new events, with rows of citizens without consent left empty."""
        # the stored rows, gathered directly (scipy's fancy row indexing costs ~100 us a call)
        stored = self.history
        starts = stored.indptr[rows]
        counts = np.where(consent, stored.indptr[rows + 1] - starts, 0)
        indptr = np.zeros(n + 1, dtype=stored.indptr.dtype)
        np.cumsum(counts, out=indptr[1:])
        take = np.repeat(starts - indptr[:-1], counts) + np.arange(indptr[-1])
        history = sparse.csr_matrix(
            (stored.data[take], stored.indices[take], indptr), shape=(n, self.n_services), copy=False
        )
        extra = None
        if extra_history is not None:
            if extra_history.shape != (n, self.n_services):
                raise ValueError(f"extra_history has shape {extra_history.shape}, expected ({n}, {self.n_services})")
            extra = sparse.csr_matrix(extra_history, dtype=np.float32)
        if extra_events is not None:
            if len(extra_events) != n:
                raise ValueError(f"extra_events has {len(extra_events)} entries for {n} pseudonyms")
            r, c, v = [], [], []
            for i, events in enumerate(extra_events):
                for service_id, weight in events or ():
                    r.append(i)
                    c.append(self.service_col(service_id))
                    v.append(float(weight))
            if r:
                events = sparse.csr_matrix((v, (r, c)), shape=(n, self.n_services), dtype=np.float32)
                extra = events if extra is None else extra + events
        if extra is None:
            return history
        if not consent.all():
            extra = sparse.diags(consent.astype(np.float32)) @ extra
        history = sparse.csr_matrix(history + extra, dtype=np.float32)
        history.eliminate_zeros()
        history.sort_indices()
        return history

    def _explain(
        self,
        rows: np.ndarray,
        segments: np.ndarray,
        history: sparse.csr_matrix,
        personalised: np.ndarray,
        service_idx: np.ndarray,
        scores: np.ndarray,
    ) -> list[list[Suggestion]]:
        """Suggestions with reasons; the contributing own services come from one batch call."""
        own_idx = np.full((*service_idx.shape, 2), -1, dtype=np.int64)
        members = np.flatnonzero(personalised)
        if len(members):
            batch = history if len(members) == len(rows) else history[members]
            own_idx[members] = self.model.explain_batch(batch, service_idx[members], top=2)[0]
        model_is_fallback = self.model is self.fallback
        backs_off = self.fallback.backs_off(segments)
        out = []
        for row, segment, backs, is_personal, services, values, owns in zip(
            rows.tolist(), segments.tolist(), backs_off.tolist(), personalised.tolist(),
            service_idx.tolist(), scores.tolist(), own_idx.tolist(), strict=True,
        ):
            popular = None
            suggestions = []
            for service, score, own in zip(services, values, owns, strict=True):
                if service < 0:
                    continue
                if is_personal and (own[0] >= 0 or model_is_fallback):
                    reason = self._because_you_use(tuple(own) if min(own) >= 0 else tuple(j for j in own if j >= 0))
                else:
                    # not personalised, or ranked up by a blend's demographic prior rather
                    # than by own services
                    popular = popular or self._popularity_reason(row, segment, backs)
                    reason = popular
                suggestions.append(self._suggestion(service, score, reason, is_personal, len(suggestions) + 1))
            out.append(suggestions)
        return out

    def _because_you_use(self, own: tuple[int, ...]) -> str:
        reason = self._reasons.get(own)
        if reason is None:
            reason = self._reasons[own] = explanations.because_you_use([self._names[j] for j in own])
        return reason

    def _popularity_reason(self, row: int, segment: int, backs_off: bool) -> str:
        if row < 0 or segment < 0 or backs_off:
            return explanations.ACROSS_THE_COUNTY
        place_code = int(self.citizen_place[row])
        key = ("popular", segment, place_code)
        reason = self._reasons.get(key)
        if reason is None:
            band = self.segment_vocabulary.keys[segment].split("|")[0] or None
            place = self.places[place_code] if place_code >= 0 else None
            reason = self._reasons[key] = explanations.popular_with(band, place)
        return reason

    def _suggestion(self, service: int, score: float, reason: str, personalised: bool, rank: int) -> Suggestion:
        return Suggestion(
            service_id=self._service_ids[service],
            name=self._names[service],
            score=float(score),
            reason=reason,
            means_tested=self._means_tested[service],
            personalised=bool(personalised),
            rank=rank,
        )


def _catalogue_arrays(services: Any) -> dict[str, np.ndarray]:
    """The catalogue columns serving needs, as arrays in column order."""
    def obj(column: str, default: object = None) -> np.ndarray:
        if column not in services:
            return np.array([default] * len(services), dtype=object)
        return np.array([None if _isna(v) else v for v in services[column].tolist()], dtype=object)

    def flag(column: str) -> np.ndarray:
        if column not in services:
            return np.zeros(len(services), dtype=bool)
        return services[column].fillna(False).to_numpy(dtype=bool)

    # contract v2: the needs an intervention addresses (early-help suggestions match on them)
    needs = np.empty(len(services), dtype=object)
    for i, value in enumerate(obj("needs")):
        listed = value.split(";") if isinstance(value, str) else ([] if value is None else list(value))
        needs[i] = tuple(str(n).strip() for n in listed if str(n).strip())
    districts = np.empty(len(services), dtype=object)
    for i, value in enumerate(services["districts"].tolist()):
        districts[i] = [str(d) for d in value] if value is not None and not _isna(value) else []
    return {
        "service_id": obj("service_id"),
        "name": obj("name"),
        "category": obj("category"),
        "url": obj("url"),
        "min_age": services["min_age"].to_numpy(dtype=np.float64, na_value=np.nan),
        "max_age": services["max_age"].to_numpy(dtype=np.float64, na_value=np.nan),
        "districts": districts,
        "means_tested": flag("means_tested"),
        "intervention": flag("intervention"),
        "active": flag("active"),
        "needs": needs,
    }


def _plain(value: object) -> object:
    """numpy scalars as Python values, nan as None (for JSON)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _isna(value: object) -> bool:
    if value is None or type(value).__name__ == "NAType":
        return True
    if isinstance(value, float):
        return bool(np.isnan(value))
    return False
