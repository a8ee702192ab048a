"""`signpost evaluate recommender`: the model next to the oracle, on synthetic data only.

The oracle ranks by the generator's true probability that each citizen uses each service in
the final three months (``truth/usage_probability.npy``), under the same rules as the model
(eligible, offered, not already used). Both are scored on the same hold-out, so the gap says
how much of the achievable ranking quality the model captures. Raw person ids from truth/ are
pseudonymised with the pipeline's key at once and never printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from features.pseudonym import load_key, pseudonymise
from recommender.candidates import from_config
from recommender.popularity import Popularity
from signpost.errors import UserError
from signpost.settings import Settings, get_settings
from training.recommender import (
    TrainingData,
    evaluate_split,
    load_processed,
    oracle_metrics,
    temporal_split,
)

SHOWN = ("recall@10", "ndcg@10", "precision@10", "hit_rate@10")


def true_probabilities(truth: Path, data: TrainingData, key: bytes) -> np.ndarray:
    """The truth's usage probabilities re-indexed to the processed rows and columns, (n, m)."""
    truth = Path(truth)
    if (truth / "truth").is_dir() and not (truth / "usage_probability.npy").is_file():
        truth = truth / "truth"
    needed = [truth / "usage_probability.npy", truth / "persons.parquet", truth / "services.parquet"]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        raise UserError(f"{truth} lacks {', '.join(missing)}: point --truth at the truth/ folder written by `signpost generate`")
    probability = np.load(truth / "usage_probability.npy", mmap_mode="r")
    person_ids = pd.read_parquet(truth / "persons.parquet", columns=["person_id"])["person_id"].astype(str).tolist()
    truth_services = pd.read_parquet(truth / "services.parquet", columns=["service_id"])["service_id"].astype(str).tolist()
    if probability.shape != (len(person_ids), len(truth_services)):
        raise UserError(f"{truth}: usage_probability.npy does not match persons/services; regenerate the county")
    row_of = dict(zip(data.citizens["pseudonym"], data.citizens["row"], strict=True))
    truth_rows, rows = [], []
    for i, pseudonym in enumerate(pseudonymise(person_ids, key, kind="person")):
        row = row_of.get(pseudonym)
        if row is not None:
            truth_rows.append(i)
            rows.append(row)
    if not rows:
        raise UserError(
            "no person in truth/ matches a citizen of the processed folder: is --truth from the same "
            "county, and is the pseudonym key the one `signpost features` used?"
        )
    col_of = {sid: c for c, sid in enumerate(truth_services)}
    cols = [(c, col_of[sid]) for c, sid in enumerate(data.services["service_id"].astype(str)) if sid in col_of]
    out = np.zeros((len(data.citizens), data.n_services), dtype=np.float32)
    processed_cols = np.array([c for c, _ in cols])
    truth_cols = np.array([t for _, t in cols])
    out[np.ix_(np.array(rows), processed_cols)] = np.asarray(probability[np.array(truth_rows)][:, truth_cols], dtype=np.float32)
    return out


def compare_with_oracle(truth: Path, processed: Path, settings: Settings | None = None) -> pd.DataFrame:
    """Model (champion, else challenger; refitted on the training split) vs oracle vs popularity."""
    from training import tracking

    settings = settings or get_settings()
    tracking.configure(settings)
    version = tracking.champion_version(settings.recommender_model_name) or tracking.challenger_version(
        settings.recommender_model_name
    )
    if version is None:
        raise UserError("no registered recommender: run `signpost train recommender` first")
    config = json.loads((version.tags or {}).get("recommender.config", "null") or "null")
    if config is None:
        raise UserError(f"version {version.version} has no recommender.config tag; retrain it")
    data = load_processed(processed)
    probability = true_probabilities(truth, data, load_key(settings, create=False))
    split = temporal_split(data)
    model = split.fit_model(from_config(config))
    rows = {
        f"{config['model']} (v{version.version})": evaluate_split(model, split, data)[0].metrics,
        "popularity": evaluate_split(Popularity().fit(split.fit), split, data)[0].metrics,
        "oracle": oracle_metrics(probability, split.relevant, data, split.fit),
    }
    frame = pd.DataFrame([{"ranking": name, **{m: metrics[m] for m in SHOWN}} for name, metrics in rows.items()])
    oracle_ndcg = rows["oracle"]["ndcg@10"]
    frame["share of oracle ndcg@10"] = frame["ndcg@10"] / oracle_ndcg if oracle_ndcg else np.nan
    return frame
