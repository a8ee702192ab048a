"""Who a person is to Signpost: the five roles a bearer token carries.

Here, in the shared base, because both the front door (`signpost token --role`) and the
service (`serving.domain.auth`, `serving.domain.access`) name them.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    citizen = "citizen"
    caseworker = "caseworker"
    analyst = "analyst"
    admin = "admin"
    #: A partner system (police, schools, …) posting events under its own source, never reading.
    partner = "partner"
    #: Decides the partner-record links the build was unsure of (clerical review); sees nothing else.
    data_steward = "data_steward"
