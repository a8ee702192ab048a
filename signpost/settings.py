"""The one typed settings object: paths, keys, URLs and policy, read from `SIGNPOST_*`.

Policy (consent defaults, which partner source may serve which purpose, event weights,
promotion gates) is configuration, not code: every field here can be overridden from the
environment (JSON for the mappings), and the feature manifest records what was in force.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Purpose = Literal["personalisation", "early_intervention", "research"]
PURPOSES: tuple[Purpose, ...] = ("personalisation", "early_intervention", "research")


def _default_tracking_uri() -> str:
    # MLflow's own variable wins so that `mlflow ui` and `signpost` agree on the store.
    return os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow/mlflow.db")


class Settings(BaseSettings):
    """Everything that differs between a laptop demo and a council deployment."""

    model_config = SettingsConfigDict(env_prefix="SIGNPOST_", env_nested_delimiter="__")

    environment: Literal["local", "production"] = "local"

    # --- paths -------------------------------------------------------------------------
    data_dir: Path = Path("data")
    raw_dir: Path = Path("data/raw")
    processed_dir: Path = Path("data/processed")

    # --- pseudonymisation ----------------------------------------------------------------
    pseudonym_key: SecretStr | None = None
    pseudonym_key_file: Path = Path("data/.pseudonym.key")

    # --- MLflow --------------------------------------------------------------------------
    mlflow_tracking_uri: str = Field(default_factory=_default_tracking_uri)
    mlflow_artifact_root: Path = Path("mlflow/artifacts")
    recommender_model_name: str = "signpost-recommender"
    early_help_model_name: str = "signpost-early-help"

    # --- service -------------------------------------------------------------------------
    database_url: str = "sqlite:///data/signpost.db"
    jwt_signing_key: SecretStr | None = None
    jwt_signing_key_file: Path = Path("data/.jwt.key")
    jwt_lifetime_minutes: int = 60
    registry_poll_seconds: float = 5.0
    revocation_poll_seconds: float = 2.0  # how soon other workers refuse a revoked token
    #: How long each served list of suggestions is kept (subject access shows them), then deleted.
    served_retention_days: int = Field(default=395, ge=1)
    # Request limits and rate limits (per worker process; see serving/limits.py).
    max_body_bytes: int = 262_144
    max_events_per_request: int = 500
    auth_failures_per_minute: int = 10  # per client address, then 429
    requests_per_minute: int = 6_000  # per token subject, then 429
    people_per_hour: int = 300  # distinct people one subject may look up, then 429
    refusals_per_minute: int = 20  # 403s per subject before further requests get 429

    # --- consent policy (DATA_CONTRACT.md, "consents") ----------------------------------
    #: Whether a purpose is allowed for a person with no consent record for it.
    consent_defaults: dict[Purpose, bool] = {
        "personalisation": False,  # opt-in
        "early_intervention": True,  # public task, honours objections
        "research": True,  # opt-out
    }

    # --- data-sharing policy: which partner source may serve which purpose ---------------
    sharing_policy: dict[str, list[Purpose]] = {
        "libraries": ["personalisation", "early_intervention", "research"],
        "leisure": ["personalisation", "early_intervention", "research"],
        "revenues": ["personalisation", "early_intervention", "research"],
        "voluntary": ["personalisation", "early_intervention", "research"],
        "council": ["personalisation", "early_intervention", "research"],
        "housing": ["personalisation", "early_intervention", "research"],
        "fire": ["personalisation", "early_intervention", "research"],
        "nhs": ["personalisation", "early_intervention"],
        "public_health": ["personalisation", "early_intervention"],
        "police": ["early_intervention"],
        "childrens_social_care": ["early_intervention"],
        "schools": ["early_intervention"],
    }

    # --- recommendation matrices -----------------------------------------------------------
    #: Implicit-feedback strength per event type. `declined` is 0: a declined offer is not
    #: evidence of need, and negative weights break ALS/BPR's confidence model.
    event_weights: dict[str, float] = {
        "enquiry": 1.0,
        "application": 2.0,
        "enrolment": 3.0,
        "attendance": 2.0,
        "loan": 1.0,
        "booking": 1.5,
        "referral": 2.0,
        "completion": 3.0,
        "declined": 0.0,
    }
    decay_half_life_days: float = 180.0
    holdout_months: int = 3
    research_k_anonymity: int = 10
    #: DuckDB's buffer limit for `signpost features`; it spills to a temporary folder beyond it.
    #: 3GB keeps the 1.4M-resident build under 4 GiB peak RSS (2GB: smaller peak, ~2x slower).
    features_memory_limit: str = "3GB"
    #: A table more than this share of whose rows are quarantined stops `signpost features`
    #: (unless --accept-quarantine): so many rejected rows mean a broken extract, not a few typos.
    quarantine_max_share: float = Field(default=0.05, ge=0.0, le=1.0)
    #: ...counting only tables with at least this many quarantined rows: 2 of 21 caseload rows is
    #: noise, not a broken extract.
    quarantine_min_rows: int = Field(default=10, ge=1)

    # --- partner linkage (DATA_CONTRACT.md, version 2) ---------------------------------------
    #: Match probability at or above which a partner record links to a master person.
    linkage_link_threshold: float = Field(default=0.9, gt=0.0, lt=1.0)
    #: Match probability at or above which an unlinked partner record goes to clerical review.
    linkage_review_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    #: Bits of match weight by which a linked record's best candidate must beat the runner-up.
    linkage_margin_bits: float = Field(default=10.0, ge=0.0)

    # --- early help ------------------------------------------------------------------------
    caseworker_capacity_per_month: int = 50
    early_help_bands: tuple[float, float] = (0.05, 0.20)  # low < 5% <= medium < 20% <= high
    max_tpr_gap: float = 0.10
    max_fpr_gap: float = 0.05
    #: Groups with fewer children with (or without) an outcome are reported but not judged by
    #: the TPR (FPR) gap gate: their rates are noise at that size.
    early_help_min_group_outcomes: int = 20
    #: Attributes whose TPR/FPR gaps gate promotion: the protected characteristics (Equality Act
    #: 2010) we hold. Deprivation decile and district are reported but not gated by default:
    #: they are genuine risk factors, so equal TPR/FPR across them would refuse even a model
    #: that knew the true probabilities.
    early_help_gated_attributes: tuple[str, ...] = ("sex", "ethnicity", "disability")
    #: One-sided confidence that a gap exceeds sampling noise before it counts against the
    #: limits (0.5 = judge the point estimate).
    early_help_gap_confidence: float = 0.95

    # --- promotion -----------------------------------------------------------------------
    recommender_promotion_margin: float = 0.005  # NDCG@10 a challenger may lose and still win
    early_help_auc_margin: float = 0.0
    early_help_ece_margin: float = 0.0

    @model_validator(mode="after")
    def _review_below_link(self) -> Settings:
        if self.linkage_review_threshold >= self.linkage_link_threshold:
            raise ValueError(
                "SIGNPOST_LINKAGE_REVIEW_THRESHOLD must be below SIGNPOST_LINKAGE_LINK_THRESHOLD "
                f"(got {self.linkage_review_threshold} and {self.linkage_link_threshold})"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production":
            missing = [
                name
                for name, value in (
                    ("SIGNPOST_PSEUDONYM_KEY", self.pseudonym_key),
                    ("SIGNPOST_JWT_SIGNING_KEY", self.jwt_signing_key),
                )
                if value is None
            ]
            if missing:
                raise ValueError(
                    "production refuses locally generated keys: set " + " and ".join(missing)
                )
            if self.database_url.startswith("sqlite"):
                raise ValueError("production needs SIGNPOST_DATABASE_URL set to PostgreSQL")
        return self

    def purposes_for_source(self, source: str) -> list[Purpose]:
        """Purposes a partner source may serve; an unlisted source serves none."""
        return list(self.sharing_policy.get(source, []))


@lru_cache
def get_settings() -> Settings:
    return Settings()
