"""Plain-English reasons for suggestions, built only from the citizen's own data.

A personalised reason names services the citizen *themselves* uses; a popularity reason names
the citizen's own age band and area and no figure about anyone else. Nothing here can leak
another person's record because nothing here receives one.

Reasons are honest (issue 16): "Because you use X" is said for a suggested service S only when
the data really link the two — people who use X are at least ``min_lift`` times as likely to use
S as residents in general, and at least ``min_co_users`` people used both (:class:`CoUse`).
Otherwise the reason is a general one that is true of the citizen's age band and area.

Reasons come in two forms. The *shareable* form never names a sensitive service (sexual health,
substance use, mental health, domestic abuse, SEND, social care): it is what lists, staff views,
the API and logs carry, on screens that may be shared or overlooked. The *full* form may name
the person's own sensitive services; only the person, on their own page, asking "why", sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

#: Used when a personalised model scored a service but no own service contributed positively.
FROM_YOUR_SERVICES = "Suggested from the services you use"
ACROSS_THE_COUNTY = "Popular with residents across the county"
#: The shareable form of a reason whose evidence is only sensitive services of the person's own.
BASED_ON_YOUR_SERVICES = "Based on services you use"

#: Defaults of the co-use thresholds; `signpost.settings.Settings` carries the same values
#: (`reason_min_co_use_lift`, `reason_min_co_users`) and training passes what is configured.
DEFAULT_MIN_LIFT = 2.0
DEFAULT_MIN_CO_USERS = 10


@dataclass(frozen=True)
class CoUse:
    """How strongly using one service goes with using another, over everyone in a build.

    Counts only: no row of any person is kept, so a fitted ``CoUse`` can travel with a model.

    Attributes
    ----------
    co_users : ndarray of shape (n_services, n_services), int64
        People who used both services (the diagonal: people who used the service).
    lift : ndarray of shape (n_services, n_services), float64
        ``P(uses column | uses row) / P(uses column)`` among people with any use; 0 where the
        row service has no users.
    min_lift, min_co_users : float, int
        What :attr:`supported` requires.
    supported : ndarray of shape (n_services, n_services), bool
        True where using the row service is evidence for the column service: lift at least
        ``min_lift`` and at least ``min_co_users`` people used both; never on the diagonal.
    """

    co_users: np.ndarray
    lift: np.ndarray
    min_lift: float
    min_co_users: int
    supported: np.ndarray

    @classmethod
    def fit(
        cls,
        interactions: sparse.csr_matrix,
        *,
        min_lift: float = DEFAULT_MIN_LIFT,
        min_co_users: int = DEFAULT_MIN_CO_USERS,
    ) -> CoUse:
        """Count co-use in a citizens × services matrix (any stored entry counts as use).

        Parameters
        ----------
        interactions : csr_matrix of shape (n_citizens, n_services)
        min_lift : float
        min_co_users : int

        Returns
        -------
        CoUse
        """
        used = sparse.csr_matrix(interactions, dtype=np.float64, copy=True)
        used.eliminate_zeros()
        used.data[:] = 1.0
        co_users = np.rint(np.asarray((used.T @ used).todense())).astype(np.int64)
        people = int(np.count_nonzero(np.diff(used.indptr)))
        users = np.diag(co_users).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = co_users * float(people) / (users[:, None] * users[None, :])
        lift = np.where(np.isfinite(lift), lift, 0.0)
        supported = (lift >= min_lift) & (co_users >= min_co_users)
        np.fill_diagonal(supported, False)
        return cls(co_users=co_users, lift=lift, min_lift=float(min_lift),
                   min_co_users=int(min_co_users), supported=supported)


def _join(names: Sequence[str]) -> str:
    names = [n for n in names if n]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def because_you_use(service_names: Sequence[str]) -> str:
    """"Because you use Digital skills at the library and Rhymetime" (own services only).

    Parameters
    ----------
    service_names : sequence of str
        Names of the citizen's own services that contributed most, largest first.

    Returns
    -------
    str
    """
    if not service_names:
        return FROM_YOUR_SERVICES
    return f"Because you use {_join(list(service_names))}"


def popular_with(age_band: str | None, place: str | None) -> str:
    """"Popular with people of your age in Havant"; wider wording when a part is unknown."""
    if age_band and place:
        return f"Popular with people of your age in {place}"
    if age_band:
        return "Popular with people of your age"
    if place:
        return f"Popular with residents in {place}"
    return ACROSS_THE_COUNTY


def open_to_you(age_band: str | None) -> str:
    """The general reason that is always true of an eligible service: it is open to the
    citizen's whole age band in their postcode district ("where you live": a district
    council's area may hold districts where it is not offered)."""
    if age_band:
        return "Open to people of your age where you live"
    return "Open to residents where you live"


def shareable_because_you_use(service_names: Sequence[str], sensitive: Sequence[bool]) -> str:
    """The form of :func:`because_you_use` anyone may see: sensitive services are not named.

    Parameters
    ----------
    service_names : sequence of str
        The person's own services that support the suggestion, strongest first.
    sensitive : sequence of bool, same length

    Returns
    -------
    str
        "Because you use …" naming only the non-sensitive services, or
        :data:`BASED_ON_YOUR_SERVICES` when every one is sensitive.
    """
    shown = [name for name, secret in zip(service_names, sensitive, strict=True) if not secret]
    if service_names and not shown:
        return BASED_ON_YOUR_SERVICES
    return because_you_use(shown)


def often_used_alongside(service_name: str) -> str:
    """Reason for a similar service: ``"Often used alongside Rhymetime"``."""
    return f"Often used alongside {service_name}"
