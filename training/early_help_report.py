"""What a registered early-help model is shown with: figures, model card, transparency record.

Figures are matplotlib ``Figure`` objects built without pyplot (so no backend is chosen or
changed for the caller, and nothing stays registered), logged as PNGs. The model card is Markdown for analysts and reviewers; the
transparency record follows the structure of the UK Algorithmic Transparency Recording
Standard (tier 1 summary, tier 2 owner and responsibility, description and rationale,
decision-making process with human review, data, risks and mitigations) and is written both
as JSON (machine-readable) and Markdown.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from recommender.early_help import CONTEXT_HEADING, CONTEXT_SENTENCE
from recommender.early_help_meaning import IndicatorMeaning
from recommender.early_help_metrics import reliability

#: The bar the 2020 council models did not reach (What Works for Children's Social Care, 2020).
PRECISION_BAR_2020 = 0.65


# --------------------------------------------------------------------------- figures -------


def _subplots(*args: int, figsize: tuple[float, float], **kwargs: object):
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(*args, **kwargs)


def reliability_figure(y: np.ndarray, curves: dict[str, np.ndarray], n_bins: int = 10) -> Figure:
    """Reliability diagram (equal-mass bins) for one or more probability vectors."""
    figure, axis = _subplots(figsize=(5, 5))
    top = 0.0
    for name, p in curves.items():
        bins = reliability(y, p, n_bins)
        axis.plot(bins["predicted"], bins["observed"], marker="o", label=name)
        top = max(top, bins["predicted"].max(), bins["observed"].max())
    top = min(1.0, top * 1.1 + 0.01)
    axis.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect calibration")
    axis.set(xlim=(0, top), ylim=(0, top), xlabel="mean predicted probability",
             ylabel="observed outcome rate", title=f"Reliability ({n_bins} equal-mass bins)")
    axis.legend(loc="upper left")
    figure.tight_layout()
    return figure


def roc_figure(y: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    """ROC curves."""
    figure, axis = _subplots(figsize=(5, 5))
    for name, p in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        axis.plot(fpr, tpr, label=name)
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    axis.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    axis.legend(loc="lower right")
    figure.tight_layout()
    return figure


def pr_figure(y: np.ndarray, curves: dict[str, np.ndarray], capacity: int | None = None) -> Figure:
    """Precision-recall curves, with the base rate and the 2020 precision bar."""
    figure, axis = _subplots(figsize=(5, 5))
    for name, p in curves.items():
        precision, recall, _ = precision_recall_curve(y, p)
        line = axis.plot(recall, precision, label=name)[0]
        if capacity:
            flagged = np.argsort(-p, kind="stable")[:capacity]
            axis.scatter([y[flagged].sum() / max(y.sum(), 1)], [y[flagged].mean()],
                         color=line.get_color(), zorder=3)
    axis.axhline(float(np.mean(y)), color="grey", linestyle="--", label="base rate")
    axis.axhline(PRECISION_BAR_2020, color="firebrick", linestyle=":", label="65% precision bar (2020)")
    axis.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02),
             title="Precision-recall (dot = at caseworker capacity)" if capacity else "Precision-recall")
    axis.legend(loc="upper right")
    figure.tight_layout()
    return figure


def group_bars_figure(per_group: pd.DataFrame, attribute: str) -> Figure:
    """Selection rate, TPR, FPR and precision for each group of one attribute."""
    table = per_group[per_group["attribute"] == attribute].set_index("group")
    metrics = ["selection_rate", "tpr", "fpr", "precision"]
    figure, axes = _subplots(1, len(metrics), figsize=(3.2 * len(metrics), 0.35 * len(table) + 1.8),
                             sharey=True)
    for axis, metric in zip(axes, metrics, strict=True):
        colours = ["tab:blue" if judged else "lightgrey" for judged in table["judged_fpr" if metric in
                   ("selection_rate", "fpr") else "judged_tpr"]]
        axis.barh(table.index.astype(str), table[metric].fillna(0).to_numpy(), color=colours)
        axis.set_title(metric.replace("_", " "))
        axis.set_xlim(0, 1)
    axes[0].set_ylabel(attribute)
    figure.suptitle(f"Early help by {attribute} (grey = too few children to judge)")
    figure.tight_layout()
    return figure


def group_calibration_figure(per_group: pd.DataFrame, attribute: str) -> Figure:
    """Mean predicted probability vs observed outcome rate per group."""
    table = per_group[per_group["attribute"] == attribute]
    figure, axis = _subplots(figsize=(5, 5))
    axis.scatter(table["mean_predicted"], table["observed_rate"], s=np.sqrt(table["children"]) * 4)
    for row in table.itertuples():
        axis.annotate(str(row.group), (row.mean_predicted, row.observed_rate), fontsize=7)
    top = float(np.nanmax([table["mean_predicted"].max(), table["observed_rate"].max(), 0.01])) * 1.15
    axis.plot([0, top], [0, top], color="grey", linestyle="--")
    axis.set(xlim=(0, top), ylim=(0, top), xlabel="mean predicted probability",
             ylabel="observed outcome rate", title=f"Calibration within group: {attribute}")
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------- documents -----


def _fmt(metrics: dict[str, float], name: str) -> str:
    value = metrics.get(name, float("nan"))
    low, high = metrics.get(f"{name}_low"), metrics.get(f"{name}_high")
    if low is None or high is None:
        return f"{value:.3f}"
    return f"{value:.3f} (95% CI {low:.3f}–{high:.3f})"


def model_card(facts: dict[str, Any], metrics: dict[str, float], gaps: pd.DataFrame,
               per_group: pd.DataFrame, meaning: IndicatorMeaning | None = None) -> str:
    """The model card (Markdown) for one registered version.

    Its "What the indicator means" section is :func:`meaning_lines` of the same
    ``IndicatorMeaning`` the registered scorer carries, so the card says what the screen says.
    """
    bands = facts["bands"]
    opt_in = list(facts.get("opt_in_groups", ()))
    lines = [
        f"# Model card: {facts['model_name']} (early-help indicator)",
        "",
        "## Intended use",
        "Helps a caseworker decide which families on their caseload to contact about early help. "
        "For each child it shows a band (low / medium / high) with the calibrated probability of an "
        "early-help outcome (early-help assessment, child in need, child protection plan) in the next "
        "six months, the factors from the record that raised it, and suggested interventions. "
        "A caseworker reviews every band and records a decision with a reason.",
        "",
        "## Not for",
        "- Automated decisions of any kind, including triage without human review.",
        "- Deciding eligibility for a service, or any child-protection, legal or enforcement decision.",
        "- Ranking families against each other outside one caseworker's caseload.",
        "- Children whose household has objected to early intervention (they are never scored).",
        "- Populations or periods other than the one the data window describes without re-validation.",
        "",
        "## Data window and lawful basis",
        f"- Training snapshot {facts['train_snapshot']}; evaluation snapshot {facts['valid_snapshot']} "
        "(temporal hold-out: the model never saw the evaluation period). Features: the 12 months "
        "before the snapshot; label: any outcome in the 6 months after it.",
        f"- Processed data as of {facts['as_of']}, manifest sha256 `{facts['manifest_sha256']}`.",
        f"- Consent snapshot `{facts['consent_snapshot_id']}`; pseudonym key id `{facts['pseudonym_key_id']}`.",
        "- Lawful basis: public task (UK GDPR Art. 6(1)(e)); the right to object is honoured — "
        f"children whose household objected are excluded (re-checked at training: "
        f"{facts['excluded_at_training']} more excluded for objections since the snapshot).",
        "- Sources: only partner sources whose data-sharing agreement allows early intervention.",
        "- Features: concern indicators only (records of services marked `early_help_indicator`, such as "
        "Operation Encompass notifications, missing-child reports and exclusions), household composition "
        "and age. Asking for help is never a risk factor: use of universal or supportive services, "
        "benefits, health services and area deprivation are "
        + (f"**used because the council opted in to: {', '.join(opt_in)}**."
           if opt_in else "not used (the council has not opted in to any of them)."),
        f"- Household composition and age are presented to caseworkers and families under "
        f"\"{CONTEXT_HEADING}\", never as raising or lowering the indicator: {CONTEXT_SENTENCE}",
        f"- Feature groups used: {', '.join(facts.get('feature_groups', ())) or 'unknown'} "
        f"({facts['n_features']} features).",
        f"- Training rows: {facts['train_rows']:,} children ({facts['train_positives']:,} with an outcome); "
        f"evaluation rows: {facts['valid_rows']:,} ({facts['valid_positives']:,}).",
        "",
        "## Model",
        f"- Selected: **{facts['kind']}** ({facts['selection']}), calibration **{facts['calibration']}** "
        "(chosen by cross-validated Brier score on out-of-fold predictions of the training snapshot).",
        "- Class imbalance: no resampling or class weights, so probabilities stay honest.",
        ("- Gradient-boosted trees, compared as a benchmark and never served, were fitted on "
         f"{facts.get('benchmark_fitted_on', 'every child')}."),
        f"- Bands: low < {bands[0]:.0%} ≤ medium < {bands[1]:.0%} ≤ high.",
        "- Explanations: coefficient × (value − training mean) per feature (only models that "
        "explain their scores are registered).",
        "",
        "## Metrics on the evaluation snapshot",
        "| metric | value |",
        "|---|---|",
        f"| ROC AUC | {_fmt(metrics, 'roc_auc')} |",
        f"| PR AUC (average precision) | {_fmt(metrics, 'pr_auc')} |",
        f"| Brier score | {_fmt(metrics, 'brier')} |",
        f"| ECE (10 equal-mass bins) | {metrics['ece']:.4f} (noise floor {metrics['ece_noise_floor']:.4f}) |",
        f"| capacity N (children reviewed over 6 months) | {int(metrics['capacity'])} |",
        f"| precision at capacity | {metrics['precision_at_capacity']:.3f} (2020 bar: {PRECISION_BAR_2020:.0%}) |",
        f"| recall at capacity | {metrics['recall_at_capacity']:.3f} |",
        f"| base rate | {metrics['base_rate']:.3f} |",
        "",
        *meaning_lines(meaning),
        "## Calibration",
        "Reliability diagram: `figures/reliability.png`. ECE is the count-weighted mean gap between "
        "mean predicted probability and observed rate over 10 equal-mass bins; the noise floor is "
        "the ECE a perfectly calibrated model would show on a sample this size.",
        "",
        "## Results by group (flagged = within caseworker capacity)",
        f"Largest gaps among groups with at least {facts['min_group_positives']} children with "
        "(for TPR) and without (for FPR) an outcome; smaller groups are reported but not judged. "
        f"\"Beyond noise\" subtracts the one-sided {facts['gap_confidence']:.0%} sampling margin. "
        f"Gated attributes: {', '.join(facts['gated_attributes'])} (TPR limit {facts['max_tpr_gap']}, "
        f"FPR limit {facts['max_fpr_gap']}); the others are reported.",
        "",
        "| attribute | TPR gap (beyond noise) | FPR gap (beyond noise) | selection-rate gap "
        "| worst calibration gap | groups judged | gated |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in gaps.itertuples():
        gated = "yes" if row.attribute in facts["gated_attributes"] else "no"
        lines.append(
            f"| {row.attribute} | {_gap(row.tpr_gap, row.tpr_gap_beyond_noise)} "
            f"| {_gap(row.fpr_gap, row.fpr_gap_beyond_noise)} | {_gap(row.selection_gap)} "
            f"| {_gap(row.calibration_gap)} | {row.groups_judged}/{row.groups} | {gated} |"
        )
    lines += [
        "",
        "Per-group tables: `tables/per_group.csv`; figures: `figures/groups_*.png`.",
        "",
        "## Limitations",
        "- Labels record services' responses, not need: families already known to services are more "
        "likely to have an outcome recorded, so the model can reproduce past patterns of attention.",
        "- Group results for small groups are too uncertain to judge; see the counts.",
        "- Calibration is checked on one later snapshot; it drifts if practice or thresholds change, "
        "so the model is re-evaluated before every promotion.",
        "- Explanations describe the model, not causes in the family.",
        "",
        "## Versioning",
        f"- Code version `{facts['code_version']}`; MLflow run `{facts['run_id']}`.",
    ]
    return "\n".join(lines) + "\n"


def meaning_lines(meaning: IndicatorMeaning | None) -> list[str]:
    """The card's "What the indicator means" section: exactly what a caseworker is shown."""
    if meaning is None:
        return []
    lines = [
        "## What the indicator means (shown to caseworkers with every band)",
        (f"Computed on the evaluation snapshot {meaning.evaluated_on} ({meaning.children:,} children, "
         f"{meaning.outcomes:,} with an outcome). A band is a suggestion to review, never a fact about a family."),
        "",
        ("| band | calibrated probability | children | with an outcome | outcome rate (95% interval) | "
         "what the caseworker reads |"),
        "|---|---|---|---|---|---|",
    ]
    for b in meaning.bands:
        lines.append(
            f"| {b.band} | {b.probability_from:.0%} to {b.probability_to:.0%} | {b.children:,} | {b.outcomes:,} "
            f"| {_rate(b.outcome_rate)} ({_rate(b.outcome_rate_low)}–{_rate(b.outcome_rate_high)}) "
            f"| {b.sentence(meaning.label_months)} |"
        )
    lines += [
        "",
        ("Each child's calibrated probability is shown with the outcome rate, and its 95% interval, observed "
         "among children with similar probabilities (bins cut from the top, each expecting at least 15 "
         "outcomes):"),
        "",
        "| probabilities | children | outcome rate (95% interval) |",
        "|---|---|---|",
        *[f"| {c.probability_from:.1%} to {c.probability_to:.1%} | {c.children:,} | {_rate(c.outcome_rate)} "
          f"({_rate(c.outcome_rate_low)}–{_rate(c.outcome_rate_high)}) |" for c in meaning.calibration],
        "",
        f"At the team's capacity: {meaning.capacity_sentence()}",
        "",
    ]
    return lines


