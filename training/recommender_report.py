"""The recommender's fairness report and model card, logged with every registered version.

Both are built from the temporal evaluation that chose the model (fit before ``split_date``,
score the services citizens started afterwards, ranked as served), so the figures an analyst
reads are the ones the choice rested on. Groups under ``MIN_GROUP_CITIZENS`` citizens are suppressed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recommender.metrics import metrics_by_group

#: The characteristics the fairness report breaks the ranking down by (those the data hold).
FAIRNESS_COLUMNS = ("age_band", "postcode_district", "imd_decile", "sex", "ethnicity", "disability")
FAIRNESS_METRICS = ("ndcg@10", "coverage@10", "personalised share")
#: Groups with fewer evaluated citizens are left out of the report (small-cell suppression).
MIN_GROUP_CITIZENS = 10


def fairness_table(
    service_idx: np.ndarray, relevant, citizens: pd.DataFrame, personalised: np.ndarray
) -> pd.DataFrame:
    """One row per (characteristic, group): citizens, NDCG@10, recall@10, coverage@10, personalised share.

    ``citizens`` holds the evaluated citizens' rows of the processed citizens table, aligned
    with ``service_idx`` and ``relevant``.
    """
    rows = []
    for column in FAIRNESS_COLUMNS:
        if column not in citizens:
            continue
        for row in metrics_by_group(service_idx, relevant, _labels(citizens[column]), personalised, k=10,
                                    min_citizens=MIN_GROUP_CITIZENS):
            rows.append({"characteristic": column, **row})
    return pd.DataFrame(rows, columns=["characteristic", "group", "citizens", "ndcg@10", "recall@10",
                                       "coverage@10", "personalised share"])


def _labels(column: pd.Series) -> np.ndarray:
    """Group labels; whole-number floats (a decile read back with gaps) print as ``7``, not ``7.0``."""
    if pd.api.types.is_float_dtype(column) and np.all(np.mod(column.dropna(), 1) == 0):
        return column.astype("Int64").to_numpy(dtype=object)
    return column.to_numpy()


def fairness_figure(table: pd.DataFrame, title: str):  # Figure
    """One row of panels per characteristic: NDCG@10, coverage@10, share of personalised lists."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [c for c in FAIRNESS_COLUMNS if (table["characteristic"] == c).any()] or ["(none)"]
    figure, axes = plt.subplots(len(columns), len(FAIRNESS_METRICS), figsize=(13, 2.3 * len(columns)),
                                constrained_layout=True, squeeze=False)
    for r, column in enumerate(columns):
        part = table[table["characteristic"] == column]
        labels = part["group"].astype(str).tolist()
        for c, metric in enumerate(FAIRNESS_METRICS):
            ax = axes[r, c]
            ax.bar(range(len(labels)), part[metric].to_numpy(), color="#1d70b8")
            many = len(labels) > 8
            ax.set_xticks(range(len(labels)), labels, rotation=60 if many else 0, fontsize=6 if many else 8,
                          ha="right" if many else "center")
            ax.set_ylim(0, 1.05 if metric != "ndcg@10" else max(part[metric].tolist() + [0.01]) * 1.15)
            ax.set_title(f"{metric} by {column}", fontsize=9)
    figure.suptitle(title)
    return figure


