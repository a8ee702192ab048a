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
- sensitive services (``services.sensitive``: sexual health, substance use, mental health,
  domestic abuse, SEND, social care) are never suggested unprompted: only to a person who
  has opted in to such suggestions (``sensitive_opt_in``, per request) and uses a related
  sensitive service (co-use above the reason threshold), with personalisation consent;
- every suggestion carries a plain-English reason built only from the citizen's own data, in
  two forms (:class:`Suggestion`): ``reason`` never names a sensitive service and is what any
  screen, staff view, API response or log may carry; ``full_reason`` may name the person's own
  sensitive services and is for the person alone, on their own page, when they ask why
  (:meth:`Suggestion.reason_for`). A reason names an own service only when co-use really
  supports the suggestion (:class:`recommender.explanations.CoUse`); otherwise it is a
  general reason that is true of the citizen's age band and area.

The interface serving relies on: README, "The registered model (MLflow pyfunc)".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import sparse

from recommender import explanations, pickles
from recommender.base import Recommender
from recommender.eligibility import eligible
from recommender.explanations import DEFAULT_MIN_CO_USERS, DEFAULT_MIN_LIFT, CoUse
from recommender.popularity import DemographicPopularity
from recommender.segments import UNKNOWN_SEGMENT, SegmentVocabulary

#: Own services asked of the model per suggestion; the first two that co-use supports are named.
EVIDENCE_CANDIDATES = 5
NAMED_AT_MOST = 2
#: "Popular with people of your age in …" for a model's suggestion only when at least this
#: share of the citizen's segment (age band × district) uses it, and more than county-wide.
POPULAR_MIN_SHARE = 0.01


class UnknownCitizenError(KeyError):
    """Pseudonyms the Signposter has no record of (the API answers 404)."""

    def __init__(self, pseudonyms: Sequence[str]) -> None:
        self.pseudonyms = list(pseudonyms)
        super().__init__(
            f"{len(self.pseudonyms)} citizen(s) not known to this model; they may be new since the "
            "last `signpost features` build, or erased"
        )


