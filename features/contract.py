"""The partner extract format (``docs/DATA_CONTRACT.md``: version 1 and the v2 additions) as data.

One place says which tables exist, their columns, which are required and which enum values
are allowed. The synthetic county writes to it; the pipeline validates against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "date", "timestamp", "integer", "boolean", "enum"]

SEX = ("F", "M", "X", "U")
ETHNICITY = ("White", "Mixed", "Asian", "Black", "Other", "Unknown")
DISABILITY = ("Y", "N", "U")
EVENT_TYPES = (
    "enquiry",
    "application",
    "enrolment",
    "attendance",
    "loan",
    "booking",
    "referral",
    "completion",
    "declined",
)
PURPOSES = ("personalisation", "early_intervention", "research")
CONSENT_STATUS = ("granted", "withdrawn", "objected")
CONSENT_METHODS = ("portal", "paper", "phone", "caseworker", "import")
OUTCOMES = ("early_help_assessment", "child_in_need", "child_protection_plan")
BOOLEAN = ("true", "false")
#: Longest accepted services.phone / contact / opening_hours, in characters: enough for a
#: number with an extension, two sentences of "how to apply", a week of opening times.
PHONE_MAX_LENGTH = 40
CONTACT_MAX_LENGTH = 300
OPENING_HOURS_MAX_LENGTH = 200
#: Needs an intervention addresses (services ``needs``, DATA_CONTRACT v2); for an early-help
#: indicator service, the needs it points to.
NEEDS = (
    "domestic_abuse",
    "school_attendance",
    "youth_safety",
    "money_housing",
    "health_wellbeing",
    "family_support",
    "caring",
    "learning",
)
#: The needs in a caseworker's words: how a concern factor says what kind of concern it is
#: (``features.early_help``). recommender/early_help_interventions.py keeps the same words for
#: its reasons (the recommender layer imports nothing of ours; a test keeps the two equal).
NEED_WORDS: dict[str, str] = {
    "domestic_abuse": "domestic abuse",
    "school_attendance": "school attendance",
    "youth_safety": "young people's safety",
    "money_housing": "money and housing",
    "health_wellbeing": "health and wellbeing",
    "family_support": "family support",
    "caring": "caring responsibilities",
    "learning": "learning",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = True
    values: tuple[str, ...] = ()  # allowed values for enum columns
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None  # characters, for free-text columns
    version: int = 1  # the contract version that added the column


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = True
    key: tuple[str, ...] = ()  # unique key within the table
    references: dict[str, str] = field(default_factory=dict)  # column -> "table.column"
    version: int = 1  # the contract version that added the table

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column_names_in(self, version: int) -> tuple[str, ...]:
        """The columns a version ``version`` extract of this table has."""
        return tuple(c.name for c in self.columns if c.version <= version)


CITIZENS = Table(
    "citizens",
    (
        Column("person_id", "string"),
        Column("household_id", "string", required=False),
        Column("birth_date", "date"),
        Column("sex", "enum", values=SEX),
        Column("ethnicity", "enum", values=ETHNICITY),
        Column("disability", "enum", values=DISABILITY),
        Column("postcode", "string"),
        Column("imd_decile", "integer", required=False, minimum=1, maximum=10),
        # Version 2: the master person index's identifiers, used for linkage only, then dropped.
        Column("given_name", "string", required=False, version=2),
        Column("family_name", "string", required=False, version=2),
        Column("address", "string", required=False, version=2),
        Column("nhs_number", "string", required=False, version=2),
        Column("upn", "string", required=False, version=2),
    ),
    key=("person_id",),
)

SERVICES = Table(
    "services",
    (
        Column("service_id", "string"),
        Column("name", "string"),
        Column("description", "string"),
        Column("category", "string"),
        Column("provider", "string"),
        Column("min_age", "integer", required=False, minimum=0, maximum=120),
        Column("max_age", "integer", required=False, minimum=0, maximum=120),
        Column("districts", "string"),
        Column("means_tested", "boolean", values=BOOLEAN),
        Column("intervention", "boolean", values=BOOLEAN),
        Column("url", "string", required=False),
        Column("active", "boolean", values=BOOLEAN),
        # version 2 (issue 16): blank `sensitive` = the default by category
        # (Settings.sensitive_categories); contact details are free text, checked for shape only
        Column("sensitive", "boolean", required=False, values=BOOLEAN),
        Column("phone", "string", required=False, max_length=PHONE_MAX_LENGTH),
        Column("contact", "string", required=False, max_length=CONTACT_MAX_LENGTH),
        Column("opening_hours", "string", required=False, max_length=OPENING_HOURS_MAX_LENGTH),
        Column("early_help_indicator", "boolean", required=False, values=BOOLEAN),
        Column("needs", "string", required=False),
    ),
    key=("service_id",),
)

EVENTS = Table(
    "events",
    (
        Column("event_id", "string"),
        Column("source", "string"),
        # Version 2: exactly one of person_id and partner_person_id is filled.
        Column("person_id", "string", required=False),
        Column("service_id", "string"),
        Column("occurred_at", "timestamp"),
        Column("event_type", "enum", values=EVENT_TYPES),
        Column("partner_person_id", "string", required=False, version=2),
    ),
    key=("source", "event_id"),
    references={
        "person_id": "citizens.person_id",
        "service_id": "services.service_id",
        "partner_person_id": "partner_people.local_id",
    },
)

#: Version 2: partner records with the partner's own person reference and the identifiers it holds.
PARTNER_PEOPLE = Table(
    "partner_people",
    (
        Column("source", "string"),
        Column("local_id", "string"),
        Column("given_name", "string", required=False),
        Column("family_name", "string", required=False),
        Column("birth_date", "date", required=False),
        Column("sex", "enum", required=False, values=SEX),
        Column("postcode", "string", required=False),
        Column("address", "string", required=False),
        Column("nhs_number", "string", required=False),
        Column("upn", "string", required=False),
    ),
    required=False,
    key=("source", "local_id"),
    version=2,
)
#: Version 2: a partner's records as keyed Bloom-filter encodings (``signpost encode``), no names.
#: ``blocks`` goes beyond the shared text: keyed blocking values made with the same secret, so
#: that linkage compares only records that share one (``features/encoding.py``).
PARTNER_PEOPLE_ENCODED = Table(
    "partner_people_encoded",
    (
        Column("source", "string"),
        Column("local_id", "string"),
        Column("clk", "string"),
        Column("blocks", "string", required=False),
    ),
    required=False,
    key=("source", "local_id"),
    version=2,
)
#: A partner record needs at least this many of these identifiers (a name counts once).
PARTNER_IDENTIFIERS = ("name", "birth_date", "postcode", "nhs_number", "upn")
MIN_PARTNER_IDENTIFIERS = 2

CONSENTS = Table(
    "consents",
    (
        Column("person_id", "string"),
        Column("purpose", "enum", values=PURPOSES),
        Column("status", "enum", values=CONSENT_STATUS),
        Column("recorded_at", "timestamp"),
        Column("method", "enum", values=CONSENT_METHODS),
    ),
    references={"person_id": "citizens.person_id"},
)

OUTCOMES_TABLE = Table(
    "outcomes",
    (
        Column("person_id", "string"),
        Column("outcome", "enum", values=OUTCOMES),
        Column("occurred_at", "date"),
    ),
    required=False,
    references={"person_id": "citizens.person_id"},
)

CASELOADS = Table(
    "caseloads",
    (
        Column("caseworker_id", "string"),
        Column("household_id", "string"),
        Column("start_date", "date"),
        Column("end_date", "date", required=False),
    ),
    required=False,
    references={"household_id": "citizens.household_id"},
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (CITIZENS, SERVICES, EVENTS, CONSENTS, OUTCOMES_TABLE, CASELOADS, PARTNER_PEOPLE,
              PARTNER_PEOPLE_ENCODED)
}


def tables_in(version: int) -> dict[str, Table]:
    """The tables of a version ``version`` extract."""
    return {name: t for name, t in TABLES.items() if t.version <= version}


#: File formats a table may arrive in; one file per table, named `<table>.<ext>`.
FORMATS = ("csv", "parquet")
