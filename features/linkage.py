"""Partner records to master persons: Splink on the build's DuckDB, then one outcome per record.

Every accepted ``partner_people`` record ends ``linked`` (to one master person), ``review``
(uncertain: a data steward decides) or ``unlinked`` (no candidate good enough), with the
match probability of its best candidate. The rules (:func:`decide`, pure):

- a record links when its best candidate reaches ``link_threshold`` and outweighs every
  other candidate by ``margin_bits`` of match weight (twins with a blank given name, or a
  child named after a parent with no birth date, make two strong candidates: a person
  decides). Probabilities saturate at 1 for well-matched records, so the margin is in weights;
- otherwise it goes to review when its best candidate reaches ``review_threshold``;
- two records of one source share a master person only if both are confident; otherwise
  the stronger keeps the link and the weaker goes to review;
- a steward's decision wins: ``accept`` links the pair (confident), ``reject`` removes the
  candidate and the record is decided on the rest.

Identifiers stop here: the build keeps only the master id a record resolved to.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features import linkage_model
from features.engine import splink_db_api
from features.names import canonical_names
from signpost.errors import UserError

log = logging.getLogger(__name__)

OUTCOMES = ("linked", "review", "unlinked")
#: Candidate pairs below this probability are not kept (they can decide nothing).
KEEP_ABOVE = 0.001
#: Columns of a clerical decisions file (written by the steward's page; CSV).
DECISION_COLUMNS = ("partner_record", "person", "decision", "decided_at", "reviewer")


@dataclass(frozen=True)
class Thresholds:
    link: float
    review: float
    #: A linked record's best candidate must outweigh the runner-up by this many bits of match
    #: weight (10 bits: the data are a thousand times likelier under the best candidate).
    margin_bits: float = 10.0


def decide(candidates: pd.DataFrame, records: pd.DataFrame, thresholds: Thresholds,
           decisions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One outcome per partner record.

    Parameters
    ----------
    candidates : DataFrame
        ``record`` (int), ``person`` (int), ``match_probability``, ``match_weight``: scored candidate pairs.
    records : DataFrame
        ``record`` (int, unique), ``source``: every accepted partner record.
    decisions : DataFrame, optional
        ``record``, ``person``, ``decision`` (``accept``/``reject``): a steward's decisions.

    Returns
    -------
    DataFrame
        ``record``, ``source``, ``person`` (the best candidate, NaN when none), ``match_probability``
        (0 when no candidate), ``runner_up`` probability, ``margin_bits`` (best minus runner-up
        match weight; inf when alone), ``outcome``, ``confident``, ``decided_by``.
    """
    pairs = candidates.loc[:, ["record", "person", "match_probability", "match_weight"]]
    accepted = pd.DataFrame(columns=["record", "person"])
    if decisions is not None and len(decisions):
        rejected = decisions.loc[decisions["decision"] == "reject", ["record", "person"]]
        pairs = pairs.merge(rejected.assign(_drop=True), how="left", on=["record", "person"])
        pairs = pairs.loc[pairs["_drop"].isna()].drop(columns="_drop")
        accepted = decisions.loc[decisions["decision"] == "accept", ["record", "person"]].drop_duplicates("record")
    pairs = pairs.sort_values(["record", "match_weight", "person"], ascending=[True, False, True])
    rank = pairs.groupby("record").cumcount()
    best = pairs.loc[rank == 0].set_index("record")
    runner_up = pairs.loc[rank == 1].set_index("record")
    out = records.loc[:, ["record", "source"]].set_index("record")
    out["person"] = best["person"]
    out["match_probability"] = best["match_probability"].reindex(out.index).fillna(0.0)
    out["runner_up"] = runner_up["match_probability"].reindex(out.index).fillna(0.0)
    out["margin_bits"] = (best["match_weight"] - runner_up["match_weight"]).reindex(out.index).fillna(np.inf)
    p = out["match_probability"]
    confident = (p >= thresholds.link) & (out["margin_bits"] >= thresholds.margin_bits)
    out["outcome"] = np.where(confident, "linked", np.where(p >= thresholds.review, "review", "unlinked"))
    out["decided_by"] = "model"
    if len(accepted):
        chosen = accepted.set_index("record")["person"].reindex(out.index)
        by_steward = chosen.notna()
        out.loc[by_steward, "person"] = chosen[by_steward]
        out.loc[by_steward, "outcome"] = "linked"
        out.loc[by_steward, "decided_by"] = "steward"
        confident = confident | by_steward
    out["confident"] = confident
    out = out.reset_index()
    return _resolve_shared_people(out)


