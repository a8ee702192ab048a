"""What the analyst pages show about registered models, read from the MLflow registry.

Aggregates only: versions, aliases and the recorded reason for each champion, the run's
metrics, its PNG figures (calibration, fairness by group, metrics against k) and the model
card. Nothing here reads the service database or the processed people, so nothing here can
show an individual.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
from mlflow.exceptions import MlflowException

from serving.domain.errors import NotFound, Unavailable
from signpost.settings import Settings
from training import tracking
from training.recommender_report import MIN_GROUP_CITIZENS

#: URL slug -> (settings field with the registered name, title, the metrics worth a glance).
KINDS = {
    "recommender": ("recommender_model_name", "Service recommender",
                    ("ndcg_at_10", "recall_at_10", "map_at_10", "coverage_at_10")),
    "early-help": ("early_help_model_name", "Early-help indicator",
                   ("roc_auc", "pr_auc", "ece", "brier", "max_tpr_gap", "max_fpr_gap")),
}

METRIC_LABELS = {
    "ndcg_at_10": "NDCG@10", "recall_at_10": "Recall@10", "map_at_10": "MAP@10", "coverage_at_10": "Coverage@10",
    "roc_auc": "ROC AUC", "pr_auc": "PR AUC", "ece": "Calibration error (ECE)", "brier": "Brier score",
    "max_tpr_gap": "Largest true-positive-rate gap between groups",
    "max_fpr_gap": "Largest false-positive-rate gap between groups",
}

FIGURE = re.compile(r"^[A-Za-z0-9_.-]{1,100}\.png$")
DOCUMENTS = ("model_card.md", "transparency_record.md")

#: The recommender's fairness report (training/recommender_report.py): characteristic -> plain name.
FAIRNESS_REPORT = "fairness.csv"
CHARACTERISTICS = {
    "age_band": "Age band", "postcode_district": "District", "imd_decile": "Deprivation decile (1 = most deprived)",
    "sex": "Sex", "ethnicity": "Ethnicity", "disability": "Disability",
}
GROUP_NAMES = {
    "sex": {"F": "Female", "M": "Male", "X": "Another sex", "U": "Not known"},
    "disability": {"Y": "Disabled", "N": "Not disabled", "U": "Not known"},
}


@dataclass(frozen=True)
class VersionSummary:
    version: str
    aliases: tuple[str, ...]
    created: str
    model: str | None
    headline: list[tuple[str, str]]  # (label, formatted value)
    champion_reason: str | None
    forced: bool = False


@dataclass(frozen=True)
class ModelSummary:
    slug: str
    name: str
    title: str
    versions: list[VersionSummary]
    problem: str | None = None


@dataclass(frozen=True)
class FairnessRow:
    group: str
    citizens: str
    ndcg: str  # NDCG@10, 0 to 1
    coverage: str  # share of the catalogue the group's lists used, as a percentage
    personalised: str  # share of the group's lists from the model rather than the fallback


@dataclass(frozen=True)
class FairnessTable:
    """One characteristic's groups, small cells left out and counted."""

    characteristic: str  # plain name, e.g. "Age band"
    rows: list[FairnessRow]
    suppressed: int  # groups with fewer than the threshold's citizens, not shown


@dataclass(frozen=True)
class VersionDetail:
    slug: str
    name: str
    title: str
    summary: VersionSummary
    metrics: list[tuple[str, str]]  # every metric of the run, by name
    figures: list[str]  # file names under the run's figures/
    documents: dict[str, str] = field(default_factory=dict)  # name -> markdown text
    fairness: list[FairnessTable] = field(default_factory=list)
    fairness_min_citizens: int = 0


@dataclass(frozen=True)
class PublicRecord:
    """What the public transparency page shows for one model: the record of the version in use."""

    slug: str
    title: str
    version: str | None  # None: no version is in use
    document: str | None  # the transparency record or, for a model without one, the model card
    text: str | None  # markdown, as training wrote it


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key.replace("_at_", "@").replace("_", " "))


