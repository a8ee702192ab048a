"""Plain-English reasons for suggestions, built only from the citizen's own data.

A personalised reason names services the citizen *themselves* uses; a popularity reason names
the citizen's own age band and area and no figure about anyone else. Nothing here can leak
another person's record because nothing here receives one.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Used when a personalised model scored a service but no own service contributed positively.
FROM_YOUR_SERVICES = "Suggested from the services you use"
ACROSS_THE_COUNTY = "Popular with residents across the county"


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


def often_used_alongside(service_name: str) -> str:
    """Reason for a similar service: ``"Often used alongside Rhymetime"``."""
    return f"Often used alongside {service_name}"
