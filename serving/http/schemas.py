"""Public request and response models: what the API promises, with internals left out.

No response carries a raw person id, a raw score for a citizen-facing list, or anything
about a person other than the one asked about. Examples here feed the OpenAPI document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from serving.domain.events import to_utc
from signpost.settings import Purpose

#: The council's person reference as it arrives in a path or body (never stored).
PERSON_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
PersonId = Annotated[str, StringConstraints(pattern=PERSON_ID_PATTERN)]
#: The most services one recommendations request may ask for (`k`).
MAX_SUGGESTIONS = 50
ServiceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Status = Literal["granted", "withdrawn", "objected"]
Method = Literal["portal", "paper", "phone", "caseworker", "import"]
EventType = Literal[
    "enquiry", "application", "enrolment", "attendance", "loan", "booking", "referral", "completion", "declined"
]
Decision = Literal["useful", "not_for_me", "accepted", "declined"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ValidationProblem(BaseModel):
    loc: list[str] = Field(description="Where: `body`, `path` or `query`, then the field, e.g. `events`, `0`, `occurred_at`.")
    msg: str
    type: str


class ErrorOut(BaseModel):
    """An error as RFC 9457 problem details (`application/problem+json`), plus a stable `code`."""

    type: str = Field(description="`about:blank`: the status and `code` say what kind of problem this is.")
    title: str = Field(description="The HTTP status phrase, e.g. `Forbidden`.")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What went wrong and what to do next.")
    instance: str = Field(description="The request id (also the `X-Request-ID` header and in the logs).")
    code: str = Field(description="A stable machine-readable reason, e.g. `not_on_caseload`.")
    errors: list[ValidationProblem] | None = Field(
        default=None, description="Validation problems (422 only), at most 20.")
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"type": "about:blank", "title": "Forbidden", "status": 403,
                                          "detail": "this person's household is not on an open caseload of yours",
                                          "instance": "3f9c2a7d5e1b4c60-1a", "code": "not_on_caseload"}]},
    )


def _convertible_to_utc(moment: datetime) -> datetime:
    """Refuse a time that leaves the years 1-9999 once its offset is applied (Python cannot hold it)."""
    try:
        to_utc(moment)
    except OverflowError:
        raise ValueError("the time is outside the years 1-9999 once converted to UTC") from None
    return moment


#: A timestamp the API accepts: ISO 8601, and representable in UTC.
Timestamp = Annotated[datetime, AfterValidator(_convertible_to_utc)]


def _in_utc(moment: datetime) -> datetime:
    """A stored moment is UTC; SQLite hands it back without its offset, which RFC 3339 requires."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


#: A moment the API answers with: always with its offset (`Z`), whichever database held it.
UtcMoment = Annotated[datetime, AfterValidator(_in_utc)]


# ------------------------------------------------------------------ recommendations ----------


class SuggestionOut(BaseModel):
    rank: int = Field(ge=1)
    service_id: str
    name: str
    category: str | None = None
    provider: str | None = None
    reason: str = Field(description="Plain English; never mentions anyone else's data.")
    means_tested: bool
    eligibility_note: str | None = None
    url: str | None = None


class RecommendationsOut(BaseModel):
    model_version: str = Field(description="Registry version of the served model, or `popularity-fallback`.")
    model: str = Field(description="Kind of model, e.g. `ease`, `demographic_popularity`.")
    personalised: bool = Field(description="False: the list does not use this person's history.")
    degraded: bool = Field(description="True: the registry had no usable champion; popularity served instead.")
    notice: str = Field(description="What kind of list this is, in words to show the reader.")
    recommendations: list[SuggestionOut]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{
                "model_version": "3", "model": "ease", "personalised": True, "degraded": False,
                "notice": "Suggested for you from the services you use.",
                "recommendations": [{
                    "rank": 1, "service_id": "SVC-0042", "name": "Warm Homes Grant", "category": "money",
                    "provider": "Hampshire County Council",
                    "reason": "People who used Council Tax Support often went on to use this",
                    "means_tested": True, "eligibility_note": "Means-tested: check whether you qualify.",
                    "url": "https://example.org/warm-homes"}],
            }]
        }
    )