def _fmt(value: float) -> str:
    if float(value).is_integer() and abs(value) >= 2:  # counts (n, positives, capacity)
        return f"{int(value):,}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3f}"


def fairness_tables(report: pd.DataFrame, *, min_citizens: int) -> list[FairnessTable]:
    """The fairness report as one readable table per characteristic.

    Groups with fewer than ``min_citizens`` evaluated citizens are left out and counted, as in
    the research export: a figure over a handful of people is noise and could point at someone.
    """
    tables = []
    for column, name in CHARACTERISTICS.items():
        part = report[report["characteristic"] == column]
        if part.empty:
            continue
        shown = part[part["citizens"] >= min_citizens]
        names = GROUP_NAMES.get(column, {})
        rows = [FairnessRow(group=names.get(str(r.group), str(r.group)), citizens=f"{int(r.citizens):,}",
                            ndcg=f"{r.ndcg:.2f}", coverage=f"{100 * r.coverage:.0f}%",
                            personalised=f"{100 * r.personalised:.0f}%")
                for r in shown.rename(columns={"ndcg@10": "ndcg", "coverage@10": "coverage",
                                               "personalised share": "personalised"}).itertuples()]
        tables.append(FairnessTable(name, rows, suppressed=len(part) - len(shown)))
    return tables


def _figure_order(file: str) -> tuple[int, str]:
    """Calibration first, then fairness by group, then the rest: what a reviewer reads first."""
    for rank, prefix in enumerate(("reliability", "groups_calibration_", "groups_", "per_group", "metrics_vs_k")):
        if file.startswith(prefix):
            return rank, file
    return 9, file


