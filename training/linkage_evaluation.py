"""`signpost evaluate linkage`: partner linkage against the synthetic county's true links.

Precision, recall and F1 count a partner record as correct when it is ``linked`` to its
true master person; a record in review or unlinked is a miss when it has one (recall counts
records whose master person was quarantined as misses too: that is what a council would
lose). The review queue's share of records is the steward's workload. Splink's own charts
(match weights, m and u, and the threshold selection tool over labelled pairs) go to
MLflow as HTML artifacts, beside the figures as numbers.
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

import mlflow
from features.build import linkage_session
from features.pseudonym import load_key, pseudonymise
from signpost.errors import UserError
from signpost.settings import Settings
from training import tracking

EXPERIMENT = "signpost-linkage"


def linkage_quality(outcomes: pd.DataFrame, truth: pd.DataFrame, key: bytes,
                    master: set[str] | None = None) -> dict[str, float]:
    """Precision, recall, F1 of the links and the review share, from pseudonymised outcomes.

    ``outcomes``: ``partner_record``, ``outcome``, ``person`` (pseudonyms, as written by the
    build). ``truth``: ``source``, ``local_id``, ``person_id`` (raw, None for visitors).
    ``master``: pseudonyms of the accepted master people; with it, ``recall_linkable`` and
    ``f1_linkable`` count only records whose person the master index holds (a record whose
    citizen row was quarantined cannot be linked by any method).
    """
    if truth.empty:
        raise UserError("truth/links.parquet is empty: generate the county with --partners local")
    truth = pd.DataFrame({
        "partner_record": pseudonymise((truth["source"] + ":" + truth["local_id"]).tolist(), key, "partner"),
        "true_person": [pseudonymise([p], key, "person")[0] if isinstance(p, str) else None
                        for p in truth["person_id"]],
    })
    joined = truth.merge(outcomes, on="partner_record", how="left")
    linked = joined["outcome"] == "linked"
    correct = linked & (joined["person"] == joined["true_person"])
    has_person = joined["true_person"].notna()
    precision = correct.sum() / max(int(linked.sum()), 1)
    recall = correct.sum() / max(int(has_person.sum()), 1)
    extra = {}
    if master is not None:
        linkable = joined["true_person"].isin(master)
        recall_linkable = correct.sum() / max(int(linkable.sum()), 1)
        extra = {"recall_linkable": float(recall_linkable),
                 "f1_linkable": float(2 * precision * recall_linkable / (precision + recall_linkable))
                 if precision + recall_linkable else 0.0}
    return extra | {
        "records": float(len(joined)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0,
        "review_share": float((joined["outcome"] == "review").mean()),
        "unlinked_share": float((joined["outcome"] == "unlinked").mean()),
        "quarantined_share": float(joined["outcome"].isna().mean()),
        "false_links": float((linked & ~correct).sum()),
    }


def encoded_quality(raw: Path, truth: Path, secret: bytes, settings: Settings) -> dict[str, float]:
    """Precision, recall, F1 and review share of linkage on Bloom-filter encodings alone (``features.encoding``).

    The master index (every citizen row) and the partner records are encoded with ``secret``
    (filters and keyed blocking values) and linked on Dice similarity; no name, date of birth or
    postcode is compared in the clear.
    """
    from features.encoding import (
        block_table,
        blocks,
        encode,
        encoded_thresholds,
        link_encoded,
        read_partner_people,
    )

    raw = Path(raw)
    citizens_file = raw / "citizens.csv"
    citizens = (pd.read_csv(citizens_file, dtype=str, keep_default_na=False) if citizens_file.exists()
                else pd.read_parquet(raw / "citizens.parquet").astype("string").fillna("").astype(object))
    partners = read_partner_people(raw)
    started = time.perf_counter()
    outcome = link_encoded(encode(citizens, secret), encode(partners, secret), block_table(blocks(citizens, secret)),
                           block_table(blocks(partners, secret)), **encoded_thresholds(settings))
    found = citizens["person_id"].to_numpy()[outcome["person"].fillna(0).astype(int).to_numpy()]
    frame = pd.DataFrame({"source": partners["source"].to_numpy()[outcome["record"]],
                          "local_id": partners["local_id"].to_numpy()[outcome["record"]],
                          "outcome": outcome["outcome"], "found": found})
    truth_links = pd.read_parquet(Path(truth) / "links.parquet")
    joined = truth_links.merge(frame, on=["source", "local_id"], how="left")
    linked = joined["outcome"] == "linked"
    correct = linked & (joined["found"] == joined["person_id"])
    precision = correct.sum() / max(int(linked.sum()), 1)
    recall = correct.sum() / max(int(joined["person_id"].notna().sum()), 1)
    return {"precision": float(precision), "recall": float(recall),
            "f1": float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0,
            "review_share": float((joined["outcome"] == "review").mean()),
            "false_links": float((linked & ~correct).sum()),
            "pairs_compared": float(outcome.attrs["pairs_compared"]), "seconds": round(time.perf_counter() - started, 1)}


def session_quality(session, links: pd.DataFrame, key: bytes) -> dict[str, float]:
    """:func:`linkage_quality` of an open linkage session, counting linkable records by its master index."""
    master = {row[0] for row in session.con.execute("SELECT pseudonym FROM person_map").fetchall()}
    return linkage_quality(pd.read_parquet(session.outcomes), links, key, master)


def evaluate(raw: Path, truth: Path, settings: Settings, *, extract_date: date | None = None,
             log: bool = True, encoded: bool = False) -> dict[str, float]:
    """Link ``raw`` as the build would, compare with ``truth/links.parquet``, log figures and charts to MLflow.

    ``encoded``: also link on Bloom-filter encodings (a throwaway secret: evaluation only) and
    report those figures with the prefix ``encoded_``.
    """
    links_file = Path(truth) / "links.parquet"
    if not links_file.is_file():
        raise UserError(f"{links_file} does not exist: generate the county with `signpost generate --partners local`")
    links = pd.read_parquet(links_file)
    key = load_key(settings)
    with linkage_session(raw, settings=settings, extract_date=extract_date) as session:
        metrics = session_quality(session, links, key)
        metrics["candidate_pairs"] = float(session.summary["candidate_pairs"])
        if encoded:
            metrics |= {f"encoded_{k}": v for k, v in encoded_quality(raw, truth, os.urandom(32), settings).items()}
        if log and session.linker is not None:
            charts = _charts(session, links)
            tracking.use_experiment(EXPERIMENT, settings)
            with mlflow.start_run(run_name="linkage"):
                mlflow.log_params({"link_threshold": settings.linkage_link_threshold,
                                   "review_threshold": settings.linkage_review_threshold,
                                   "margin_bits": settings.linkage_margin_bits})
                mlflow.log_metrics(metrics)
                for name, html in charts.items():
                    mlflow.log_text(html, f"charts/{name}.html")
    return metrics


def _charts(session, links: pd.DataFrame) -> dict[str, str]:
    """Splink's charts as HTML: match weights, m/u parameters, threshold selection over labelled pairs.

    Labelled pairs: every true pair, and every master/partner pair that shares a date of
    birth (mostly non-matches), each labelled from the truth.
    """
    con, linker = session.con, session.linker
    con.register("truth_links_src", pa.Table.from_pandas(links, preserve_index=False))
    con.execute("""