class ServiceOut(BaseModel):
    service_id: str
    name: str
    description: str | None = None
    category: str | None = None
    provider: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    districts: list[str]
    means_tested: bool
    intervention: bool
    url: str | None = None
    active: bool


class ServicesPage(BaseModel):
    total: int
    offset: int
    limit: int
    services: list[ServiceOut]


class SimilarOut(BaseModel):
    service_id: str
    model_version: str
    similar: list[SuggestionOut]


# ------------------------------------------------------------------ consent ------------------


class OverrideOut(BaseModel):
    """An admin's decision to continue despite the person's objection (UK GDPR Art. 21)."""

    overridden_status: Status = Field(description="The objection it answers.")
    decided_at: datetime
    decided_by: str = Field(description="The admin's staff id.")
    reason: str = Field(description="The compelling legitimate grounds.")
    sentence: str = Field(description="What the person is told: who decided, when, why.")


class ConsentPurposeOut(BaseModel):
    purpose: Purpose
    allowed: bool = Field(description="Whether the purpose may be used now: the decision, the default, or an "
                                      "override that stands.")
    status: Status | None = Field(description="Latest recorded decision; null when the default applies.")
    default_applies: bool
    recorded_at: UtcMoment | None = None
    method: str | None = None
    meaning: str
    override: OverrideOut | None = Field(
        default=None, description="A standing Art. 21 override: the purpose is used despite the objection until "
                                  "the person records a new decision for it.")


class ConsentOut(BaseModel):
    purposes: list[ConsentPurposeOut]


class ConsentChange(Strict):
    purpose: Purpose
    status: Status
    method: Method | None = Field(
        default=None, description="How the person gave the decision. A citizen's own change is `portal` (leave it "
                                  "out); staff must say `phone`, `paper` or `caseworker` (in person, to them)."
    )
    note: Annotated[str, StringConstraints(max_length=1000, strip_whitespace=True)] | None = Field(
        default=None, description="Staff only, and required from them: when and how the person gave the decision.")
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"purpose": "personalisation", "status": "withdrawn"},
            {"purpose": "early_intervention", "status": "objected", "method": "phone",
             "note": "Mother phoned on 3 December and asked us to stop early-help use of the family's data."},
        ]},
    )


class OverrideIn(Strict):
    """Continue despite an objection: an admin's decision, with the compelling legitimate grounds."""

    purpose: Literal["early_intervention"]
    reason: Annotated[str, StringConstraints(min_length=20, max_length=2000, strip_whitespace=True)] = Field(
        description="The compelling legitimate grounds that override the person's interests (UK GDPR Art. 21); "
                    "shown to the person.")
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "purpose": "early_intervention",
            "reason": "Repeated police notifications about the children; the early-help panel of 2 December "
                      "found that the children's safety outweighs the objection."}]},
    )


# ------------------------------------------------------------------ events and feedback ------


class EventIn(Strict):
    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
    source: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    person_id: PersonId
    service_id: ServiceId
    occurred_at: Timestamp = Field(description="ISO 8601; without an offset it is UK local time.")
    event_type: EventType


class EventsIn(Strict):
    events: list[EventIn] = Field(min_length=1, max_length=500)
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"events": [{
            "event_id": "LIB-2026-000123", "source": "libraries", "person_id": "P000123",
            "service_id": "SVC-0007", "occurred_at": "2026-11-20T10:15:00", "event_type": "loan"}]}]},
    )


class EventsOut(BaseModel):
    received: int = Field(description="Events stored now.")
    duplicates: int = Field(description="Events already stored earlier (same source and event_id).")