class ModelReports:
    """A read-only window on the registry for the analyst pages (one per app)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = None
        self._cache: dict[tuple[str, str], bytes | None] = {}
        self._lock = threading.Lock()

    def _connect(self):
        if self._client is None:
            try:
                self._client = tracking.connect(self.settings.mlflow_tracking_uri)
            except tracking.NoRegistry:
                raise Unavailable("there is no MLflow registry yet: train a model with "
                                  "`signpost train recommender`") from None
        return self._client

    def _name(self, slug: str) -> tuple[str, str, tuple[str, ...]]:
        if slug not in KINDS:
            raise NotFound(f"there is no model called {slug!r}; the models are {', '.join(KINDS)}")
        attribute, title, headline = KINDS[slug]
        return getattr(self.settings, attribute), title, headline

    def _summary(self, client, version, headline_keys) -> tuple[VersionSummary, dict[str, float]]:
        metrics = dict(client.get_run(version.run_id).data.metrics) if version.run_id else {}
        tags = dict(version.tags or {})
        created = datetime.fromtimestamp(version.creation_timestamp / 1000, UTC).strftime("%d %B %Y %H:%M UTC")
        summary = VersionSummary(
            version=str(version.version),
            aliases=tuple(sorted(getattr(version, "aliases", []) or [], key=lambda a: (a != tracking.CHAMPION, a))),
            created=created,
            model=tags.get("model") or tags.get("recommender.model"),
            headline=[(metric_label(k), _fmt(metrics[k])) for k in headline_keys if k in metrics],
            champion_reason=tags.get(f"{tracking.CHAMPION}.reason"),
            forced=tracking.CHAMPION in (getattr(version, "aliases", []) or [])
            and tags.get(f"{tracking.CHAMPION}.forced") == "true",
        )
        return summary, metrics

    def overview(self) -> list[ModelSummary]:
        """Every registered version of both models, newest first."""
        client = self._connect()
        out = []
        for slug in KINDS:
            name, title, headline = self._name(slug)
            try:
                versions = client.search_model_versions(f"name = '{name}'")
            except MlflowException as error:
                out.append(ModelSummary(slug, name, title, [], problem=str(error).splitlines()[0][:200]))
                continue
            versions = sorted(versions, key=lambda v: int(v.version), reverse=True)
            # search results omit aliases in some MLflow versions: read each version in full
            full = [client.get_model_version(name, v.version) for v in versions]
            out.append(ModelSummary(slug, name, title, [self._summary(client, v, headline)[0] for v in full]))
        return out

    def champion(self, slug: str) -> str | None:
        """The version the champion alias points at now (None before the first promotion)."""
        name, _, _ = self._name(slug)
        found = tracking.champion_version(name, self._connect())
        return str(found.version) if found is not None else None

    def in_use(self) -> list[PublicRecord]:
        """The record of each model serving now (its champion), for anyone to read: the
        transparency record training wrote, or the model card where there is none. Only
        documents written for publication; no figure or per-group table beyond what they state."""
        out = []
        for slug in KINDS:
            _, title, _ = self._name(slug)
            try:
                version = self.champion(slug)
            except Unavailable:
                version = None
            if version is None:
                out.append(PublicRecord(slug, title, None, None, None))
                continue
            documents = self.detail(slug, version).documents
            document = next((d for d in ("transparency_record.md", "model_card.md") if d in documents), None)
            out.append(PublicRecord(slug, title, version, document, documents.get(document) if document else None))
        return out

    def _version(self, slug: str, version: str):
        name, title, headline = self._name(slug)
        if not version.isdigit():
            raise NotFound(f"{version!r} is not a version number")
        client = self._connect()
        try:
            return client, name, title, headline, client.get_model_version(name, version)
        except MlflowException as error:
            if tracking.is_missing(error):
                raise NotFound(f"{title} has no version {version}") from None
            raise

    def detail(self, slug: str, version: str) -> VersionDetail:
        client, name, title, headline, found = self._version(slug, version)
        summary, metrics = self._summary(client, found, headline)
        figures, documents, fairness = [], {}, []
        # the report itself leaves out groups under MIN_GROUP_CITIZENS; the analyst's threshold may be higher
        smallest = max(self.settings.research_k_anonymity, MIN_GROUP_CITIZENS)
        if found.run_id:
            figures = sorted((a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(found.run_id, "figures")
                              if a.path.endswith(".png")), key=_figure_order)
            present = {a.path for a in client.list_artifacts(found.run_id)}
            for document in DOCUMENTS:
                if document in present:
                    text = self._artifact(found.run_id, document)
                    if text is not None:
                        documents[document] = text.decode("utf-8", errors="replace")
            if FAIRNESS_REPORT in present:
                fairness = self._fairness(found.run_id, min_citizens=smallest)
        if "model_card.md" not in documents and found.description:
            documents["model_card.md"] = found.description
        ordered = [(metric_label(k), _fmt(v)) for k, v in sorted(metrics.items())]
        return VersionDetail(slug, name, title, summary, ordered, figures, documents, fairness, smallest)

    def _fairness(self, run_id: str, *, min_citizens: int) -> list[FairnessTable]:
        data = self._artifact(run_id, FAIRNESS_REPORT)
        if not data:
            return []
        return fairness_tables(pd.read_csv(io.BytesIO(data), dtype={"group": str}), min_citizens=min_citizens)

    def figure(self, slug: str, version: str, file: str) -> bytes:
        if not FIGURE.match(file):
            raise NotFound("no such figure")
        _, _, _, _, found = self._version(slug, version)
        data = self._artifact(found.run_id, f"figures/{file}") if found.run_id else None
        if data is None:
            raise NotFound(f"version {version} has no figure {file}")
        return data

    def _artifact(self, run_id: str, path: str) -> bytes | None:
        """An artifact's bytes, cached: a version's artifacts never change once logged."""
        key = (run_id, path)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        data = tracking.read_artifact(run_id, path, self.settings.mlflow_tracking_uri)
        with self._lock:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = data
        return data