@dataclass(frozen=True)
class Reason:
    """Why a service was suggested, in the two forms a screen may show.

    ``shareable`` never names a sensitive service: any viewer, list, API response or log may
    carry it. ``full`` may name the person's own sensitive services: only the person, on their
    own signed-in page, after "show why". ``named`` holds the ids of the person's own services
    ``full`` names, each supported by co-use above the threshold; empty for a general reason.
    """

    shareable: str
    full: str
    named: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    """One suggested service for one citizen.

    ``reason`` is the shareable form of ``why`` (kept as a plain field: it is what every list
    shows); :meth:`reason_for` picks the form for a viewer. ``sensitive`` is true for a
    sensitive service suggested because the person opted in: it belongs on their own page only.
    """

    service_id: str
    name: str
    score: float
    reason: str
    means_tested: bool
    personalised: bool
    rank: int
    why: Reason | None = None
    sensitive: bool = False

    @property
    def full_reason(self) -> str:
        return self.why.full if self.why is not None else self.reason

    @property
    def named(self) -> tuple[str, ...]:
        return self.why.named if self.why is not None else ()

    def reason_for(self, *, own_page: bool, show_why: bool) -> str:
        """The form a viewer may see: full only on the person's own page after "show why"."""
        return self.full_reason if own_page and show_why else self.reason

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
        co_use: CoUse | None = None,
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
        self.co_use = co_use if co_use is not None else CoUse.fit(self.history)
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
    _DERIVED = ("_service_ids", "_names", "_means_tested", "_segment_offered", "_reasons", "_sensitive",
                "_sensitive_flags")

    def _derive(self) -> None:
        # canonical stored history (no explicit zeros, sorted), so a batch is a plain row gather
        self.history.sum_duplicates()
        self.history.eliminate_zeros()
        self._service_ids = [str(s) for s in self.catalogue["service_id"].tolist()]
        self._names = [str(n) for n in self.catalogue["name"].tolist()]
        self._means_tested = [bool(m) for m in self.catalogue["means_tested"].tolist()]
        self._segment_offered = self.segment_allowed & self._offered[None, :]
        self._sensitive = (
            np.asarray(self.catalogue["sensitive"], dtype=bool) if "sensitive" in self.catalogue
            else np.zeros(self.n_services, dtype=bool)
        )
        self._sensitive_flags = [bool(f) for f in self._sensitive.tolist()]
        if getattr(self, "co_use", None) is None:  # an artifact from before honest reasons
            self.co_use = CoUse.fit(self.history)
        self._reasons: dict[tuple, Reason | None] = {}  # reasons by contributing services / place

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
        reason_min_lift: float = DEFAULT_MIN_LIFT,
        reason_min_co_users: int = DEFAULT_MIN_CO_USERS,
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
            ``districts``, ``means_tested``, ``intervention``, ``active``, ``sensitive``
            (+ optional ``category``, ``url``, ``phone``, ``contact``, ``opening_hours``).
            Without ``sensitive`` (a folder built before contract v2) no service counts as
            sensitive: rebuild the folder (:attr:`knows_sensitivity` is False until then).
        history : csr_matrix of shape (n_citizens, n_services)
            ``interactions_all``: what personalised suggestions start from.
        model : fitted Recommender, optional
            None serves demographic popularity only (e.g. while no model is registered).
        fallback : fitted DemographicPopularity, optional
            Fitted here on ``history`` when not given.
        model_name : str, optional
        include_interventions : bool, default False
        reason_min_lift, reason_min_co_users : float, int
            The co-use a reason needs to name an own service (``Settings.reason_min_co_use_lift``,
            ``Settings.reason_min_co_users``), counted over ``history``.

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
            co_use=CoUse.fit(history, min_lift=reason_min_lift, min_co_users=reason_min_co_users),
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

    @property
    def knows_sensitivity(self) -> bool:
        """False for a model built from a catalogue without ``sensitive`` (retrain it)."""
        return "sensitive" in self.catalogue

    def knows(self, pseudonym: str) -> bool:
        return bool(self.rows_of([pseudonym])[0] >= 0)

    def service_col(self, service_id: str) -> int:
        """Matrix column of a service id; KeyError names the id."""
        try:
            return self._service_col[service_id]
        except KeyError:
            raise KeyError(f"service_id {service_id!r} is not in the catalogue") from None

    def eligible_services(self, pseudonyms: Sequence[str]) -> np.ndarray:
        """Which services each citizen could take up, for search and browse.

        Eligibility only (age band inside the range, offered in the district, active): unlike
        :meth:`suggest`, sensitive and intervention services are included, since a person who
        looks for one should find it. Unknown or erased citizens get the services open to
        everyone.

        Parameters
        ----------
        pseudonyms : sequence of str, length n

        Returns
        -------
        ndarray of shape (n, n_services), bool, in catalogue (column) order.
        """
        rows = self.rows_of(pseudonyms)
        segments = np.where(rows >= 0, self.segments[np.maximum(rows, 0)], UNKNOWN_SEGMENT)
        everyone = eligible(
            np.array([np.nan]), np.array([np.nan]), [None], self.catalogue["min_age"],
            self.catalogue["max_age"], self.catalogue["districts"], self.catalogue["active"],
        )[0]
        out = np.tile(everyone, (len(rows), 1))
        known = segments >= 0
        out[known] = self.segment_allowed[segments[known]]
        return out

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
        sensitive_opt_in: np.ndarray | Sequence[bool] | None = None,
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
        sensitive_opt_in : array-like of shape (n,), bool, optional
            True where the person has chosen to be suggested sensitive services related to
            sensitive ones they use. Pass it only for the person's own view; None = nobody.
            Even then a sensitive service is suggested only with personalisation consent and
            when co-use with one of their own sensitive services is above the threshold.

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
        allowed = self._without_unprompted_sensitive(allowed, history, consent, sensitive_opt_in, n)
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
        """Write to ``path`` (see :mod:`recommender.pickles`)."""
        return pickles.save(self, path)

    @classmethod
    def load(cls, path: str | Path) -> Signposter:
        """Read a Signposter written by :meth:`save`; refuses files of another class or format."""
        return pickles.load(path, cls)

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

    def _without_unprompted_sensitive(
        self,
        allowed: np.ndarray,
        history: sparse.csr_matrix,
        consent: np.ndarray,
        sensitive_opt_in: np.ndarray | Sequence[bool] | None,
        n: int,
    ) -> np.ndarray:
        """``allowed`` without sensitive services, except those related to an own sensitive
        service of a person who opted in (and consented: their history is read for it)."""
        sensitive = self._sensitive
        if not sensitive.any():
            return allowed
        related = np.zeros(allowed.shape, dtype=bool)
        if sensitive_opt_in is not None:
            opted = np.asarray(sensitive_opt_in, dtype=bool)
            if opted.shape != (n,):
                raise ValueError(f"sensitive_opt_in has shape {opted.shape}, expected ({n},)")
            for i in np.flatnonzero(opted & consent):
                own = history.indices[history.indptr[i]:history.indptr[i + 1]]
                own_sensitive = own[sensitive[own]]
                if len(own_sensitive):
                    related[i] = self.co_use.supported[own_sensitive].any(axis=0) & sensitive
        return allowed & (~sensitive[None, :] | related)

    def _explain(
        self,
        rows: np.ndarray,
        segments: np.ndarray,
        history: sparse.csr_matrix,
        personalised: np.ndarray,
        service_idx: np.ndarray,
        scores: np.ndarray,
    ) -> list[list[Suggestion]]:
        """Suggestions with reasons; the contributing own services come from one batch call.

        A model's suggestion names the own services that contributed most *and* whose co-use
        with it is above the threshold (at most two); with none, it gets the popularity reason
        where that is true of the citizen's segment, else the reason that it is open to them.
        """
        n, k = service_idx.shape
        own_idx = np.full((n, k, EVIDENCE_CANDIDATES), -1, dtype=np.int64)
        members = np.flatnonzero(personalised)
        if len(members):
            batch = history if len(members) == len(rows) else history[members]
            own_idx[members] = self.model.explain_batch(batch, service_idx[members], top=EVIDENCE_CANDIDATES)[0]
        target = np.maximum(service_idx, 0)
        supported = (own_idx >= 0) & self.co_use.supported[np.maximum(own_idx, 0), target[:, :, None]]
        named = np.where(supported & (np.cumsum(supported, axis=2) <= NAMED_AT_MOST), own_idx, -1)
        backs_off = self.fallback.backs_off(segments)
        popular_here = self._popular_in_segment(segments, backs_off, target)
        out = []
        for row, segment, backs, is_personal, services, values, names, popular_row in zip(
            rows.tolist(), segments.tolist(), backs_off.tolist(), personalised.tolist(),
            service_idx.tolist(), scores.tolist(), named.tolist(), popular_here.tolist(), strict=True,
        ):
            suggestions = []
            for service, score, own, popular in zip(services, values, names, popular_row, strict=True):
                if service < 0:
                    continue
                why = self._because_you_use(tuple(own)) if is_personal else None
                if why is None:
                    if not is_personal or popular:
                        # ranked by popularity, or popular with the citizen's segment in fact
                        why = self._popularity_reason(row, segment, backs)
                    else:
                        why = self._open_to_you(row, segment)
                suggestions.append(self._suggestion(service, score, why.shareable, is_personal,
                                                    len(suggestions) + 1, why))
            out.append(suggestions)
        return out

    def _popular_in_segment(self, segments: np.ndarray, backs_off: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(n, k) bool: the service is used by at least POPULAR_MIN_SHARE of the citizen's
        segment and by a larger share there than across the county."""
        fallback = self.fallback
        known = ~backs_off & (segments >= 0) & (segments < fallback.segment_share_.shape[0])
        here = fallback.segment_share_[np.where(known, segments, 0)[:, None], target]
        county = fallback.overall_share_[target]
        return known[:, None] & (here >= POPULAR_MIN_SHARE) & (here > county)

    def _because_you_use(self, own: tuple[int, ...]) -> Reason | None:
        """The reason naming the own services in ``own`` (strongest first, -1 for none), or
        None when there are none; cached per tuple."""
        key = ("because", own)
        if key not in self._reasons:
            evidence = [j for j in own if j >= 0]
            names = [self._names[j] for j in evidence]
            self._reasons[key] = Reason(
                shareable=explanations.shareable_because_you_use(names, [self._sensitive_flags[j] for j in evidence]),
                full=explanations.because_you_use(names),
                named=tuple(self._service_ids[j] for j in evidence),
            ) if evidence else None
        return self._reasons[key]

    def _band_and_place(self, row: int, segment: int) -> tuple[str | None, str | None]:
        band = (self.segment_vocabulary.keys[segment].split("|")[0] or None) if segment >= 0 else None
        place_code = int(self.citizen_place[row]) if row >= 0 else -1
        return band, self.places[place_code] if place_code >= 0 else None

    def _general(self, key: tuple, sentence: str) -> Reason:
        reason = self._reasons.get(key)
        if reason is None:
            reason = self._reasons[key] = Reason(shareable=sentence, full=sentence)
        return reason

    def _open_to_you(self, row: int, segment: int) -> Reason:
        band = self._band_and_place(row, segment)[0]
        return self._general(("open", band), explanations.open_to_you(band))

    def _popularity_reason(self, row: int, segment: int, backs_off: bool) -> Reason:
        if row < 0 or segment < 0 or backs_off:
            return self._general(("county",), explanations.ACROSS_THE_COUNTY)
        key = ("popular", segment, int(self.citizen_place[row]))
        return self._reasons.get(key) or self._general(
            key, explanations.popular_with(*self._band_and_place(row, segment)))

    def _suggestion(
        self, service: int, score: float, reason: str, personalised: bool, rank: int, why: Reason | None = None
    ) -> Suggestion:
        return Suggestion(
            service_id=self._service_ids[service],
            name=self._names[service],
            score=float(score),
            reason=reason,
            means_tested=self._means_tested[service],
            personalised=bool(personalised),
            rank=rank,
            why=why,
            sensitive=self._sensitive_flags[service],
        )


#: Optional catalogue columns a service page shows (DATA_CONTRACT v2), kept when present.
CONTACT_COLUMNS = ("phone", "contact", "opening_hours")


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
        **({"sensitive": flag("sensitive")} if "sensitive" in services else {}),
        **{column: obj(column) for column in CONTACT_COLUMNS if column in services},
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