CREATE OR REPLACE TABLE linkage_labels AS
WITH truth AS (
  SELECT p.record, m.cid FROM truth_links_src t
  JOIN link_partners p ON p.source = t.source AND p.local_id = t.local_id
  JOIN person_map m ON m.value = t.person_id),
pairs AS (
  SELECT m.unique_id AS cid, p.unique_id AS record FROM link_master_in m
  JOIN link_partner_in p ON m.birth_date = p.birth_date
  UNION SELECT cid, record FROM truth)
SELECT 'master' AS source_dataset_l, pairs.cid AS unique_id_l, 'partner' AS source_dataset_r,
  pairs.record AS unique_id_r,
  CASE WHEN truth.cid IS NOT NULL THEN 1.0 ELSE 0.0 END AS clerical_match_score
FROM pairs LEFT JOIN truth ON truth.cid = pairs.cid AND truth.record = pairs.record""")
    con.unregister("truth_links_src")
    charts = {
        "match_weights": linker.visualisations.match_weights_chart(),
        "m_u_parameters": linker.visualisations.m_u_parameters_chart(),
        "threshold_selection": linker.evaluation.accuracy_analysis_from_labels_table(
            "linkage_labels", output_type="threshold_selection", add_metrics=["f1"]),
    }
    return {name: chart.to_html() for name, chart in charts.items()}