def model_card(facts: dict[str, Any], comparison: pd.DataFrame, fairness: pd.DataFrame) -> str:
    """The model card (Markdown) for one registered recommender version."""
    manifest = facts["manifest"]
    policy = manifest.get("sources_by_purpose", {}).get("personalisation")
    lines = [
        f"# Model card: {facts['model_name']} (signposting recommender)",
        "",
        "## Intended use",
        ("Suggests up to ten services a citizen does not use yet, on the citizen portal and to a "
        "caseworker, each with a reason. A person chooses; nothing is applied for on their behalf."),
        "",
        "## Not for",
        "- Deciding eligibility or priority for any service, or any decision about a person.",
        ("- Citizens without personalisation consent: they get \"popular with people of your age in "
        "<area>\", labelled not personalised, and their history is not read."),
        ("- Suggesting sensitive services (sexual health, substance use, mental health, domestic abuse, "
        "SEND, social care) unprompted, or early-help interventions at all."),
        "",
        "## Data",
        (f"- Processed data as of {manifest.get('as_of')}, manifest sha256 `{facts['manifest_sha256']}`; "
        f"consent snapshot `{manifest.get('consent_snapshot_id')}`; pseudonym key id "
        f"`{manifest.get('pseudonym_key_id')}`."),
        (f"- {facts['n_citizens']:,} citizens × {facts['n_services']:,} services; "
        f"{manifest.get('personalisation_citizens', 'n/a')} with personalisation consent."),
        (f"- Event weights {manifest.get('event_weights', {})}, recency half-life "
        f"{manifest.get('decay_half_life_days', 'n/a')} days."),
        "",
        "## Policy",
        ("- Personalisation is opt-in consent, applied when the matrices were built and again on every "
        "request (a withdrawal takes effect on the next request)."),
        f"- Sources used (data-sharing policy for personalisation): {', '.join(policy) if policy else 'see manifest'}.",
        ("- Never suggested: ineligible services (age, district, inactive), services already used, "
        "early-help interventions, sensitive services unless the person opted in on their own page."),
        "- Reasons name only the person's own services, and never a sensitive one where others may see.",
        "",
        "## Selection and evaluation",
        (f"- Split (as deployed): fit on events before {manifest.get('split_date')}, score the services "
        f"citizens first used from then to {manifest.get('as_of')}; {facts['evaluated']:,} citizens "
        "started at least one new service. Ranked as served (fallback for citizens without history)."),
        (f"- Hyper-parameters searched on a stratified sample (age band × district) of "
        f"{facts['search_citizens']:,} citizens, budget {facts['budget']} per model; each winner "
        "refitted on everyone's pre-split history and compared on everyone's hold-out."),
        "- Intervals: 95% percentile bootstrap over citizens (seeded; paired for differences). A "
        "model more complex than another only wins when the difference's interval excludes zero "
        f"and its lead is at least {facts['min_gain']:.0%}; otherwise it is a tie and the simpler is "
        "kept. Simplest first: " + " < ".join(facts["simplicity_order"]) + ".",
        f"- **Chosen: {facts['chosen']}**. {facts['reason']}.",
        f"- Against the best EASE of the same search: {facts['versus_ease']}",
        "- The chosen model is then refitted on all events up to the snapshot and registered.",
        "",
        "| model | NDCG@10 (95% CI) | recall@10 | coverage@10 | search-sample NDCG@10 |",
        "|---|---|---|---|---|",
    ]
    for row in comparison.itertuples(index=False):
        name = f"**{row.model}**" if row.selected else row.model
        lines.append(
            f"| {name} | {row.ndcg_10:.4f} ({row.ndcg_10_low:.4f}–{row.ndcg_10_high:.4f}) "
            f"| {row.recall_10:.4f} | {row.coverage_10:.3f} | {row.search_ndcg_10:.4f} |"
        )
    lines += [
        "",
        "## Results by group (chosen model)",
        ("NDCG@10, catalogue coverage@10 and the share of lists personalised (not the fallback), per "
        "group with at least 10 evaluated citizens. Full table `fairness.csv`, figure `figures/fairness.png`."),
        "",
        "| characteristic | groups | NDCG@10 lowest – highest | coverage@10 lowest – highest | personalised share lowest – highest |",
        "|---|---|---|---|---|",
    ]
    for column, part in fairness.groupby("characteristic", sort=False):
        low = part.loc[part["ndcg@10"].idxmin()]
        high = part.loc[part["ndcg@10"].idxmax()]
        lines.append(
            f"| {column} | {len(part)} | {low['ndcg@10']:.3f} ({low['group']}) – {high['ndcg@10']:.3f} ({high['group']}) "
            f"| {part['coverage@10'].min():.3f} – {part['coverage@10'].max():.3f} "
            f"| {part['personalised share'].min():.0%} – {part['personalised share'].max():.0%} |"
        )
    lines += [
        "",
        "## Limitations",
        ("- Implicit feedback: use records what people were offered and could reach, not what they "
        "needed; the model can reproduce past patterns of access (e.g. districts with fewer services)."),
        ("- The hold-out that chose the model is also the one reported (there is no third window), so "
        "the chosen model's figure is slightly optimistic; the intervals and the simpler-model rule "
        "keep the choice from resting on noise."),
        "- Citizens without history or consent get the demographic fallback; their figures measure it.",
        "- Small groups are suppressed and moderate ones are uncertain; read the citizen counts.",
        "- Time enters only through recency-decayed weights (the matrices hold no event order).",
        "",
        "## Versioning",
        f"- Code version `{facts['code_version']}`; MLflow run `{facts['run_id']}`.",
    ]
    return "\n".join(lines) + "\n"


def comparison_for_card(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table with attribute-friendly column names for :func:`model_card`."""
    renamed = table.rename(columns=lambda c: c.replace("@", "_").replace(" ", "_"))
    renamed["selected"] = renamed["selected"].astype(bool)
    return renamed