def _resolve_shared_people(out: pd.DataFrame) -> pd.DataFrame:
    """Two linked records of one source on one person: unless both are confident the weaker goes to review."""
    linked = out.loc[out["outcome"] == "linked"]
    shared = linked.groupby(["source", "person"])["record"].transform("size") > 1
    groups = linked.loc[shared]
    if groups.empty:
        return out
    doubtful = groups.groupby(["source", "person"])["confident"].transform("all") == False
    ranked = groups.sort_values("match_probability", ascending=False)
    strongest = ranked.groupby(["source", "person"]).head(1).index
    demote = groups.index[doubtful.to_numpy() & ~groups.index.isin(strongest)]
    out.loc[demote, "outcome"] = "review"
    return out


def read_decisions(path: Path | None) -> pd.DataFrame | None:
    """A steward's decisions file, or None when there is none yet; a malformed one stops the build."""
    if path is None or not Path(path).is_file():
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in DECISION_COLUMNS if c not in frame.columns]
    bad = ~frame.get("decision", pd.Series(dtype=str)).isin(["accept", "reject"])
    if missing or bad.any():
        raise UserError(
            f"{path}: the clerical decisions file needs columns {', '.join(DECISION_COLUMNS)} and a decision of "
            "accept or reject on every row: fix it, or move it away to build without decisions"
        )
    return frame


def latest_decisions(*frames: pd.DataFrame | None) -> pd.DataFrame | None:
    """Decisions from every place they are kept (the CSV, the service database) as one: the latest
    ``decided_at`` on a pair wins, so a steward who changes their mind is heard; None when there are none."""
    present = [f.loc[:, list(DECISION_COLUMNS)] for f in frames if f is not None and len(f)]
    if not present:
        return None
    merged = pd.concat(present, ignore_index=True)
    when = pd.to_datetime(merged["decided_at"], utc=True, errors="coerce", format="ISO8601")
    merged = merged.assign(_when=when).sort_values("_when", kind="stable", na_position="first")
    return merged.drop_duplicates(["partner_record", "person"], keep="last").drop(columns="_when").reset_index(drop=True)


def prepared_sql(relation: str, id_column: str) -> str:
    """The columns Splink compares, normalised the same way on both sides."""
    return f"""
SELECT {id_column} AS unique_id,
  lower(trim(given_name)) AS given_name, COALESCE(n.formal, lower(trim(given_name))) AS given_canonical,
  lower(trim(family_name)) AS family_name, strftime(birth_date, '%Y-%m-%d') AS birth_date,
  strftime(birth_date, '%Y-%m-%d') AS birth_date_block, CAST(NULL AS VARCHAR) AS birth_date_initial,
  CAST(year(birth_date) AS VARCHAR) AS birth_year, NULLIF(sex, 'U') AS sex,
  CASE WHEN postcode_compact IS NOT NULL THEN left(postcode_compact, length(postcode_compact) - 3) || ' ' ||
    right(postcode_compact, 3) END AS postcode,
  lower(trim(address)) AS address, replace(nhs_number, ' ', '') AS nhs_number, upper(upn) AS upn
FROM {relation} r LEFT JOIN link_nicknames n ON n.written = lower(trim(r.given_name))"""


def uncrowd_birth_dates(con, tables: tuple[str, ...], limit: int) -> int:
    """Blank ``birth_date_block`` wherever a date is held by more than ``limit`` rows of any of
    ``tables``: a crowded date (a placeholder, a clamped age) is no blocking key on either side.
    Returns how many dates were crowded."""
    crowded = " UNION ".join(f"SELECT birth_date_block FROM {t} WHERE birth_date_block IS NOT NULL "
                             f"GROUP BY 1 HAVING count(*) > {int(limit)}" for t in tables)
    con.execute(f"CREATE OR REPLACE TEMP TABLE link_crowded AS {crowded}")
    for table in tables:
        con.execute(f"UPDATE {table} SET birth_date_block = NULL "
                    "WHERE birth_date_block IN (SELECT birth_date_block FROM link_crowded)")
    return con.execute("SELECT count(*) FROM link_crowded").fetchall()[0][0]


