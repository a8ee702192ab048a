"""Real models and real people for the serving tests: built from the shared small county.

A Signposter (EASE) and an early-help scorer are fitted on the county's processed folder and
registered as champions in a throwaway MLflow store — the same pyfunc wrappers training uses.
People for every role are picked from the raw extracts (raw ids are what the API receives).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

RECOMMENDER = "signpost-recommender"
EARLY_HELP = "signpost-early-help"
JWT_KEY = "serving-tests-signing-key-0123456789abcdef"


def fit_signposter(processed: Path, l2: float = 50.0):
    from recommender.ease import EASE
    from recommender.signposting import Signposter

    citizens = pd.read_parquet(processed / "citizens.parquet")
    services = pd.read_parquet(processed / "services.parquet")
    history = sparse.load_npz(processed / "interactions_all.npz").tocsr()
    return Signposter.from_processed_tables(citizens, services, history, model=EASE(l2=l2).fit(history),
                                            model_name=f"ease-l2-{l2:g}")


def fit_early_help(processed: Path, settings):
    import json

    from recommender.early_help import (
        CalibratedEarlyHelp,
        EarlyHelpScorer,
        FeatureSpec,
        LogisticEarlyHelp,
    )

    features = FeatureSpec.from_records(json.loads((processed / "early_help_features.json").read_text()))
    table = pd.read_parquet(processed / "early_help_train.parquet")
    names = [f.name for f in features]
    X = table[names].to_numpy(dtype=np.float64, na_value=np.nan)
    y = table["label"].to_numpy(dtype=int)
    model = CalibratedEarlyHelp(LogisticEarlyHelp(), n_folds=3).fit(X, y)
    return EarlyHelpScorer(model, features, tuple(settings.early_help_bands))


@contextmanager
def tracking(uri: str):
    import mlflow

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    finally:
        mlflow.set_tracking_uri(before)
        mlflow.set_registry_uri(before)


def register_signposter(uri: str, folder: Path, signposter, *, champion: bool = True) -> str:
    """Log + register one recommender version; returns the version."""
    import mlflow
    from training.recommender_pyfunc import log_signposter

    with tracking(uri) as client:
        experiment = _experiment(client, folder, "serving-tests-recommender")
        with mlflow.start_run(experiment_id=experiment):
            model_uri = log_signposter(signposter, folder / "work")
        version = str(mlflow.register_model(model_uri, RECOMMENDER).version)
        if champion:
            client.set_registered_model_alias(RECOMMENDER, "champion", version)
    return version


def register_early_help(uri: str, folder: Path, scorer) -> str:
    import mlflow
    from training.early_help_pyfunc import EarlyHelpPyfunc

    with tracking(uri) as client:
        experiment = _experiment(client, folder, "serving-tests-early-help")
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.pyfunc.log_model(name="model", python_model=EarlyHelpPyfunc(scorer),
                                           pip_requirements=["mlflow"])
        version = str(mlflow.register_model(info.model_uri, EARLY_HELP).version)
        client.set_registered_model_alias(EARLY_HELP, "champion", version)
    return version


def _experiment(client, folder: Path, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=(folder / "artifacts").resolve().as_uri())


@dataclass
class People:
    """Raw council ids (what the API receives) for each kind of test subject."""

    citizen: str  # consents to personalisation, has history
    other_citizen: str  # a different household, not on the caseworker's caseload
    caseworker: str
    on_caseload: str  # a child on the caseworker's open caseload, scored for early help
    household_member: str | None  # an adult in that child's household
    erasable: list[str] = field(default_factory=list)  # spare citizens tests may erase


def pick_people(raw: Path, processed: Path, key: str, as_of) -> People:
    from features.pseudonym import pseudonymise

    citizens_raw = pd.read_csv(raw / "citizens.csv", dtype=str)
    caseloads_raw = pd.read_csv(raw / "caseloads.csv", dtype=str)
    citizens = pd.read_parquet(processed / "citizens.parquet").set_index("pseudonym")
    history = sparse.load_npz(processed / "interactions_all.npz").tocsr()
    scored = set(pd.read_parquet(processed / "early_help_score.parquet")["pseudonym"])
    citizens_raw = citizens_raw.dropna(subset=["person_id"]).drop_duplicates("person_id", keep=False)
    citizens_raw["pseudonym"] = pseudonymise(citizens_raw["person_id"].tolist(), key.encode(), "person")
    citizens_raw = citizens_raw[citizens_raw["pseudonym"].isin(citizens.index)]
    known = citizens.loc[citizens_raw["pseudonym"]]
    rows = known["row"].to_numpy()
    n_used = np.diff(history.indptr)[rows]
    citizens_raw["consents"] = known["consent_personalisation"].fillna(False).to_numpy(dtype=bool)
    citizens_raw["used"] = n_used
    citizens_raw["household"] = known["household"].to_numpy()

    open_rows = caseloads_raw[caseloads_raw["end_date"].isna() | (caseloads_raw["end_date"] == "")]
    caseworker, child, adult = None, None, None
    for caseworker_id, group in open_rows.groupby("caseworker_id"):
        households = set(pseudonymise(group["household_id"].dropna().tolist(), key.encode(), "household"))
        members = citizens_raw[citizens_raw["household"].isin(households)]
        children = members[members["pseudonym"].isin(scored)]
        if len(children):
            caseworker = caseworker_id
            child = children.iloc[0]
            adults = members[(members["household"] == child["household"]) & ~members["pseudonym"].isin(scored)]
            adult = adults["person_id"].iloc[0] if len(adults) else None
            break
    assert caseworker is not None, "the small county has no open caseload with a scored child"
    all_caseload = set(caseloads_raw["household_id"].dropna())
    all_caseload_ps = set(pseudonymise(sorted(all_caseload), key.encode(), "household"))
    free = citizens_raw[~citizens_raw["household"].isin(all_caseload_ps)]
    active = free[free["consents"] & (free["used"] >= 2)]
    return People(
        citizen=active["person_id"].iloc[0],
        other_citizen=active["person_id"].iloc[1],
        caseworker=caseworker,
        on_caseload=child["person_id"],
        household_member=adult,
        erasable=active["person_id"].iloc[2:12].tolist(),
    )
