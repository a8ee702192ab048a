"""`signpost promote recommender`: move `champion` only when a fair comparison allows it.

Fair means: champion and challenger are each rebuilt from their recorded configuration,
fitted on the *same* training split of the newest processed folder and evaluated on its
hold-out, ranked as served. A registered model (refitted on everything, hold-out included)
is never scored on data it has seen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from recommender.candidates import from_config
from signpost.errors import UserError
from signpost.settings import Settings, get_settings
from training.recommender import Evaluation, evaluate_split, load_processed, temporal_split

COMPARED = ("ndcg@10", "recall@10", "precision@10", "map@10", "hit_rate@10", "coverage@10")


@dataclass
class Promotion:
    promoted: bool
    forced: bool
    reason: str
    challenger: str
    champion: str | None
    table: pd.DataFrame


def _config(version) -> dict:  # mlflow ModelVersion
    raw = (version.tags or {}).get("recommender.config")
    if not raw:
        raise UserError(
            f"version {version.version} has no recommender.config tag, so it cannot be refitted "
            "fairly; retrain it with `signpost train recommender`"
        )
    return json.loads(raw)


def promote(processed: Path, *, force: bool = False, settings: Settings | None = None) -> Promotion:
    """Compare challenger and champion on the newest hold-out and move the alias if allowed."""
    from training import tracking

    settings = settings or get_settings()
    tracking.configure(settings)
    name = settings.recommender_model_name
    challenger = tracking.challenger_version(name)
    if challenger is None:
        raise UserError(f"{name} has no challenger yet: run `signpost train recommender --processed DIR` first")
    champion = tracking.champion_version(name)
    if champion is None:
        reason = "first promotion: there was no champion"
        tracking.set_alias(name, challenger.version, tracking.CHAMPION, reason=reason, forced=force)
        return Promotion(True, force, reason, str(challenger.version), None, pd.DataFrame())
    if str(champion.version) == str(challenger.version):
        return Promotion(False, False, f"version {challenger.version} is already the champion", str(challenger.version), str(champion.version), pd.DataFrame())

    data = load_processed(processed)
    split = temporal_split(data)  # the split training chose on
    scores: dict[str, Evaluation] = {}
    for role, version in (("champion", champion), ("challenger", challenger)):
        model = split.fit_model(from_config(_config(version)))
        scores[role] = evaluate_split(model, split, data)[0]
    table = pd.DataFrame(
        {
            "metric": list(COMPARED),
            f"champion v{champion.version}": [scores["champion"].metrics[m] for m in COMPARED],
            f"challenger v{challenger.version}": [scores["challenger"].metrics[m] for m in COMPARED],
        }
    )
    table["difference"] = table.iloc[:, 2] - table.iloc[:, 1]
    margin = settings.recommender_promotion_margin
    gap = scores["challenger"].metrics["ndcg@10"] - scores["champion"].metrics["ndcg@10"]
    passes = gap >= -margin
    if passes:
        reason = (f"challenger NDCG@10 {scores['challenger'].metrics['ndcg@10']:.4f} vs champion "
                  f"{scores['champion'].metrics['ndcg@10']:.4f}: not worse than the margin {margin}")
    else:
        reason = (f"challenger NDCG@10 is {-gap:.4f} below the champion's, beyond the margin {margin}")
    promoted = passes or force
    if promoted:
        recorded = reason if passes else f"forced despite: {reason}"
        tracking.set_alias(name, challenger.version, tracking.CHAMPION, reason=recorded, forced=force and not passes)
        reason = recorded
    return Promotion(promoted, force and not passes, reason, str(challenger.version), str(champion.version), table)