@dataclass
class Linkage:
    """What a run of the model produced: outcomes, review pairs and the trained linker (for charts)."""

    outcomes: pd.DataFrame
    pairs_compared: int  # pairs the blocking rules generate, each scored once
    candidate_pairs: int  # scored pairs kept (match probability above KEEP_ABOVE)
    linker: object
    timings: dict[str, float]
    #: ``record``, ``person`` and one column per comparison: the level each review pair reached,
    #: in the words of the model's level descriptions (:func:`level_descriptions`).
    review_levels: pd.DataFrame | None = None


def level_descriptions(model: dict) -> dict[str, dict[int, str]]:
    """Comparison -> comparison vector value -> that level's description, from Splink's model JSON.

    Splink numbers a comparison's levels in order: the null level -1, then the others from
    n - 1 down to 0 (the else level). ``model`` is ``linker.misc.save_model_to_json()``.
    """
    out: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        value = sum(not level.get("is_null_level", False) for level in levels) - 1
        described: dict[int, str] = {}
        for level in levels:
            if level.get("is_null_level", False):
                described[-1] = level["label_for_charts"]
            else:
                described[value] = level["label_for_charts"]
                value -= 1
        out[comparison["output_column_name"]] = described
    return out


def link(con, master: str, partners: str, thresholds: Thresholds, decisions: pd.DataFrame | None = None,
         *, seed: int = 1) -> Linkage:
    """Train the model on this extract (EM, no labels) and decide every partner record.

    ``master`` and ``partners`` name relations in ``con`` with ``given_name``, ``family_name``,
    ``birth_date`` (DATE), ``sex``, ``postcode_compact``, ``address``, ``nhs_number``, ``upn``
    and an integer id (``cid`` for the master, ``record`` for partners; partners also ``source``).
    """
    from splink import Linker
    from splink.blocking_analysis import (
        count_comparisons_from_blocking_rule,
        cumulative_comparisons_to_be_scored_from_blocking_rules_data,
    )

    timings: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = round(now - started, 3)
        log.info("linkage step %s: %.1f s", name, timings[name])  # counts and timings only, no identifiers
        started = now

    mapping = canonical_names()
    con.register("link_nicknames_src", pa.table({"written": list(mapping), "formal": list(mapping.values())}))
    con.execute("CREATE OR REPLACE TABLE link_nicknames AS SELECT * FROM link_nicknames_src")
    con.unregister("link_nicknames_src")
    con.execute(f"CREATE OR REPLACE TABLE link_master_in AS {prepared_sql(master, 'cid')}")
    con.execute(f"CREATE OR REPLACE TABLE link_partner_in AS {prepared_sql(partners, 'record')}")
    uncrowd_birth_dates(con, ("link_master_in", "link_partner_in"), linkage_model.MAX_BLOCK)
    for side in ("link_master_in", "link_partner_in"):
        con.execute(f"UPDATE {side} SET birth_date_initial = birth_date_block || ':' || left(given_canonical, 1)")
    records = con.execute(f"SELECT record, source FROM {partners}").df()
    n_master = con.execute("SELECT count(*) FROM link_master_in").fetchall()[0][0]
    step("prepare")
    if records.empty or n_master == 0:
        empty = pd.DataFrame({"record": [], "person": [], "match_probability": [], "match_weight": []})
        return Linkage(decide(empty, records, thresholds, decisions), 0, 0, None, timings)
    db_api = splink_db_api(con)
    counted = cumulative_comparisons_to_be_scored_from_blocking_rules_data(
        table_or_tables=["link_master_in", "link_partner_in"], blocking_rules=linkage_model.prediction_blocking_rules(),
        link_type="link_only", db_api=db_api)
    pairs_compared = int(counted["row_count"].sum())
    step("count pairs")
    linker = Linker(["link_master_in", "link_partner_in"], _with_u(con, db_api, n_master, len(records), seed),
                    db_api, input_table_aliases=["master", "partner"], set_up_basic_logging=False)
    linker.training.estimate_probability_two_random_records_match(linkage_model.deterministic_rules(), recall=0.8)
    step("train u")
    name_pairs = count_comparisons_from_blocking_rule(
        table_or_tables=["link_master_in", "link_partner_in"], blocking_rule=linkage_model.same_names(),
        link_type="link_only", db_api=db_api, compute_post_filter_count=False,
    )["number_of_comparisons_generated_pre_filter_conditions"]
    for rule in linkage_model.training_blocking_rules(int(name_pairs)):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    step("train m (EM)")
    predictions = linker.inference.predict(threshold_match_probability=KEEP_ABOVE)
    table = predictions.physical_name
    candidates = con.execute(f"""
SELECT CAST(CASE WHEN source_dataset_l = 'partner' THEN unique_id_l ELSE unique_id_r END AS BIGINT) AS record,
       CAST(CASE WHEN source_dataset_l = 'partner' THEN unique_id_r ELSE unique_id_l END AS BIGINT) AS person,
       match_probability, match_weight
FROM {table}""").df()
    step("predict")
    outcomes = decide(candidates, records, thresholds, decisions)
    step("decide")
    levels = _review_levels(con, table, outcomes, level_descriptions(linker.misc.save_model_to_json()))
    return Linkage(outcomes, pairs_compared, len(candidates), linker, timings, levels)