class FeedbackIn(Strict):
    person_id: PersonId
    service_id: ServiceId
    decision: Decision = Field(
        description="Citizens: `useful` / `not_for_me`. Caseworkers: `accepted` / `declined` (reason required)."
    )
    reason: Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)] | None = None
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"person_id": "P000123", "service_id": "SVC-0042", "decision": "not_for_me"},
            {"person_id": "P000123", "service_id": "SVC-0101", "decision": "declined",
             "reason": "family already supported by the school nurse"},
        ]},
    )


class FeedbackOut(BaseModel):
    id: int
    decision: Decision
    recorded_at: UtcMoment


# ------------------------------------------------------------------ early help ---------------


class FactorOut(BaseModel):
    text: str = Field(description="e.g. '3 police notifications about the child concerning domestic abuse (last 12 "
                                  "months)'; never names a sensitive service")
    direction: Literal["raises", "lowers"]


class EarlyHelpOut(BaseModel):
    available: bool
    band: Literal["low", "medium", "high"] | None = None
    probability: float | None = Field(default=None, description="Calibrated probability of an early-help outcome in 6 months.")
    factors: list[FactorOut] = []
    context: list[str] = Field(
        default=[], description="Household composition and the child's age as the model takes them into account: "
                                "context, never a factor that raises or lowers the indicator.")
    interventions: list[SuggestionOut] = []
    model_version: str | None = None
    notice: str
    model_config = ConfigDict(
        json_schema_extra={"examples": [{
            "available": True, "band": "medium", "probability": 0.12,
            "factors": [{"text": "3 police notifications about the child concerning domestic abuse (last 12 months)",
                         "direction": "raises"}],
            "context": ["4 people in the household", "aged 7"],
            "interventions": [], "model_version": "2",
            "notice": "A suggestion for a person to review, never a decision. This view is recorded in the audit trail.",
        }]}
    )


class HouseholdOut(BaseModel):
    household: str = Field(description="Household pseudonym.")
    priority: int = Field(ge=1, description="1 = review first.")
    band: Literal["low", "medium", "high"] | None = None
    children_scored: int
    members: int
    since: str


class CaseloadOut(BaseModel):
    caseworker: str
    model_version: str | None
    households: list[HouseholdOut]


# ------------------------------------------------------------------ subject access -----------


class SubjectDataOut(BaseModel):
    pseudonym: str
    record: dict[str, Any]
    sources: list[str]
    history: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    suggestions: list[dict[str, Any]] = Field(
        description="Every list served within the retention period (`SIGNPOST_SERVED_RETENTION_DAYS`, "
                    "395 days by default); older lists are deleted.")
    feedback: list[dict[str, Any]]
    events: list[dict[str, Any]]
    overrides: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Art. 21 overrides of the person's objections: purpose, overridden_status, decided_at, "
                    "decided_by (staff id), reason, stands (whether it is in force now).")
    preferences: dict[str, Any] | None = Field(
        default=None, description="Portal settings the person chose (e.g. `sensitive_suggestions`); null: none.")
    saved_services: list[dict[str, Any]] = Field(default_factory=list, description="Services saved to their list.")
    correction_requests: list[dict[str, Any]] = Field(
        default_factory=list, description="\"Something is wrong\" requests they sent, with their words.")
    early_help: dict[str, Any] | None = Field(
        default=None,
        description="The family's early-help status: `objected`, `who_can_see`, `factors_shown` (the council's "
                    "setting `SIGNPOST_EARLY_HELP_FAMILY_FACTORS`) and per child of the household `child` (a number), "
                    "`age_band`, `indicator_held`, `based_on` (`records`: the factors in plain words, or null with "
                    "`records_withheld` saying why; `context`: household composition and age) and `requests` "
                    "(`kind` review or object, `recorded_at`, `note`, `state`). Null: no household is held.")


class ErasureOut(BaseModel):
    erased: bool
    erased_at: UtcMoment
    removed: dict[str, int]


# ------------------------------------------------------------------ sign-out and revocation --


