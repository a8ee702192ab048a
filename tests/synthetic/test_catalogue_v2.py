"""The synthetic catalogue's contract v2 columns: sensitivity for every service, contact details
where a council would publish them, all of a shape `signpost features` accepts."""

from __future__ import annotations

import re

from features.contract import CONTACT_MAX_LENGTH, OPENING_HOURS_MAX_LENGTH, PHONE_MAX_LENGTH
from features.validate import PHONE_MAX_DIGITS, PHONE_MIN_DIGITS, PHONE_PATTERN
from synthetic.catalogue import CONTACT_DETAILS, SENSITIVE, catalogue


def test_every_listed_id_or_pattern_names_a_service() -> None:
    ids = [s.service_id for s in catalogue()]
    for pattern in [p for patterns in SENSITIVE.values() for p in patterns] + list(CONTACT_DETAILS):
        if pattern.startswith("*"):
            assert any(i.endswith(pattern[1:]) for i in ids), pattern
        else:
            assert pattern in ids, pattern


def test_the_six_kinds_are_sensitive_and_universal_services_are_not() -> None:
    by_id = {s.service_id: s for s in catalogue()}
    for service_id in ("PH-SEXHEALTH", "PH-SUBSTANCE", "NHS-TALKING", "VOL-DASUPPORT", "HCC-SENDIASS",
                       "HCC-ADULTCARE", "CSC-CONTACT", "HBC-ARREARS"):
        assert by_id[service_id].sensitive, service_id
    for service_id in ("HCC-LIB-LOAN", "NHS-FLU", "VOL-FOODBANK", "HBC-LEISURE", "DC-SWIMLESSONS"):
        assert not by_id[service_id].sensitive, service_id


def test_contact_details_are_published_for_some_services_and_valid() -> None:
    services = catalogue()
    with_phone = [s for s in services if s.phone]
    assert 20 <= len(with_phone) < len(services)
    assert len({s.phone for s in services if s.service_id.endswith("-CTS")}) == 11  # one per council
    for s in services:
        if s.phone:
            digits = re.sub(r"\D", "", s.phone)
            assert re.fullmatch(PHONE_PATTERN, s.phone) and PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS
            assert len(s.phone) <= PHONE_MAX_LENGTH
            # Ofcom's numbers reserved for drama: the synthetic county rings no one
            assert digits.startswith(("01632960", "03069990", "08081570")), s.phone
        assert len(s.contact or "") <= CONTACT_MAX_LENGTH
        assert len(s.opening_hours or "") <= OPENING_HOURS_MAX_LENGTH
