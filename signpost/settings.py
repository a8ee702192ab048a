"""The one typed settings object: paths, keys, URLs and policy, read from `SIGNPOST_*`.

Policy (consent defaults, which partner source may serve which purpose, event weights,
promotion gates) is configuration, not code: every field here can be overridden from the
environment (JSON for the mappings), and the feature manifest records what was in force.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Purpose = Literal["personalisation", "early_intervention", "research"]
#: Early-help feature groups a council may opt in to; the model otherwise sees concern
#: indicators, household composition and age only (see ``features.early_help``).
EarlyHelpOptIn = Literal["supportive_services", "benefits", "health_services", "deprivation"]
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
    # Request limits and rate limits (shared through Redis when set; see serving/infra/limits.py).
    max_body_bytes: int = 262_144
    max_events_per_request: int = 500
    auth_failures_per_minute: int = 10  # per client address, then 429
    requests_per_minute: int = 6_000  # per token subject, then 429
    people_per_hour: int = 300  # distinct people one subject may look up, then 429
    refusals_per_minute: int = 20  # 403s per subject before further requests get 429
    #: Where rate-limit counters are shared by every worker (serving/infra/rate_counters.py);
    #: unset, each worker process counts on its own.
    redis_url: SecretStr | None = None
    #: Prefix of every Redis key Signpost writes, so that deployments may share one Redis.
    redis_key_prefix: str = "signpost"
    #: Proxies (CIDRs, e.g. `["10.0.0.0/8"]`) whose X-Forwarded-For / Forwarded headers name the
    #: client; from any other peer those headers are ignored, so a client cannot pick the
    #: address its failures are counted against. Empty: the TCP peer is the client.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: The bearer token Prometheus sends to read `/metrics`; unset, `/metrics` is off (404).
    metrics_token: SecretStr | None = None

    # --- sign-in through the council's OpenID Connect provider (serving/infra/oidc.py) ----
    #: The provider's issuer URL, exactly as its discovery document states it; unset, sign-in
    #: through an identity provider is off and only Signpost's own tokens are accepted.
    oidc_issuer: str | None = None
    #: The `aud` the provider puts in access tokens for Signpost's API (partners' tokens).
    oidc_audience: str | None = None
    #: Signature algorithms accepted; only asymmetric ones, so a token can never be signed
    #: with something the provider publishes (HS*) or with nothing at all (`none`).
    oidc_algorithms: tuple[Literal["RS256", "ES256"], ...] = ("RS256", "ES256")
    #: Claim holding a member of staff's id (caseworker ids match `caseloads.parquet`).
    oidc_staff_id_claim: str = "staff_id"
    #: Claim holding the person's groups or roles (a string or a list of strings).
    oidc_role_claim: str = "groups"
    #: Which provider group (a value of `oidc_role_claim`) gives which Signpost role. A group
    #: not listed gives nothing; a token whose groups give two roles is refused.
    oidc_group_roles: dict[str, Literal["citizen", "caseworker", "analyst", "admin", "data_steward", "partner"]] = {}
    #: Claim holding a citizen's council reference; pseudonymised as soon as it is read.
    oidc_citizen_reference_claim: str = "council_reference"
    #: Signpost's client at the provider, for the authorization-code sign-in of staff.
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    #: Scopes Signpost asks for when staff sign in; the provider must send the claims above.
    oidc_scopes: tuple[str, ...] = ("openid", "profile")
    #: How long the provider's signing keys are trusted before they are fetched again.
    oidc_jwks_cache_seconds: int = Field(default=300, ge=1)
    #: Clock difference tolerated between the provider and Signpost when checking exp/nbf/iat.
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)

    # --- consent policy (docs/DATA_CONTRACT.md, "consents") -----------------------------
    #: Whether a purpose is allowed for a person with no consent record for it.
    consent_defaults: dict[Purpose, bool] = {
        "personalisation": False,  # opt-in
        "early_intervention": True,  # public task, honours objections
        "research": True,  # opt-out
    }

    # --- public pages (privacy notice, accessibility statement, "Exit this page") ----------
    #: The data controller and data protection officer the privacy notice names. The demo
    #: defaults are clearly fictional: a council sets its own before publishing.
    controller_name: str = "Example County Council (fictional demo council)"
    controller_address: str = "Example County Council, 1 Demo Street, Exampletown, EX1 1AA (fictional)"
    dpo_name: str = "Data Protection Officer, Example County Council (fictional)"
    dpo_email: str = "dpo@example.org"
    #: Where people report accessibility problems or ask for another format.
    accessibility_contact_email: str = "accessibility@example.org"
    #: Where "Exit this page" takes a person (GOV.UK's advice: a neutral, busy site).
    exit_page_url: str = "https://www.bbc.co.uk/weather"

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

    # --- sensitive services (DATA_CONTRACT v2 `services.sensitive`) -------------------------
    #: Service categories (case-insensitive) treated as sensitive when an extract leaves
    #: `sensitive` blank or out (a version 1 extract). It errs towards sensitive: the
    #: contract's coarse `health`, `care` and `safety` hold the special category services
    #: (sexual health, substance use, mental health, domestic abuse, social care), and the
    #: finer names cover councils that categorise more precisely. A sensitive service is never
    #: suggested unprompted and never named in a reason anyone else may see; SEND advice filed
    #: under `family` or `learning` needs the column set explicitly.
    sensitive_categories: tuple[str, ...] = (
        "health", "care", "safety",
        "sexual_health", "substance_use", "mental_health", "domestic_abuse", "send", "social_care",
    )

    # --- honest reasons (recommender/explanations.py) -------------------------------------
    #: "Because you use X" for a suggested service S only when people who use X are at least
    #: this many times as likely to use S as residents in general (co-use lift) …
    reason_min_co_use_lift: float = Field(default=2.0, ge=1.0)
    #: … and at least this many people used both, so a reason never rests on a handful of
    #: others' records. Otherwise the reason is a true general one ("Popular with people of
    #: your age in Havant").
    reason_min_co_users: int = Field(default=10, ge=1)

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
    #: `signpost features --engine spark`: the driver's memory (in local mode, all of Spark's)
    #: and the partitions of each shuffle (a few per core; hundreds on a cluster).
    spark_driver_memory: str = "2g"
    spark_shuffle_partitions: int = Field(default=8, ge=1)
    #: ...and the most of an extract file one task reads (Spark's spark.sql.files.maxPartitionBytes).
    spark_max_partition_bytes: str = "128m"
    #: ...and the level of Spark's own log on standard error (log4j's: ERROR, WARN, INFO, DEBUG).
    spark_log_level: Literal["OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL"] = "ERROR"
    #: A table more than this share of whose rows are quarantined stops `signpost features`
    #: (unless --accept-quarantine): so many rejected rows mean a broken extract, not a few typos.
    quarantine_max_share: float = Field(default=0.05, ge=0.0, le=1.0)
    #: ...counting only tables with at least this many quarantined rows: 2 of 21 caseload rows is
    #: noise, not a broken extract.
    quarantine_min_rows: int = Field(default=10, ge=1)

    # --- partner linkage (docs/DATA_CONTRACT.md, version 2) ---------------------------------------
    #: Match probability at or above which a partner record links to a master person.
    linkage_link_threshold: float = Field(default=0.9, gt=0.0, lt=1.0)
    #: Match probability at or above which an unlinked partner record goes to clerical review.
    linkage_review_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    #: Bits of match weight by which a linked record's best candidate must beat the runner-up.
    linkage_margin_bits: float = Field(default=10.0, ge=0.0)
    #: The review queue the data steward's page reads (identifiers: 0600, beside the quarantine,
    #: where `signpost features` writes it). Default: linkage_review.csv in raw_dir's quarantine folder.
    linkage_review_queue: Path | None = None
    #: The linkage secret agreed with partners that send `partner_people_encoded` (a file, at
    #: least 16 bytes; the same one they give `signpost encode`). Unset: encoded records stop the build.
    linkage_secret_file: Path | None = None
    #: Encoded linkage (Dice similarity of the Bloom filters): link at or above, review at or above,
    #: and the lead a linked record's best candidate needs over the runner-up.
    linkage_encoded_link_dice: float = Field(default=0.8, gt=0.0, le=1.0)
    linkage_encoded_review_dice: float = Field(default=0.7, gt=0.0, le=1.0)
    linkage_encoded_margin: float = Field(default=0.03, ge=0.0, lt=1.0)

    # --- early help ------------------------------------------------------------------------
    caseworker_capacity_per_month: int = 50
    early_help_bands: tuple[float, float] = (0.05, 0.20)  # low < 5% <= medium < 20% <= high
    #: Feature groups beyond concern indicators, composition and age that the council has
    #: decided the model may use. Empty by default: asking for help, benefits, health services
    #: and where a family lives are never risk factors unless the council opts in (the
    #: manifest, the run and the model card record it when it does).
    early_help_opt_in_features: tuple[EarlyHelpOptIn, ...] = ()
    #: What the family is told an indicator is based on, in the portal and in subject access: a
    #: decision for the council's safeguarding lead. `by_source` (default): each factor by
    #: partner source, whose records and how many ("1 police notification about adults in the
    #: household"), not the kind of concern; `hidden`: that an indicator is held and which
    #: sources may feed it, no factors; `with_concern`: the factors as the caseworker reads
    #: them, kind of concern included ("... concerning domestic abuse"). No choice ever names a
    #: sensitive service, and household composition and age are always shown as context.
    early_help_family_factors: Literal["by_source", "hidden", "with_concern"] = "by_source"
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

    # --- recommender search (training/recommender.py) ------------------------------------
    #: Citizens in the stratified (age band × district) sample the hyper-parameter search runs
    #: on; each model's winner is then refitted and compared on everyone.
    search_sample: int = Field(default=50_000, ge=100)
    #: A more complex recommender replaces a simpler one only if its NDCG@10 lead is beyond the
    #: noise *and* at least this share of the simpler one's (issue 19: 5% over EASE, or a tie).
    recommender_min_gain: float = Field(default=0.05, ge=0.0)
    #: Children in the stratified (outcome × local authority) sample the early-help grid search
    #: and calibration folds run on; the chosen setting is refitted on every child.
    early_help_search_sample: int = Field(default=60_000, ge=100)
    #: Above this many children in the training snapshot, the gradient-boosted benchmark (never
    #: served) is searched, calibrated and fitted on the search sample only, not refitted on every
    #: child; logged as the run's ``benchmark_fitted_on`` and stated in the model card.
    early_help_benchmark_max_children: int = Field(default=200_000, ge=100)
    #: Above ``early_help_benchmark_max_children``, the benchmark's children: a stratified
    #: sub-sample of the search sample (in the same folds). Its grid search was most of early
    #: help's training time at 1.4M residents on the whole search sample.
    early_help_benchmark_sample: int = Field(default=20_000, ge=100)
    early_help_auc_margin: float = 0.0
    early_help_ece_margin: float = 0.0

    @model_validator(mode="after")
    def _review_below_link(self) -> Settings:
        if self.linkage_review_threshold >= self.linkage_link_threshold:
            raise ValueError(
                "SIGNPOST_LINKAGE_REVIEW_THRESHOLD must be below SIGNPOST_LINKAGE_LINK_THRESHOLD "
                f"(got {self.linkage_review_threshold} and {self.linkage_link_threshold})"
            )
        if self.linkage_encoded_review_dice >= self.linkage_encoded_link_dice:
            raise ValueError(
                "SIGNPOST_LINKAGE_ENCODED_REVIEW_DICE must be below SIGNPOST_LINKAGE_ENCODED_LINK_DICE "
                f"(got {self.linkage_encoded_review_dice} and {self.linkage_encoded_link_dice})"
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
            check_signing_key(self.jwt_signing_key.get_secret_value(), "SIGNPOST_JWT_SIGNING_KEY")
            if self.oidc_issuer is not None and not self.oidc_issuer.startswith("https://"):
                raise ValueError("production needs SIGNPOST_OIDC_ISSUER to be an https:// URL")
        return self

    @property
    def review_queue_path(self) -> Path:
        """Where the build wrote the clerical review queue (SIGNPOST_LINKAGE_REVIEW_QUEUE)."""
        return self.linkage_review_queue or self.raw_dir / "quarantine" / "linkage_review.csv"

    def development_sign_in_allowed(self, host: str) -> bool:
        """Whether password-free demo sign-in may be offered by a server listening on `host`.

        Never in production; otherwise only on a loopback address, so that a deployment that
        forgot `SIGNPOST_ENVIRONMENT` fails closed once it listens where others can reach it.
        """
        if self.environment == "production":
            return False
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:  # a host name or a wildcard such as "" or "0.0.0.0"
            return False


#: Shortest signing key production accepts: HS256's own key size (RFC 7518 section 3.2).
MIN_SIGNING_KEY_BYTES = 32


def check_signing_key(key: str, source: str) -> None:
    """Refuse a signing key too short to resist guessing; `source` says where it came from."""
    if len(key.encode()) < MIN_SIGNING_KEY_BYTES:
        raise ValueError(
            f"{source} is {len(key.encode())} bytes; production needs at least "
            f"{MIN_SIGNING_KEY_BYTES}: make one with `python -c 'import secrets; print(secrets.token_hex(32))'`"
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