StaffId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")]


class RevocationIn(Strict):
    """Whose sign-ins to cut off: a member of staff, or a citizen by the council's person id."""

    staff_id: StaffId | None = Field(default=None, description="A staff id, as in the staff member's tokens.")
    person_id: PersonId | None = Field(
        default=None, description="The council's person reference; pseudonymised on arrival, never stored or logged."
    )
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"staff_id": "CW-0042"}, {"person_id": "P000123"}]},
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> RevocationIn:
        if (self.staff_id is None) == (self.person_id is None):
            raise ValueError("give exactly one of `staff_id` or `person_id`")
        return self


class RevocationOut(BaseModel):
    revoked: Literal[True] = True
    scope: Literal["token", "subject"] = Field(
        description="`token`: the token presented (sign-out); `subject`: every token issued to them up to `revoked_at`."
    )
    revoked_at: UtcMoment = Field(description="From this moment the token (or tokens) are refused with 401.")
    expires_at: UtcMoment = Field(description="After this every token the revocation covers has expired anyway.")
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "revoked": True, "scope": "token", "revoked_at": "2026-11-25T09:30:00.123456Z",
        "expires_at": "2026-11-25T10:15:00Z",
    }]})


# ------------------------------------------------------------------ audit and operations -----


class AuditEntryOut(BaseModel):
    seq: int
    recorded_at: UtcMoment
    actor_role: str
    actor: str
    action: str
    subject: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null at the end.")


class CorrectionRequestOut(BaseModel):
    id: int
    pseudonym: str = Field(description="The person, as a pseudonym.")
    about: str = Field(description="`record`, `services`, `choices`, `suggestions` or `other`.")
    message: str
    recorded_at: datetime


class CorrectionRequestsPage(BaseModel):
    requests: list[CorrectionRequestOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null at the end.")


class HealthOut(BaseModel):
    status: Literal["ok"]


class ModelOut(BaseModel):
    name: str
    version: str | None
    kind: str | None = None


class ReadyOut(BaseModel):
    ready: bool
    degraded: bool
    reasons: list[str]
    recommender: ModelOut
    early_help: ModelOut
    database: str


class ModelsOut(BaseModel):
    degraded: bool
    recommender: ModelOut
    early_help: ModelOut


class ComparisonOut(BaseModel):
    field: str
    label: str
    level: Literal["agrees", "differs", "blank"] = Field(
        description="`agrees`: the same on both sides (values not shown); `differs`; `blank`: missing on one side.")
    partner: str | None = Field(None, description="The partner's value, only where the two differ.")
    master: str | None = Field(None, description="The master index's value, only where the two differ.")
    description: str | None = Field(
        None, description="The level of the linkage model's comparison this pair reached, in the model's words "
        "(e.g. `similar (Jaro-Winkler ≥ 0.9)`, `day and month swapped`); null from a queue written before levels.")


class ReviewPairOut(BaseModel):
    source: str
    partner_record: str = Field(description="Pseudonym of the partner record.")
    person: str = Field(description="Pseudonym of the candidate master person.")
    match_probability: float
    match_weight: float = Field(description="log2 of the match odds (bits of evidence).")
    runner_up: float = Field(description="Match probability of the next-best candidate (0 when none).")
    margin_bits: float | None = Field(description="Match weight over the runner-up's; null when there is none.")
    comparisons: list[ComparisonOut]


class ReviewOut(BaseModel):
    pair: ReviewPairOut | None = Field(description="The best-scored undecided pair; null when none waits.")
    waiting: int
    decided: int
    queue_found: bool = Field(description="Whether a build has written the review queue yet.")


class LinkageDecisionIn(Strict):
    partner_record: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    person: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    decision: Literal["accept", "reject"]
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class LinkageDecisionOut(BaseModel):
    partner_record: str
    person: str
    decision: Literal["accept", "reject"]
    decided_at: datetime
    reviewer: str