def _rate(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.1%}"


def transparency_record(facts: dict[str, Any], metrics: dict[str, float], gaps: pd.DataFrame,
                        meaning: IndicatorMeaning | None = None) -> dict:
    """A transparency record in the structure of the UK Algorithmic Transparency Recording Standard."""
    opt_in = list(facts.get("opt_in_groups", ()))
    record = {
        "standard": "UK Algorithmic Transparency Recording Standard (structure)",
        "tier_1": {
            "name": "Signpost early-help indicator",
            "description": "Shows caseworkers which children on their caseload may benefit from "
            "early help, with the reasons from the record and suggested interventions. A caseworker "
            "always decides.",
            "website": facts.get("website", ""),
            "contact_email": facts.get("contact_email", ""),
        },
        "owner_and_responsibility": {
            "organisation": facts.get("organisation", "the county council (data controller)"),
            "team": facts.get("team", "children's services early help"),
            "senior_responsible_owner": facts.get("senior_responsible_owner",
                                                  "director of children's services"),
            "external_supplier": "none (built in house)",
            "model_version": f"{facts['model_name']} (MLflow run {facts['run_id']})",
        },
        "description_and_rationale": {
            "purpose": "Reach families earlier, before crisis, with services they can take up.",
            "benefits": "Earlier, voluntary support; caseworker time directed by evidence that is "
            "shown, checkable and calibrated.",
            "alternatives_considered": "Caseworker judgement alone; rule-based indicator counts. "
            "Gradient-boosted trees are trained alongside as a benchmark, but not served: their "
            "scores cannot be explained feature by feature.",
        },
        "decision_making_process": {
            "process_integration": "Scores appear on the caseworker's caseload page as a band with "
            "what it meant in the last evaluation (how many children with that band had an early-help "
            "outcome), the calibrated probability with its 95% interval, the model's precision and recall "
            "at the team's capacity, the top factors (concern records only) and suggested interventions; "
            f"household composition and age under \"{CONTEXT_HEADING}\": {CONTEXT_SENTENCE}",
            "human_review": "Every band is reviewed by a caseworker, who records a decision and a "
            "reason; the tool never contacts a family, opens a case or closes one.",
            "frequency_and_scale": f"Re-scored when new data are built; about "
            f"{int(metrics['capacity'])} reviews per six months at configured capacity.",
            "appeals_and_review": "Families can see and download the data held about them, object to "
            "early intervention at any time (effective on the next request) and ask for a review.",
        },
        "data": {
            "sources": "Partner records allowed for early intervention by the data-sharing policy: "
            + ", ".join(facts.get("sources", [])),
            "data_window": f"features: 12 months before the snapshot; labels: 6 months after; "
            f"training snapshot {facts['train_snapshot']}, evaluation snapshot {facts['valid_snapshot']}",
            "features": "Concern indicators only (records of services marked as early-help indicators, "
            "such as Operation Encompass notifications, missing-child reports and exclusions), household "
            "composition and age. Use of universal or supportive services, benefits, health services and "
            "area deprivation: " + (f"used, because the council opted in to {', '.join(opt_in)}."
                                    if opt_in else "not used."),
            "opt_in_feature_groups": opt_in,
            "personal_data": "Pseudonymised (keyed HMAC); age band and postcode district only; "
            "protected characteristics are used for fairness evaluation, not as model inputs.",
            "lawful_basis": "Public task (UK GDPR Art. 6(1)(e)) with the right to object honoured.",
            "consent_snapshot_id": facts["consent_snapshot_id"],
            "manifest_sha256": facts["manifest_sha256"],
        },
        "technical_specification": {
            "model": facts["kind"],
            "calibration": facts["calibration"],
            "inputs": facts.get("n_features", 0),
            "outputs": "band (low/medium/high), calibrated probability, top factors",
            "performance": {
                "roc_auc": metrics["roc_auc"],
                "roc_auc_ci": [metrics["roc_auc_low"], metrics["roc_auc_high"]],
                "pr_auc": metrics["pr_auc"],
                "brier": metrics["brier"],
                "ece": metrics["ece"],
                "precision_at_capacity": metrics["precision_at_capacity"],
                "recall_at_capacity": metrics["recall_at_capacity"],
            },
            "fairness": {
                row.attribute: {"tpr_gap": _num(row.tpr_gap), "fpr_gap": _num(row.fpr_gap),
                                "tpr_gap_beyond_noise": _num(row.tpr_gap_beyond_noise),
                                "fpr_gap_beyond_noise": _num(row.fpr_gap_beyond_noise),
                                "selection_gap": _num(row.selection_gap),
                                "gated": row.attribute in facts["gated_attributes"]}
                for row in gaps.itertuples()
            },
        },
        "risks_and_mitigations": [
            {"risk": "Bias from historical recording: groups more watched by services have more "
             "recorded outcomes.", "mitigation": "Per-group TPR/FPR/calibration reported for sex, "
             "ethnicity, disability, deprivation and district; promotion blocked when the largest TPR "
             f"gap exceeds {facts['max_tpr_gap']} or FPR gap exceeds {facts['max_fpr_gap']} beyond "
             f"sampling noise for {', '.join(facts['gated_attributes'])}. Deprivation and district "
             "gaps are reported: they are genuine risk factors, and equalising error rates across them "
             "would contradict calibration."},
            {"risk": "Automation bias: a band read as a verdict.", "mitigation": "Band shown with "
             "what it meant in the last evaluation, the calibrated probability with its interval, "
             "precision and recall at capacity, and the reasons; a recorded human decision is required; "
             "no automated action."},
            {"risk": "Deterring families from asking for help.", "mitigation": "Only concern indicators, "
             "household composition and age are model inputs unless the council opts in to more; an "
             "opt-in is recorded in the manifest, the model card and this record."},
            {"risk": "Stigma and privacy harm.", "mitigation": "Pseudonymised data, purpose-limited "
             "sources, objections honoured at build, train and request time, audited access limited "
             "to the caseworker's caseload."},
            {"risk": "Model drift.", "mitigation": "Temporal evaluation; promotion only when AUC and "
             "calibration are no worse than the champion's; every version carries this record."},
        ],
    }
    if meaning is not None:
        record["indicator_meaning"] = {
            "evaluated_on": meaning.evaluated_on,
            "bands": {b.band: b.sentence(meaning.label_months) for b in meaning.bands},
            "capacity": meaning.capacity_sentence(),
        }
    return record


def _gap(value: float, beyond: float | None = None) -> str:
    if value is None or not np.isfinite(value):
        return "not judged (fewer than two groups large enough)"
    return f"{value:.3f}" + (f" ({beyond:.3f})" if beyond is not None else "")


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def transparency_markdown(record: dict) -> str:
    """The transparency record as Markdown (same content as the JSON)."""
    lines = [f"# Algorithmic transparency record: {record['tier_1']['name']}", "",
             record["tier_1"]["description"], ""]
    for section, content in record.items():
        if section in ("standard", "tier_1"):
            continue
        lines.append(f"## {section.replace('_', ' ').capitalize()}")
        if isinstance(content, list):
            lines += [f"- **{item['risk']}** Mitigation: {item['mitigation']}" for item in content]
        else:
            for key, value in content.items():
                if isinstance(value, dict):
                    lines.append(f"- **{key.replace('_', ' ')}**:")
                    lines += [f"  - {name}: {text}" for name, text in value.items()]
                else:
                    lines.append(f"- **{key.replace('_', ' ')}**: {value}")
        lines.append("")
    lines.append(f"_Structure: {record['standard']}._")
    return "\n".join(lines) + "\n"