def _with_u(con, db_api, n_master: int, n_partner: int, seed: int) -> dict:
    """The linkage model with u probabilities estimated on a fixed sample of random pairs (as model JSON).

    Splink's own sampling (``estimate_u_using_random_sampling``) draws records with the
    backend's random sampler: DuckDB's Bernoulli sample (not repeatable across threads) and
    Spark's ``ORDER BY rand(seed)`` draw different records, so the two engines would train
    different models. Here each side keeps the records whose :func:`linkage_model.row_key` falls
    under a share, the same records on every engine and every run, and Splink estimates u on
    every pair of that sample (its own sampler then keeps everything).
    """
    from splink import Linker

    share = linkage_model.u_sample_share(n_master, n_partner)
    sides = []
    for side, table in enumerate(("link_master_in", "link_partner_in")):
        for kept in (linkage_model.u_sample("unique_id", side, share, seed), "TRUE"):  # a side never empty
            con.execute(f"CREATE OR REPLACE TABLE {table}_u AS SELECT * FROM {table} WHERE {kept}")
            count = con.execute(f"SELECT count(*) FROM {table}_u").fetchall()[0][0]
            if count:
                break
        sides.append(count)
    sampler = Linker(["link_master_in_u", "link_partner_in_u"], linkage_model.settings(), db_api,
                     input_table_aliases=["master", "partner"], set_up_basic_logging=False)
    # Splink counts a link-only job's pairs as 2 × left × right; at that budget it samples nothing.
    sampler.training.estimate_u_using_random_sampling(max_pairs=max(2.0 * sides[0] * sides[1], 1.0))
    return sampler.misc.save_model_to_json()


def _review_levels(con, predictions: str, outcomes: pd.DataFrame, described: dict[str, dict[int, str]]) -> pd.DataFrame:
    """For each pair in review, the level it reached on each comparison, described in words."""
    review = outcomes.loc[outcomes["outcome"] == "review", ["record", "person"]].astype("int64")
    con.register("link_review_pairs", pa.Table.from_pandas(review, preserve_index=False))
    gammas = ", ".join(f"gamma_{name}" for name in described)
    frame = con.execute(f"""
WITH scored AS (
  SELECT CAST(CASE WHEN source_dataset_l = 'partner' THEN unique_id_l ELSE unique_id_r END AS BIGINT) AS record,
         CAST(CASE WHEN source_dataset_l = 'partner' THEN unique_id_r ELSE unique_id_l END AS BIGINT) AS person,
         {gammas}
  FROM {predictions})
SELECT s.* FROM scored s JOIN link_review_pairs r USING (record, person)""").df()
    con.unregister("link_review_pairs")
    for name, levels in described.items():
        frame[name] = frame.pop(f"gamma_{name}").map(levels)
    return frame
