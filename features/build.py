"""`signpost features`: partner extracts in, consented and pseudonymised outputs out.

This is the one function here that reads and writes: the rules, consent logic, matrix and
feature definitions it applies are pure functions and SQL builders in the sibling modules.
Stages, each timed in the manifest and shown as a progress bar:

1. read the extracts into DuckDB as text, in file order (``features.extracts``);
2. validate every table (``features.validate``): citizens, services, then the tables that
   refer to them, so references follow what was accepted; pseudonymise accepted people and
   households (``features.pseudonym``); before the events, link partner records to the
   accepted citizens (``features.linkage``, contract version 2) so that events by a
   partner's own id resolve to the master person or are quarantined with the outcome;
3. write the quarantine (raw rows + ``row_number`` + ``reason``) beside the raw extracts;
   then leave out everyone erased through the service, with their rows in every table and
   households no one else is left in, as if the extract had not held them;
4. consent as of each snapshot day (``features.consent``), over the extract's consent records
   merged with the decisions people made through the service since (its ledger);
5. outputs: citizens, services, interaction matrices, early-help tables, the research
   export, consents and caseloads — each built only from people and sources its purpose
   allows — and ``manifest.json``.

DuckDB works in a temporary database with a memory limit and spills to disk beyond it, so
the 1.4M-resident county never has to fit in memory; only distinct ids (for the HMAC), the
consent records and the final matrices pass through Python. The temporary folder holds raw
data and is deleted when the build ends, whether it succeeds or not. Outputs are written to
a staging folder and moved into ``out`` only when everything succeeded.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from dateutil.relativedelta import relativedelta
from scipy.sparse import save_npz

import signpost
from features import consent as consent_rules
from features import early_help, linkage, matrices, research
from features.contract import (
    CASELOADS,
    CITIZENS,
    CONSENTS,
    EVENTS,
    OUTCOMES_TABLE,
    PARTNER_PEOPLE,
    PARTNER_PEOPLE_ENCODED,
    PURPOSES,
    SERVICES,
    Table,
)
from features.engine import (
    ENGINES,
    PSEUDONYM_FUNCTIONS,
    SparkConnection,
    engine_name,
    read_extract,
    register_pseudonym_functions,
    spark_session,
)
from features.extracts import ExtractFile, locate
from features.generalise import age_band_bounds_sql, age_band_sql, age_sql
from features.geography import POSTCODE_DISTRICT_TO_AUTHORITY
from features.pseudonym import key_id, load_key, pseudonymise
from features.validate import (
    SHOWN_CHARS,
    CheckContext,
    Reference,
    checked_sql,
    duplicates_update_sql,
    quote_literal,
)
from signpost.digests import sha256_file
from signpost.errors import UserError
from signpost.progress import make_progress
from signpost.settings import Settings

STAGES = (
    "read extracts",
    "hash inputs",
    "validate citizens",
    "validate services",
    "link partner records",
    "validate events",
    "validate consents, outcomes, caseloads",
    "write quarantine",
    "leave out erased people",
    "consent as of snapshots",
    "citizens and services",
    "interaction matrices",
    "early-help tables",
    "research export",
    "consents and caseloads",
    "manifest",
)
#: Early-help snapshots: name -> months before as_of; labelled unless it is the scoring table.
EARLY_HELP_SNAPSHOTS = {"train": 12, "valid": 6, "score": 0}


def build(
    raw: Path,
    out: Path,
    *,
    as_of: date,
    quarantine: Path | None = None,
    engine: str = "duckdb",
    settings: Settings,
    extract_date: date | None = None,
    on_stage: Callable[[str], None] | None = None,
    erased: Collection[str] | None = None,
    ledger: pd.DataFrame | None = None,
    accept_quarantine: bool = False,
    decisions: Path | None = None,
    steward: pd.DataFrame | None = None,
    spark_master: str | None = None,
) -> dict:
    """Validate, consent-filter and pseudonymise the extracts in ``raw`` into ``out``.

    Parameters
    ----------
    raw : Path
        Folder with one file per contract table (``<table>.csv`` or ``<table>.parquet``).
    out : Path
        Processed folder (created; files of the same names are replaced).
    as_of : date
        Snapshot day: consent state, age bands and the end of every window.
    quarantine : Path, optional
        Folder for rejected rows; default ``<raw>/quarantine``. Never inside ``out``.
    engine : {"duckdb", "spark"}
        Where the SQL runs (``features.engine``): DuckDB in this process, or Apache Spark
        (the ``spark`` extra). The outputs are the same.
    settings : Settings
        Policy (consent defaults, sharing policy, event weights...) and the pseudonym key.
    extract_date : date, optional
        The day the extract was taken; dates after it are faults. Default: today.
    on_stage : callable, optional
        Called with each stage name as it starts (benchmarks attribute memory with it).
    erased : collection of str, optional
        Person pseudonyms erased through the service (``serving.infra.service_readers.erased_pseudonyms``);
        they and their rows are left out of every output and counted in the manifest. None:
        there is no service database to read them from (the manifest says so). Pseudonyms are
        keyed, so a non-empty list must come with the key the service used: the build stops if
        the service's processed folder (``settings.processed_dir``) was built with another key.
    ledger : DataFrame, optional
        Consent decisions made through the service (``serving.infra.service_readers.api_consents``): columns
        ``pseudonym``, ``purpose``, ``status``, ``recorded_at`` (UTC; naive values are UTC).
        They join the extract's consent records for every snapshot (the latest record as of
        the day wins), so every consent-filtered output follows them; records of people not in
        this extract are ignored. Only counts reach the manifest, and none of these records is
        written to ``consents.parquet`` (the service holds them). None: no service database
        (the manifest says so). The same key check as for ``erased`` applies.
    accept_quarantine : bool
        Build even when events came from sources the sharing policy does not name, or a table
        lost more than ``settings.quarantine_max_share`` of its rows to the quarantine. Without
        it either stops the build (after the quarantine is written, so it can be read): so much
        lost is a broken extract or a missing agreement, not a few typos.
    decisions : Path, optional
        A data steward's clerical decisions on uncertain links (``features.linkage.DECISION_COLUMNS``);
        default: ``linkage_decisions.csv`` in the raw folder, when it exists.
    steward : DataFrame, optional
        Clerical decisions recorded on the data steward's page
        (``serving.infra.service_readers.steward_decisions``), in the same columns; with the file's,
        the latest decision on a pair wins.
    spark_master : str, optional
        With ``engine="spark"``: the master URL (``spark://host:7077``, ``yarn``...); default
        ``local[2]``. Under ``spark-submit`` the session it started is used as it is.

    Returns
    -------
    dict
        The manifest, as written to ``out/manifest.json``.
    """
    raw, out = Path(raw), Path(out)
    extract_date = extract_date or date.today()
    if as_of > extract_date:
        raise UserError(
            f"--as-of {as_of} is after the extract date {extract_date}: choose a snapshot day "
            "the extract covers"
        )
    quarantine = Path(quarantine) if quarantine is not None else raw / "quarantine"
    if _inside(quarantine, out):
        raise UserError(
            f"the quarantine folder {quarantine} is inside the output {out}: quarantined rows are raw "
            "data and must stay out of the processed folder; choose another --quarantine"
        )
    if _inside(out, raw) and out.resolve() == raw.resolve():
        raise UserError("--out must not be the raw extract folder")

    extracts = locate(raw)
    key = load_key(settings)
    erased = frozenset(erased) if erased is not None else None
    ledger = _ledger_frame(ledger)
    service_key_id = _check_erasure_key(erased, key, settings)
    _check_erasure_key(
        None if ledger is None else frozenset(ledger["pseudonym"]), key, settings,
        what="made consent decisions through the service",
    )
    plan = _Plan(as_of=as_of, extract_date=extract_date, settings=settings)

    out.parent.mkdir(parents=True, exist_ok=True)
    stage_dir = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    work = Path(tempfile.mkdtemp(prefix="signpost-features-"))
    con = None
    try:
        con = _connect(engine, work, settings, key, spark_master)
        with make_progress() as progress:
            stages = _Stages(progress, on_stage)
            manifest = _run(con, stages, extracts, plan, key, stage_dir, quarantine, erased, service_key_id,
                            ledger, accept_quarantine, linkage.latest_decisions(linkage.read_decisions(
                                decisions if decisions is not None else raw / "linkage_decisions.csv"), steward))
        _publish(stage_dir, out)
        return manifest
    finally:
        if con is not None:
            con.close()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(stage_dir, ignore_errors=True)


def _connect(engine: str, work: Path, settings: Settings, key: bytes, spark_master: str | None = None):
    """The build's connection: DuckDB in this process or a Spark session, in UTC, with the pseudonym functions."""
    if engine not in ENGINES:
        raise UserError(f"engine {engine!r} is not available: use --engine {' or '.join(ENGINES)}")
    if engine == "spark":
        con = SparkConnection(spark_session(
            spark_master, driver_memory=settings.spark_driver_memory,
            shuffle_partitions=settings.spark_shuffle_partitions, local_dir=work / "spark",
            max_partition_bytes=settings.spark_max_partition_bytes, log_level=settings.spark_log_level))
    else:
        con = duckdb.connect(str(work / "work.duckdb"), config={
            "memory_limit": settings.features_memory_limit, "temp_directory": str(work / "spill"),
            "preserve_insertion_order": True})
    try:
        con.execute("SET TimeZone = 'UTC'")
        register_pseudonym_functions(con, key)
    except BaseException:
        con.close()
        raise
    return con


class _Plan:
    """The dates and policy of one build, derived once."""

    def __init__(self, *, as_of: date, extract_date: date, settings: Settings) -> None:
        self.as_of = as_of
        self.extract_date = extract_date
        self.settings = settings
        self.split_date = as_of - relativedelta(months=settings.holdout_months)
        self.snapshots = {
            name: as_of - relativedelta(months=months) for name, months in EARLY_HELP_SNAPSHOTS.items()
        }
        policy = settings.sharing_policy
        self.sources = tuple(sorted(policy))
        self.for_purpose = {p: tuple(sorted(s for s, ps in policy.items() if p in ps)) for p in PURPOSES}
        self.indicator_sources = early_help.indicator_sources(policy)


class _Stages:
    """Times each stage, advances the progress bar and tells an observer."""

    def __init__(self, progress, on_stage: Callable[[str], None] | None) -> None:
        self.progress = progress
        self.task = progress.add_task("features", total=len(STAGES))
        self.on_stage = on_stage
        self.timings: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        assert name in STAGES, name
        self.progress.update(self.task, description=f"features: {name}")
        if self.on_stage:
            self.on_stage(name)
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)
        self.progress.advance(self.task)

    def total(self) -> float:
        return round(time.perf_counter() - self.started, 3)


def _run(
    con: duckdb.DuckDBPyConnection,
    stages: _Stages,
    extracts: dict[str, ExtractFile],
    plan: _Plan,
    key: bytes,
    stage_dir: Path,
    quarantine: Path,
    erased: Collection[str] | None,
    service_key_id: str | None,
    ledger: pd.DataFrame | None,
    accept_quarantine: bool,
    decisions: pd.DataFrame | None,
) -> dict:
    settings, as_of = plan.settings, plan.as_of
    with stages.stage("read extracts"):
        rows_read = _read_extracts(con, extracts)
    with stages.stage("hash inputs"):
        inputs = {
            name: {
                "file": e.path.name,
                "path": str(e.path),
                "format": e.format,
                "bytes": e.path.stat().st_size,
                "sha256": sha256_file(e.path),
                "missing_optional_columns": list(e.missing_optional),
            }
            for name, e in extracts.items()
        }

    ctx = CheckContext(plan.extract_date, plan.sources, "county_districts")
    with stages.stage("validate citizens"):
        _check_citizens(con, ctx, key)
        _pseudonym_map(con, key, "household", "t_household_id", "household_map", "hid")
        _reference_lookup(con, "checked_citizens", "t_person_id", "person_map", "cid", "person_ref")
        _reference_lookup(con, "checked_citizens", "t_household_id", "household_map", "hid", "household_ref")
        con.execute("""
CREATE TABLE people AS
SELECT m.cid, m.pseudonym, h.hid, h.pseudonym AS household, c.t_birth_date AS birth_date,
  c.t_sex AS sex, c.t_ethnicity AS ethnicity, c.t_disability AS disability,
  c.t_imd_decile AS imd_decile, c.postcode_district, d.authority AS local_authority
FROM checked_citizens c JOIN person_map m ON m.row_number = c.row_number
LEFT JOIN household_map h ON h.value = c.t_household_id
LEFT JOIN county_districts d ON d.district = c.postcode_district
WHERE c.reason IS NULL""")
    person = Reference("person_id", "citizens", "person_ref", "cid")
    with stages.stage("validate services"):
        _check(con, SERVICES, ctx, key=("service_id",))
        con.execute("""
CREATE TABLE service_map AS SELECT t_service_id AS value,
  CAST(row_number() OVER (ORDER BY t_service_id) - 1 AS INTEGER) AS col
FROM checked_services WHERE reason IS NULL""")
        _reference_lookup(con, "checked_services", "t_service_id", "service_map", "col", "service_ref")
    service = Reference("service_id", "services", "service_ref", "col")
    with stages.stage("link partner records"):
        linkage_summary, _ = _link_partners(con, ctx, extracts, settings, key, stage_dir, quarantine, decisions)
    partner = Reference("partner_person_id", "partner_people", "partner_ref", "cid",
                        value_sql="v_source || chr(31) || v_partner_person_id", explained=True)
    with stages.stage("validate events"):
        _check(con, EVENTS, ctx, references=(person, service, partner), key=("source", "event_id"))
        # Events by a partner's own id take the master person it was linked to: from here on
        # nothing can tell them from events that named the person directly.
        con.execute("UPDATE checked_events SET cid = partner_person_id_cid WHERE cid IS NULL")
        con.execute("""
CREATE VIEW events_ok AS SELECT cid, col, t_source AS source, t_event_type AS event_type,
  t_occurred_at AS occurred_at FROM checked_events WHERE reason IS NULL""")
    with stages.stage("validate consents, outcomes, caseloads"):
        _check(con, CONSENTS, ctx, references=(person,))
        if "outcomes" in extracts:
            _check(con, OUTCOMES_TABLE, ctx, references=(person,))
        if "caseloads" in extracts:
            household = Reference("household_id", "citizens", "household_ref", "hid")
            _check(con, CASELOADS, ctx, references=(household,))

    with stages.stage("write quarantine"):
        rows = _write_quarantine(con, extracts, rows_read, quarantine)
        sources = _events_by_source(con)
        gate = _quarantine_gate(rows, sources["unknown"], settings.quarantine_max_share, quarantine,
                                accept=accept_quarantine, min_rows=settings.quarantine_min_rows)

    with stages.stage("leave out erased people"):
        erasure = _leave_out_erased(con, erased, rows, service_key_id)

    with stages.stage("consent as of snapshots"):
        states, eh_allowed, snapshot_id, ledger_summary = _consent_states(con, plan, ledger)

    end = as_of + timedelta(days=1)
    with stages.stage("citizens and services"):
        n_citizens, n_services, service_frame = _citizens_and_services(con, plan, stage_dir)

    with stages.stage("interaction matrices"):
        nnz = _interaction_matrices(con, plan, stage_dir, (n_citizens, n_services))

    with stages.stage("early-help tables"):
        early_help_rows, catalogue = _early_help_tables(con, plan, stage_dir, service_frame, "outcomes" in extracts)

    with stages.stage("research export"):
        research_summary = _research_export(con, plan, stage_dir)

    with stages.stage("consents and caseloads"):
        _consents_and_caseloads(con, stage_dir, "caseloads" in extracts)

    with stages.stage("manifest"):
        after_as_of = {
            "citizens_born": _scalar(con, f"SELECT count(*) FROM people WHERE birth_date > DATE '{as_of}'"),
            "events": _scalar(con, f"SELECT count(*) FROM events_ok WHERE occurred_at >= TIMESTAMP '{end} 00:00:00'"),
            "consents": _scalar(
                con, f"SELECT count(*) FROM checked_consents WHERE reason IS NULL "
                f"AND t_recorded_at >= TIMESTAMP '{end} 00:00:00'"),
        }
        if "outcomes" in extracts:
            after_as_of["outcomes"] = _scalar(
                con, f"SELECT count(*) FROM checked_outcomes WHERE reason IS NULL AND t_occurred_at > DATE '{as_of}'")
        (stage_dir / "early_help_features.json").write_text(
            json.dumps([f.describe() for f in catalogue], indent=2) + "\n"
        )
        manifest = {
            "format": "signpost-processed/1",
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "inputs": inputs,
            "rows": rows,
            "after_as_of": after_as_of,
            "quarantine": str(quarantine),
            "as_of": as_of.isoformat(),
            "extract_date": plan.extract_date.isoformat(),
            "split_date": plan.split_date.isoformat(),
            "holdout_months": settings.holdout_months,
            "snapshots": {f"early_help_{k}": v.isoformat() for k, v in plan.snapshots.items()},
            "consent_snapshot_id": snapshot_id,
            "consent_snapshot_dates": sorted(d.isoformat() for d in states),
            "pseudonym_key_id": key_id(key),
            "sharing_policy": {s: list(p) for s, p in sorted(settings.sharing_policy.items())},
            "events_by_source": sources,
            "linkage": linkage_summary,
            "quarantine_gate": gate,
            "sources_by_purpose": {p: list(s) for p, s in plan.for_purpose.items()},
            "consent_defaults": dict(settings.consent_defaults),
            "consent_ledger": ledger_summary,
            "event_weights": dict(settings.event_weights),
            "decay_half_life_days": settings.decay_half_life_days,
            "shape": {"citizens": n_citizens, "services": n_services},
            "matrices": nnz,
            "personalisation_citizens": _scalar(con, "SELECT count(*) FROM snap WHERE personalisation"),
            "early_help": {"rows": early_help_rows, "features": len(catalogue),
                           "outcomes_present": "outcomes" in extracts,
                           "feature_groups": {g: sum(f.group == g for f in catalogue) for g in early_help.FEATURE_GROUPS},
                           "default_groups": list(early_help.DEFAULT_GROUPS),
                           "opt_in_groups": list(settings.early_help_opt_in_features),
                           "people_denied": eh_allowed},
            "research": research_summary,
            "sensitive_services": {
                "default_categories": sorted({c.strip().lower() for c in settings.sensitive_categories}),
                "sensitive": _scalar(con, "SELECT count(*) FROM services_ok WHERE sensitive"),
                "defaulted_by_category": _scalar(con, "SELECT count(*) FROM services_ok WHERE sensitive_by_category"),
            },
            "erasure": erasure,
            "engine": engine_name(con),
            "engine_version": con.spark.version if isinstance(con, SparkConnection) else duckdb.__version__,
            "software_version": signpost.__version__,
        }
    manifest["timings"] = {**stages.timings, "total": stages.total()}
    manifest["outputs"] = {
        str(p.relative_to(stage_dir)): sha256_file(p) for p in sorted(stage_dir.rglob("*")) if p.is_file()
    }
    (stage_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# ------------------------------------------------------------------ linkage alone -------


@dataclass
class LinkSession:
    """A linkage run whose connection is still open (charts and evaluation read it)."""

    con: duckdb.DuckDBPyConnection | SparkConnection
    linker: object
    summary: dict
    outcomes: Path  # link_outcomes.parquet (pseudonyms only)
    review_queue: Path  # linkage_review.csv (identifiers of the uncertain pairs)


@contextmanager
def linkage_session(raw: Path, *, settings: Settings, extract_date: date | None = None,
                    decisions: Path | None = None, steward: pd.DataFrame | None = None,
                    engine: str = "duckdb", spark_master: str | None = None) -> Iterator[LinkSession]:
    """Validate citizens and partner records and link them, as the build's link stage does, and nothing else.

    ``engine`` and ``spark_master`` as for :func:`build`. The temporary folder (raw data) is
    deleted when the session ends.
    """
    raw = Path(raw)
    extracts = {n: e for n, e in locate(raw).items() if n in ("citizens", "partner_people")}
    if "partner_people" not in extracts:
        raise UserError(f"{raw} holds no partner_people.csv or .parquet: there is nothing to link "
                        "(see the data contract, version 2)")
    key = load_key(settings)
    day = extract_date or date.today()
    plan = _Plan(as_of=day, extract_date=day, settings=settings)
    work = Path(tempfile.mkdtemp(prefix="signpost-link-"))
    con = None
    try:
        con = _connect(engine, work, settings, key, spark_master)
        _read_extracts(con, extracts)
        ctx = CheckContext(plan.extract_date, plan.sources, "county_districts")
        _check_citizens(con, ctx, key)
        (work / "out").mkdir()
        summary, linker = _link_partners(con, ctx, extracts, settings, key, work / "out", work / "queue",
                                         linkage.latest_decisions(linkage.read_decisions(
                                             decisions if decisions is not None else raw / "linkage_decisions.csv"),
                                             steward))
        summary["engine"] = engine_name(con)
        summary["rows"] = {}
        for name in extracts:
            counts = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE reason IS NULL), count(*) FILTER (WHERE reason IS NOT NULL) "
                f"FROM checked_{name}").fetchall()[0]
            summary["rows"][name] = dict(zip(("read", "accepted", "quarantined"), counts, strict=True))
        yield LinkSession(con, linker, summary, work / "out" / "link_outcomes.parquet",
                          work / "queue" / "linkage_review.csv")
    finally:
        if con is not None:
            con.close()
        shutil.rmtree(work, ignore_errors=True)


def link_extract(raw: Path, out: Path, *, settings: Settings, extract_date: date | None = None,
                 decisions: Path | None = None, steward: pd.DataFrame | None = None,
                 engine: str = "duckdb", spark_master: str | None = None) -> dict:
    """`signpost link`: ``link_outcomes.parquet``, ``linkage_review.csv`` (0600) and ``linkage.json`` into ``out``."""
    out = Path(out)
    if out.resolve() == Path(raw).resolve():
        raise UserError("--out must not be the raw extract folder")
    with linkage_session(raw, settings=settings, extract_date=extract_date, decisions=decisions,
                         steward=steward, engine=engine, spark_master=spark_master) as session:
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(session.outcomes, out / "link_outcomes.parquet")
        queue = out / "linkage_review.csv"
        shutil.copyfile(session.review_queue, queue)
        os.chmod(queue, 0o600)
        (out / "linkage.json").write_text(json.dumps(session.summary, indent=2) + "\n")
        return session.summary


# ------------------------------------------------------------------ validation ----------


def _read_extracts(con, extracts: dict[str, ExtractFile]) -> dict[str, int]:
    """Every extract as text in file order, and the county's postcode districts; rows read per table."""
    # Raw text is scanned once in full (validation) and then only for quarantined rows:
    # compressing it costs more CPU than it saves. File order must be kept here (row
    # numbers are row ids); nothing after this depends on insertion order, so DuckDB may
    # then parallelise freely.
    con.execute("SET force_compression = 'uncompressed'")
    rows_read = {name: read_extract(con, extract, f"raw_{name}") for name, extract in extracts.items()}
    con.execute("RESET force_compression")
    con.execute("SET preserve_insertion_order = false")
    con.register("county_districts_src", pa.table({
        "district": list(POSTCODE_DISTRICT_TO_AUTHORITY),
        "authority": list(POSTCODE_DISTRICT_TO_AUTHORITY.values()),
    }))
    con.execute("CREATE TABLE county_districts AS SELECT * FROM county_districts_src")
    return rows_read


def _check_citizens(con, ctx: CheckContext, key: bytes) -> None:
    _check(con, CITIZENS, ctx, key=("person_id",))
    _pseudonym_map(con, key, "person", "t_person_id", "person_map", "cid")


def _check(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    ctx: CheckContext,
    references: tuple[Reference, ...] = (),
    key: tuple[str, ...] = (),
) -> None:
    checked = f"checked_{table.name}"
    con.execute(f"CREATE TABLE {checked} AS {checked_sql(table, f'raw_{table.name}_rows', ctx, references)}")
    if key:
        con.execute(duplicates_update_sql(checked, key))


def _pseudonym_map(
    con: duckdb.DuckDBPyConnection, key: bytes, kind: str, column: str, name: str, id_column: str
) -> None:
    """(value, pseudonym, integer id) for the accepted citizens' ids.

    Ids are numbered in pseudonym order, so the numbering (matrix rows) says nothing about
    the raw ids or the order of the extract, and ``ORDER BY id`` is ``ORDER BY pseudonym``.
    """
    # Accepted person ids are unique (duplicates were quarantined), so the person map also
    # keeps the citizen's row number and later joins can use an integer key. The HMAC runs in
    # the engine (features.engine.register_pseudonym_functions): no id leaves it.
    rows = "row_number" if kind == "person" else "min(row_number) AS row_number"
    group = "" if kind == "person" else f" GROUP BY {column}"
    con.execute(f"""
CREATE TABLE {name} AS
SELECT value, pseudonym, CAST(row_number() OVER (ORDER BY pseudonym) - 1 AS INTEGER) AS {id_column},
  CAST(row_number AS BIGINT) AS row_number
FROM (SELECT {column} AS value, {PSEUDONYM_FUNCTIONS[kind]}({column}) AS pseudonym, {rows}
      FROM checked_citizens WHERE reason IS NULL AND {column} IS NOT NULL{group})""")


def _reference_lookup(con, checked: str, column: str, accepted: str, id_column: str, name: str) -> None:
    """Accepted keys with their id, plus keys only quarantined rows carry (first row, reason)."""
    con.execute(f"""
CREATE TABLE {name} AS
SELECT value, {id_column}, NULL::BIGINT AS first_row, NULL::VARCHAR AS reason FROM {accepted}
UNION ALL
SELECT {column} AS value, NULL::INTEGER, min(row_number), arg_min(reason, row_number)
FROM {checked} WHERE reason IS NOT NULL AND {column} IS NOT NULL
  AND {column} NOT IN (SELECT value FROM {accepted}) GROUP BY {column}""")


def _write_quarantine(con, extracts: dict[str, ExtractFile], rows_read: dict[str, int], folder: Path) -> dict:
    if not folder.exists():
        folder.mkdir(parents=True)
        folder.chmod(0o700)  # raw data: only the owner may list or read it
    rows: dict[str, dict[str, int]] = {}
    for name, extract in extracts.items():
        accepted, quarantined = con.execute(
            f"SELECT count(*) FILTER (WHERE reason IS NULL), count(*) FILTER (WHERE reason IS NOT NULL) "
            f"FROM checked_{name}"
        ).fetchall()[0]
        if accepted + quarantined != rows_read[name]:
            raise RuntimeError(f"row accounting for {name} does not add up: a bug, please report it")
        rows[name] = {"read": rows_read[name], "accepted": accepted, "quarantined": quarantined, "erased": 0}
        original = ", ".join(_ident(c) for c in extract.columns)
        target = folder / f"{name}.csv"
        con.execute(f"""
COPY (SELECT r.row_number, {original}, q.reason
      FROM raw_{name}_rows r JOIN (SELECT row_number, reason FROM checked_{name} WHERE reason IS NOT NULL) q
      USING (row_number) ORDER BY r.row_number)
TO '{_sql_str(str(target))}' (FORMAT csv, HEADER true)""")
        os.chmod(target, 0o600)
    return rows


def _events_by_source(con) -> dict:
    """Accepted events per source, and events quarantined because the policy names no such source.

    The training command reads these from the manifest to tell an empty matrix caused by the
    sharing policy from one caused by consent. Unknown source names are partner system names,
    cut to the length a quarantine reason quotes.
    """
    accepted = con.execute(
        "SELECT t_source, count(*) FROM checked_events WHERE reason IS NULL GROUP BY ALL ORDER BY 1").fetchall()
    unknown = con.execute(
        f"SELECT left(t_source, {SHOWN_CHARS}) AS source, count(*) AS n FROM checked_events "
        "WHERE reason LIKE 'unknown source %' GROUP BY ALL ORDER BY n DESC, source").fetchall()
    return {"accepted": {s: int(n) for s, n in accepted}, "unknown": {s: int(n) for s, n in unknown}}


def _quarantine_gate(rows: dict, unknown_sources: dict[str, int], max_share: float, quarantine: Path,
                     *, accept: bool, min_rows: int = 1) -> dict:
    """Stop the build when a lot was lost, unless the user accepted it; what was found goes to the manifest.

    Checked in this order, the first finding is the one line the user sees: events from
    sources the data-sharing policy does not name (no agreement decides their purposes, so
    every one of them is lost), then each table whose quarantined share is above ``max_share``
    (among tables with at least ``min_rows`` quarantined rows).
    """
    findings: list[str] = []
    if unknown_sources:
        total = sum(unknown_sources.values())
        named = ", ".join(f"{s} {n:,}" for s, n in unknown_sources.items())
        findings.append(
            f"events: {total:,} rows came from sources the data-sharing policy does not name ({named}) and were "
            "quarantined: add each source to SIGNPOST_SHARING_POLICY with the purposes its agreement allows, "
            "or rerun with --accept-quarantine"
        )
    for name, counts in rows.items():
        if counts["quarantined"] >= min_rows and counts["quarantined"] / counts["read"] > max_share:
            findings.append(
                f"{name}: {counts['quarantined']:,} of {counts['read']:,} rows "
                f"({counts['quarantined'] / counts['read']:.1%}) were quarantined, more than "
                f"SIGNPOST_QUARANTINE_MAX_SHARE={max_share:g} allows: read the reasons in "
                f"{quarantine / (name + '.csv')}, raise the setting, or rerun with --accept-quarantine"
            )
    if findings and not accept:
        raise UserError(findings[0])
    return {"max_share": max_share, "min_rows": min_rows, "accepted_by_user": accept, "findings": findings}


# ------------------------------------------------------------------ linkage -------------


def _link_partners(con, ctx: CheckContext, extracts: dict, settings: Settings, key: bytes, stage_dir: Path,
                   quarantine: Path, decisions: pd.DataFrame | None) -> dict:
    """Validate partner records, link them to accepted citizens, build the events' lookup ``partner_ref``.

    Plaintext records (``partner_people``) are linked by Splink, encoded ones
    (``partner_people_encoded``) on their Bloom filters; both land in ``link_results``.
    Writes ``link_outcomes.parquet`` (pseudonyms only) to the outputs and the review queue
    (identifiers of each uncertain plaintext pair, for the steward) beside the quarantine.
    """
    con.execute("CREATE TABLE partner_ref (value VARCHAR, cid INTEGER, first_row BIGINT, reason VARCHAR)")
    con.execute("""
CREATE TABLE link_results (source VARCHAR, local_id VARCHAR, method VARCHAR, outcome VARCHAR,
  match_probability DOUBLE, runner_up DOUBLE, margin_bits DOUBLE, dice DOUBLE, decided_by VARCHAR, cid INTEGER)""")
    if "partner_people" not in extracts and "partner_people_encoded" not in extracts:
        return {"partner_records": 0, "note": "no partner_people in this extract (contract version 1)"}, None
    con.execute("""
CREATE VIEW link_master AS SELECT m.cid, c.t_given_name AS given_name, c.t_family_name AS family_name,
  c.t_birth_date AS birth_date, c.t_sex AS sex, c.postcode_compact, c.t_address AS address,
  c.t_nhs_number AS nhs_number, c.t_upn AS upn
FROM checked_citizens c JOIN person_map m ON m.row_number = c.row_number WHERE c.reason IS NULL""")
    summary: dict = {"partner_records": 0}
    linker = None
    if "partner_people" in extracts:
        summary, linker = _link_plaintext(con, ctx, settings, key, quarantine, decisions)
    if "partner_people_encoded" in extracts:
        summary["encoded"] = _link_encoded(con, ctx, settings, "partner_people" in extracts)
    frame = con.execute("""
SELECT r.source, r.source || ':' || r.local_id AS partner_key, r.method, r.outcome, r.match_probability,
  r.runner_up, r.margin_bits, r.dice, r.decided_by, m.pseudonym AS person
FROM link_results r LEFT JOIN person_map m ON m.cid = r.cid ORDER BY r.method DESC, r.source, r.local_id""").df()
    frame["partner_record"] = pseudonymise(frame.pop("partner_key").tolist(), key, "partner")
    frame.loc[frame["outcome"] != "linked", "person"] = None
    con.register("link_outcomes_out", pa.Table.from_pandas(frame, preserve_index=False))
    _copy(con, "SELECT source, partner_record, method, outcome, match_probability, runner_up, margin_bits, dice, "
          "decided_by, person FROM link_outcomes_out", stage_dir / "link_outcomes.parquet")
    con.unregister("link_outcomes_out")
    return summary, linker


def _link_plaintext(con, ctx: CheckContext, settings: Settings, key: bytes, quarantine: Path,
                    decisions: pd.DataFrame | None) -> tuple[dict, object]:
    """``partner_people`` by Splink (``features.linkage``): outcomes into ``link_results`` and ``partner_ref``."""
    _check(con, PARTNER_PEOPLE, ctx, key=("source", "local_id"))
    con.execute("""
CREATE TABLE link_partners AS SELECT row_number AS record, t_source AS source, t_local_id AS local_id,
  t_given_name AS given_name, t_family_name AS family_name, t_birth_date AS birth_date, t_sex AS sex,
  postcode_compact, t_address AS address, t_nhs_number AS nhs_number, t_upn AS upn
FROM checked_partner_people WHERE reason IS NULL""")
    thresholds = linkage.Thresholds(settings.linkage_link_threshold, settings.linkage_review_threshold,
                                    settings.linkage_margin_bits)
    decided = _decisions(con, decisions, key)
    result = linkage.link(con, "link_master", "link_partners", thresholds, decided)
    outcomes = result.outcomes
    con.register("link_outcomes_src", pa.Table.from_pandas(outcomes.assign(
        person=outcomes["person"].astype("Int64")), preserve_index=False))
    con.execute("CREATE TABLE link_outcomes AS SELECT * FROM link_outcomes_src")
    con.unregister("link_outcomes_src")
    con.execute("""
INSERT INTO partner_ref
SELECT p.source || chr(31) || p.local_id, CASE WHEN o.outcome = 'linked' THEN CAST(o.person AS INTEGER) END,
  p.record, CASE o.outcome
    WHEN 'review' THEN 'is in clerical review (match probability ' || round(o.match_probability, 3) ||
      '): its events come back once a data steward decides'
    WHEN 'unlinked' THEN 'matched no one in the master index (best match probability ' ||
      round(o.match_probability, 3) || ')' END
FROM link_partners p JOIN link_outcomes o USING (record)
UNION ALL
SELECT t_source || chr(31) || t_local_id, NULL, min(row_number),
  'was quarantined in partner_people (row ' || min(row_number) || ': ' || arg_min(reason, row_number) || ')'
FROM checked_partner_people WHERE reason IS NOT NULL AND t_source IS NOT NULL AND t_local_id IS NOT NULL
  AND (t_source, t_local_id) NOT IN (SELECT (source, local_id) FROM link_partners) GROUP BY ALL""")
    con.execute("""
INSERT INTO link_results
SELECT p.source, p.local_id, 'splink', o.outcome, o.match_probability, o.runner_up, o.margin_bits, NULL,
  o.decided_by, CAST(o.person AS INTEGER)
FROM link_outcomes o JOIN link_partners p USING (record)""")
    _write_review_queue(con, key, quarantine, result.review_levels)
    return {
        "partner_records": len(outcomes),
        **_outcome_counts(outcomes),
        "link_threshold": thresholds.link, "review_threshold": thresholds.review,
        "margin_bits": thresholds.margin_bits,
        "pairs_compared": result.pairs_compared,
        "candidate_pairs": result.candidate_pairs,
        "timings": result.timings,
        "steward_decisions": 0 if decided is None else len(decided),
    }, result.linker


def _link_encoded(con, ctx: CheckContext, settings: Settings, with_plaintext: bool) -> dict:
    """``partner_people_encoded`` on Bloom filters (``features.encoding``): the council encodes its
    accepted citizens with the linkage secret the partners used, and every encoded record takes
    its best Dice match among those sharing a keyed blocking value. Outcomes into ``link_results``
    and ``partner_ref``; nothing here reaches a steward (there is nothing readable to review)."""
    from features import encoding

    _check(con, PARTNER_PEOPLE_ENCODED, ctx, key=("source", "local_id"))
    if with_plaintext:  # one record, one outcome: a partner sends each record one way
        con.execute("""
UPDATE checked_partner_people_encoded e SET reason = 'local_id ' || e.t_local_id || ' of ' || e.t_source ||
  ' is also in partner_people (row ' || p.row_number || '): send each record once, encoded or not'
FROM (SELECT t_source, t_local_id, min(row_number) AS row_number FROM checked_partner_people GROUP BY ALL) p
WHERE e.reason IS NULL AND p.t_source = e.t_source AND p.t_local_id = e.t_local_id""")
    partners = con.execute("""
SELECT row_number, t_source AS source, t_local_id AS local_id, t_clk AS clk, COALESCE(t_blocks, '') AS blocks
FROM checked_partner_people_encoded WHERE reason IS NULL ORDER BY row_number""").df()
    secret = None if settings.linkage_secret_file is None else encoding.read_secret(settings.linkage_secret_file)
    if len(partners) and secret is None:
        raise UserError(
            f"partner_people_encoded holds {len(partners):,} encoded records, but no linkage secret is set: "
            "set SIGNPOST_LINKAGE_SECRET_FILE to the file holding the secret agreed with the partners")
    master = con.execute("""
SELECT cid, given_name, family_name, strftime(birth_date, '%Y-%m-%d') AS birth_date, postcode_compact AS postcode
FROM link_master ORDER BY cid""").df().fillna("")
    started = time.perf_counter()
    if len(partners):
        result = encoding.link_encoded(
            encoding.encode(master, secret), encoding.from_base64(partners["clk"]),
            encoding.block_table(encoding.blocks(master, secret)), encoding.block_table(partners["blocks"]),
            **encoding.encoded_thresholds(settings))
    else:
        result = pd.DataFrame({"record": [], "person": [], "dice": [], "runner_up": [], "outcome": []})
    found = result["person"].notna()
    cid = pd.Series(pd.NA, index=result.index, dtype="Int64")
    cid[found] = master["cid"].to_numpy()[result.loc[found, "person"].astype(int).to_numpy()]
    frame = pd.DataFrame({"source": partners["source"].to_numpy()[result["record"].astype(int)],
                          "local_id": partners["local_id"].to_numpy()[result["record"].astype(int)],
                          "row_number": partners["row_number"].to_numpy()[result["record"].astype(int)],
                          "outcome": result["outcome"].to_numpy(), "dice": result["dice"].to_numpy(),
                          "runner_up": result["runner_up"].to_numpy(), "cid": cid.to_numpy()})
    con.register("link_encoded_src", pa.Table.from_pandas(frame, preserve_index=False))
    con.execute("""
INSERT INTO link_results SELECT source, local_id, 'encoded', outcome, NULL, runner_up, NULL, dice, 'model',
  CAST(cid AS INTEGER) FROM link_encoded_src""")
    con.execute("""
INSERT INTO partner_ref
SELECT source || chr(31) || local_id, CASE WHEN outcome = 'linked' THEN CAST(cid AS INTEGER) END, row_number,
  CASE outcome
    WHEN 'review' THEN 'is an encoded record with no clear match (Dice similarity ' || round(dice, 3) ||
      '): the partner can check the names it encoded'
    WHEN 'unlinked' THEN 'matched no one in the master index on its encoding (best Dice similarity ' ||
      round(dice, 3) || ')' END
FROM link_encoded_src
UNION ALL
SELECT t_source || chr(31) || t_local_id, NULL, min(row_number),
  'was quarantined in partner_people_encoded (row ' || min(row_number) || ': ' || arg_min(reason, row_number) || ')'
FROM checked_partner_people_encoded WHERE reason IS NOT NULL AND t_source IS NOT NULL AND t_local_id IS NOT NULL
  AND (t_source, t_local_id) NOT IN (SELECT (source, local_id) FROM link_encoded_src)
  AND (t_source, t_local_id) NOT IN (SELECT (source, local_id) FROM link_results WHERE method = 'splink')
GROUP BY ALL""")
    con.unregister("link_encoded_src")
    return {"records": len(frame), **_outcome_counts(frame), "seconds": round(time.perf_counter() - started, 3)}


def _outcome_counts(outcomes: pd.DataFrame) -> dict:
    """The manifest's ``outcomes`` (count per outcome) and ``by_source`` (the same per source)."""
    counts = outcomes.groupby(["source", "outcome"]).size().unstack(fill_value=0).reindex(
        columns=list(linkage.OUTCOMES), fill_value=0)
    return {"outcomes": {o: int((outcomes["outcome"] == o).sum()) for o in linkage.OUTCOMES},
            "by_source": {s: {o: int(n) for o, n in row.items()} for s, row in counts.iterrows()}}


def _decisions(con, decisions: pd.DataFrame | None, key: bytes) -> pd.DataFrame | None:
    """A steward's decisions by pseudonyms, resolved to this build's record and person ids."""
    if decisions is None:
        return None
    records = con.execute("SELECT record, source || ':' || local_id AS k FROM link_partners").df()
    by_pseudonym = dict(zip(pseudonymise(records["k"].tolist(), key, "partner"), records["record"], strict=True))
    people = dict(con.execute("SELECT pseudonym, cid FROM person_map").fetchall())
    frame = pd.DataFrame({"record": decisions["partner_record"].map(by_pseudonym),
                          "person": decisions["person"].map(people), "decision": decisions["decision"]})
    return frame.dropna().astype({"record": "int64", "person": "int64"})


#: The comparison of the linkage model (features/linkage_model.py) that judged each field of the queue.
QUEUE_COMPARISONS = {"given_name": "given_name", "family_name": "family_name", "birth_date": "birth_date",
                     "postcode": "residence", "address": "residence", "nhs_number": "nhs_number", "upn": "upn"}


def _write_review_queue(con, key: bytes, quarantine: Path, levels: pd.DataFrame | None = None) -> None:
    """The pairs a steward must decide: both pseudonyms, the probability, and only the values that differ.

    Where both sides agree exactly the queue says ``same`` instead of the value: the reviewer
    needs the disagreement, not the whole record. Beside each field, ``level_<field>`` says
    in words which level of the model's comparison the pair reached (``levels``, from
    ``features.linkage.Linkage.review_levels``). The file holds identifiers, so it sits with
    the quarantine (0600), never in the processed folder.
    """
    fields = {"given_name": "given_name", "family_name": "family_name", "birth_date": "birth_date",
              "postcode": "postcode_compact", "address": "address", "nhs_number": "nhs_number", "upn": "upn"}
    shown = ", ".join(
        f"CASE WHEN p.{f} IS NOT DISTINCT FROM m.{f} THEN 'same' ELSE COALESCE(CAST(p.{f} AS VARCHAR), '(blank)') "
        f"|| ' | ' || COALESCE(CAST(m.{f} AS VARCHAR), '(blank)') END AS {name}" for name, f in fields.items())
    frame = con.execute(f"""
SELECT o.record, o.person AS cid, p.source, p.source || ':' || p.local_id AS partner_key,
  mp.pseudonym AS person, o.match_probability, o.runner_up, o.margin_bits, {shown}
FROM link_outcomes o JOIN link_partners p USING (record)
JOIN link_master m ON m.cid = o.person JOIN person_map mp ON mp.cid = o.person
WHERE o.outcome = 'review' ORDER BY o.match_probability DESC""").df()
    if levels is not None and len(frame):
        described = frame[["record", "cid"]].astype("int64").merge(
            levels.rename(columns={"person": "cid"}), how="left", on=["record", "cid"])
        for name, comparison in QUEUE_COMPARISONS.items():
            frame[f"level_{name}"] = described[comparison].to_numpy()
    frame = frame.drop(columns=["record", "cid"])
    frame.insert(1, "partner_record", pseudonymise(frame.pop("partner_key").tolist(), key, "partner"))
    if not quarantine.exists():
        quarantine.mkdir(parents=True)
        quarantine.chmod(0o700)  # raw data: only the owner may list or read it
    target = quarantine / "linkage_review.csv"
    frame.to_csv(target, index=False)
    os.chmod(target, 0o600)


# ------------------------------------------------------------------ erasure -------------


def _check_erasure_key(erased: Collection[str] | None, key: bytes, settings: Settings,
                       what: str = "were erased through the service") -> str | None:
    """The key id the service pseudonymised with; stops the build if it is not this build's key.

    The service only pseudonymises with the key its processed folder was built with (a
    different key makes it unready), so that folder's manifest names the key behind the
    erasures. Under another key no erased pseudonym could match and erased people would
    silently come back.
    """
    if not erased:
        return None
    manifest = Path(settings.processed_dir) / "manifest.json"
    try:
        service_key_id = json.loads(manifest.read_text()).get("pseudonym_key_id")
    except (OSError, ValueError, AttributeError):
        return None
    if service_key_id and service_key_id != key_id(key):
        raise UserError(
            f"{len(erased):,} people {what}, whose processed folder "
            f"{settings.processed_dir} was built with pseudonym key id {service_key_id}, but this build's "
            f"key id is {key_id(key)}: these people could not be recognised in this build. "
            "Build with the key the service uses (SIGNPOST_PSEUDONYM_KEY or SIGNPOST_PSEUDONYM_KEY_FILE)"
        )
    return service_key_id


def _leave_out_erased(con, erased: Collection[str] | None, rows: dict, service_key_id: str | None) -> dict:
    """Remove erased people, their rows and households only they were in; count what went.

    Runs after validation and the quarantine, as if the extract had never held these people:
    the consent snapshot, household features and the research export are computed without
    them. Rows that broke a rule stay quarantined (they never reach an output); every other
    row of an erased person moves from ``accepted`` to ``erased`` in the row accounting.
    """
    summary = {
        "service_database": "read" if erased is not None else "absent",
        "service_key_id": service_key_id,
        "erased_in_service": len(erased or ()),
        "people_removed": 0,
        "not_in_this_extract": len(erased or ()),
        "households_removed": 0,
    }
    if erased is None:
        summary["note"] = "no service database (no service has run yet): nobody was left out for erasure"
    if not erased:
        return summary
    con.register("erased_src", pa.table({"pseudonym": pa.array(sorted(set(erased)), pa.string())}))
    con.execute("CREATE TABLE erased_people AS SELECT m.cid FROM person_map m JOIN erased_src e USING (pseudonym)")
    con.unregister("erased_src")
    # Households none of whose accepted members is left: their pseudonym would name the person.
    con.execute("""
CREATE TABLE erased_households AS SELECT hid FROM people WHERE hid IS NOT NULL
GROUP BY hid HAVING bool_and(cid IN (SELECT cid FROM erased_people))""")
    people = "cid IN (SELECT cid FROM erased_people)"
    removals = {
        "citizens": ("people", people),
        "events": ("checked_events", f"reason IS NULL AND {people}"),
        "consents": ("checked_consents", f"reason IS NULL AND {people}"),
        "outcomes": ("checked_outcomes", f"reason IS NULL AND {people}"),
        "caseloads": ("checked_caseloads", "reason IS NULL AND hid IN (SELECT hid FROM erased_households)"),
    }
    for name, (table, where) in removals.items():
        if name not in rows:
            continue
        removed = _scalar(con, f"SELECT count(*) FROM {table} WHERE {where}")
        con.execute(f"DELETE FROM {table} WHERE {where}")
        rows[name]["accepted"] -= removed
        rows[name]["erased"] = removed
    con.execute(f"DELETE FROM person_map WHERE {people}")
    con.execute("DELETE FROM household_map WHERE hid IN (SELECT hid FROM erased_households)")
    for name, counts in rows.items():
        if counts["accepted"] + counts["quarantined"] + counts["erased"] != counts["read"] or counts["accepted"] < 0:
            raise RuntimeError(f"row accounting for {name} does not add up after erasure: a bug, please report it")
    summary["people_removed"] = rows["citizens"]["erased"]
    summary["not_in_this_extract"] = summary["erased_in_service"] - summary["people_removed"]
    summary["households_removed"] = _scalar(con, "SELECT count(*) FROM erased_households")
    return summary


# ------------------------------------------------------------------ consent -------------


LEDGER_COLUMNS = ("pseudonym", "purpose", "status", "recorded_at")


def _ledger_frame(ledger) -> pd.DataFrame | None:
    """The service's consent decisions with ``recorded_at`` as naive UK local time (as the extract's)."""
    if ledger is None:
        return None
    frame = pd.DataFrame(ledger, columns=list(LEDGER_COLUMNS)) if not isinstance(ledger, pd.DataFrame) else ledger
    missing = [c for c in LEDGER_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"the consent ledger lacks columns {missing}")
    frame = frame.loc[:, list(LEDGER_COLUMNS)].reset_index(drop=True)
    bad = ~frame["purpose"].isin(PURPOSES) | ~frame["status"].isin(consent_rules.STATUS_PRECEDENCE)
    stamps = pd.to_datetime(frame["recorded_at"], utc=True)
    bad |= stamps.isna() | frame["pseudonym"].isna()
    if bad.any():
        raise UserError(
            f"the service's consent ledger holds {int(bad.sum()):,} decisions without a person, time, known "
            "purpose or status: the build cannot tell who allowed what, so it stops; check the service database"
        )
    local = stamps.dt.tz_convert("Europe/London").dt.tz_localize(None).astype("datetime64[us]")
    return frame.assign(pseudonym=frame["pseudonym"].astype(str), recorded_at=local)


def _consent_states(con, plan: _Plan, ledger: pd.DataFrame | None) -> tuple[dict, dict, str, dict]:
    """Consent state per snapshot day, registered for SQL; early-help exclusions; snapshot id.

    The extract's accepted consent records and the service's decisions (``ledger``) are one
    record set: for each snapshot day the latest record on or before it wins, wherever it came
    from. Ledger records of people not in this build's ``people`` are ignored and counted.
    """
    records = con.execute("""
SELECT cid AS person, t_purpose AS purpose, t_status AS status, t_recorded_at AS recorded_at
FROM checked_consents WHERE reason IS NULL""").df()
    people = con.execute("SELECT cid, pseudonym, hid FROM people ORDER BY cid").df()
    summary: dict = {"service_database": "read" if ledger is not None else "absent", "records_read": 0,
                     "people_named": 0, "records_used": 0, "people_matched": 0, "records_ignored": 0}
    if ledger is None:
        summary["note"] = "no service database (no service has run yet): only the extract's consents were used"
    elif len(ledger):
        cid = ledger["pseudonym"].map(pd.Series(people["cid"].to_numpy(), index=people["pseudonym"].to_numpy()))
        matched = cid.notna()
        summary |= {"records_read": len(ledger), "people_named": int(ledger["pseudonym"].nunique()),
                    "records_used": int(matched.sum()), "people_matched": int(cid[matched].nunique()),
                    "records_ignored": int((~matched).sum())}
        used = pd.DataFrame({
            "person": cid[matched].astype(records["person"].dtype).to_numpy(),
            "purpose": ledger.loc[matched, "purpose"].to_numpy(),
            "status": ledger.loc[matched, "status"].to_numpy(),
            "recorded_at": ledger.loc[matched, "recorded_at"].to_numpy(dtype="datetime64[us]"),
        })
        records = pd.concat([records.astype({"recorded_at": "datetime64[us]"}), used], ignore_index=True)
    index = pd.Index(people["cid"].to_numpy(), name="person")
    household = pd.Series(people["hid"].to_numpy(), index=index)
    defaults = dict(plan.settings.consent_defaults)
    states: dict[date, pd.DataFrame] = {}
    excluded: dict[str, int] = {}
    for name, day in sorted(plan.snapshots.items(), key=lambda kv: kv[1]):
        state = consent_rules.consent_as_of(records, as_of=day, defaults=defaults, people=index)
        states[day] = state
        allowed = consent_rules.early_help_allowed(state["early_intervention"], household)
        excluded[name] = int((~allowed).sum())
        con.register(f"eh_allowed_{name}_src", pa.table({
            "cid": pa.array(index.to_numpy(), pa.int32()), "allowed": pa.array(allowed.to_numpy(), pa.bool_())}))
        con.execute(f"CREATE TABLE eh_allowed_{name} AS SELECT * FROM eh_allowed_{name}_src")
        con.unregister(f"eh_allowed_{name}_src")
    now = states[plan.as_of]
    con.register("consent_now_src", pa.table(
        {"cid": pa.array(index.to_numpy(), pa.int32())}
        | {p: pa.array(now[p].to_numpy(), pa.bool_()) for p in PURPOSES}))
    con.execute("CREATE TABLE consent_now AS SELECT * FROM consent_now_src")
    con.unregister("consent_now_src")
    return states, excluded, consent_rules.snapshot_id(people["pseudonym"].tolist(), states), summary


# ------------------------------------------------------------------ outputs -------------


def _citizens_and_services(con, plan: _Plan, stage_dir: Path) -> tuple[int, int, pd.DataFrame]:
    day = f"DATE '{plan.as_of}'"
    age = age_sql("p.birth_date", day)
    low, high = age_band_bounds_sql("age")
    con.execute(f"""
CREATE TABLE snap AS
SELECT cid, local_authority, age, {age_band_sql('age')} AS age_band, {low} AS age_min, {high} AS age_max,
  personalisation, early_intervention, research,
  CAST(row_number() OVER (ORDER BY cid) - 1 AS INTEGER) AS row
FROM (SELECT p.cid, p.local_authority, {age} AS age, n.personalisation, n.early_intervention, n.research
      FROM people p JOIN consent_now n USING (cid) WHERE p.birth_date <= {day})""")
    _copy(con, """
SELECT p.pseudonym, s.row, p.household, s.age_band, CAST(s.age_min AS INTEGER) AS age_min,
  CAST(s.age_max AS INTEGER) AS age_max, p.postcode_district, p.local_authority, p.sex, p.ethnicity,
  p.disability, p.imd_decile, s.personalisation AS consent_personalisation,
  s.early_intervention AS consent_early_intervention, s.research AS consent_research
FROM snap s JOIN people p USING (cid) ORDER BY s.row""", stage_dir / "citizens.parquet")
    end = plan.as_of + timedelta(days=1)
    sensitive_categories = ", ".join(
        quote_literal(c.strip().lower()) for c in plan.settings.sensitive_categories
    ) or "NULL"
    indicator_sources = ", ".join(f"'{_sql_str(s)}'" for s in plan.indicator_sources) or "NULL"
    con.execute(f"""
CREATE TABLE services_ok AS
SELECT m.col, c.t_service_id AS service_id, c.t_name AS name, c.t_description AS description,
  c.t_category AS category, c.t_provider AS provider, c.t_min_age AS min_age, c.t_max_age AS max_age,
  CASE WHEN c.t_districts = '*' THEN ['*']
       ELSE list_transform(string_split(c.t_districts, ';'), lambda d: upper(trim(d))) END AS districts,
  c.t_means_tested AS means_tested, c.t_intervention AS intervention, c.t_url AS url,
  c.t_active AS active, s.source,
  COALESCE(c.t_sensitive, lower(c.t_category) IN ({sensitive_categories})) AS sensitive,
  c.t_sensitive IS NULL AS sensitive_by_category,
  c.t_phone AS phone, c.t_contact AS contact, c.t_opening_hours AS opening_hours,
  -- DATA_CONTRACT v2: absent means "recorded by a source that serves early intervention alone"
  COALESCE(c.t_early_help_indicator, COALESCE(s.source IN ({indicator_sources}), false)) AS early_help_indicator,
  COALESCE(list_filter(list_transform(string_split(c.t_needs, ';'), lambda n: trim(n)), lambda n: n <> ''),
           []::VARCHAR[]) AS needs
FROM checked_services c JOIN service_map m ON m.value = c.t_service_id
LEFT JOIN (
  SELECT col, first(source ORDER BY n DESC, source) AS source
  FROM (SELECT col, source, count(*) AS n FROM events_ok
        WHERE occurred_at < TIMESTAMP '{end} 00:00:00' GROUP BY ALL)
  GROUP BY col
) s ON s.col = m.col
WHERE c.reason IS NULL ORDER BY m.col""")
    _copy(con, "SELECT * EXCLUDE (sensitive_by_category) FROM services_ok ORDER BY col",
          stage_dir / "services.parquet")
    n_citizens = _scalar(con, "SELECT count(*) FROM snap")
    n_services = _scalar(con, "SELECT count(*) FROM services_ok")
    frame = con.execute(
        "SELECT col, name, category, source, intervention, early_help_indicator, needs, sensitive FROM services_ok "
        "ORDER BY col"
    ).df()
    return n_citizens, n_services, frame


def _interaction_matrices(con, plan: _Plan, stage_dir: Path, shape: tuple[int, int]) -> dict:
    settings = plan.settings
    con.execute("CREATE VIEW matrix_citizens AS SELECT cid, row FROM snap WHERE personalisation")
    query = matrices.interactions_sql(
        "events_ok",
        "matrix_citizens",
        weights=settings.event_weights,
        sources=plan.for_purpose["personalisation"],
        split_date=plan.split_date,
        as_of=plan.as_of,
        half_life_days=settings.decay_half_life_days,
    )
    triplets = con.execute(
        "SELECT row, col, COALESCE(train, 'NaN'::DOUBLE) AS train, COALESCE(test, 'NaN'::DOUBLE) AS test, "
        f"COALESCE(\"all\", 'NaN'::DOUBLE) AS \"all\" FROM ({query})"
    ).fetchnumpy()
    row = np.asarray(triplets.pop("row"), dtype=np.int64)
    col = np.asarray(triplets.pop("col"), dtype=np.int32)
    nnz = {}
    for window in matrices.WINDOWS:
        matrix = matrices.csr_from_sorted(row, col, np.asarray(triplets.pop(window), dtype=np.float64), shape)
        save_npz(stage_dir / f"interactions_{window}.npz", matrix, compressed=True)
        nnz[window] = int(matrix.nnz)
    return {"nnz": nnz, "windows": {
        "train": f"before {plan.split_date}",
        "test": f"{plan.split_date} to {plan.as_of}",
        "all": f"up to {plan.as_of}",
    }}


def _early_help_tables(con, plan: _Plan, stage_dir: Path, services: pd.DataFrame, has_outcomes: bool):
    catalogue = early_help.feature_catalogue(services, sources=plan.for_purpose["early_intervention"])
    listed = ", ".join(f"'{_sql_str(s)}'" for s in plan.for_purpose["early_intervention"]) or "NULL"
    con.execute(f"""
CREATE TABLE eh_events AS
SELECT cid, CAST(col AS SMALLINT) AS col, {early_help.source_codes_sql(plan.for_purpose["early_intervention"])}
  AS source_code, occurred_at
FROM events_ok WHERE source IN ({listed}) AND occurred_at < TIMESTAMP '{plan.as_of + timedelta(days=1)} 00:00:00'
  AND occurred_at >= TIMESTAMP '{plan.snapshots["train"] - relativedelta(months=early_help.WINDOW_MONTHS)} 00:00:00'""")
    if has_outcomes:
        con.execute("CREATE VIEW outcomes_ok AS SELECT cid, t_occurred_at AS occurred_at FROM checked_outcomes "
                    "WHERE reason IS NULL")
    counts = {}
    for name, day in plan.snapshots.items():
        target = stage_dir / f"early_help_{name}.parquet"
        _copy(con, early_help.snapshot_sql(
            catalogue, snapshot=day, people="people", allowed=f"eh_allowed_{name}", events="eh_events",
            outcomes="outcomes_ok" if has_outcomes else None, labelled=name != "score",
        ), target)
        counts[name] = _scalar(con, f"SELECT count(*) FROM read_parquet('{_sql_str(str(target))}')")
    return counts, catalogue


def _research_export(con, plan: _Plan, stage_dir: Path) -> dict:
    k = plan.settings.research_k_anonymity
    con.execute("CREATE VIEW research_people AS SELECT cid, local_authority, age_band FROM snap WHERE research")
    cells = con.execute(research.usage_sql(
        "events_ok", "research_people", "services_ok",
        sources=plan.for_purpose["research"], as_of=plan.as_of)).df()
    published, suppressed = research.suppress_small_cells(cells, k=k)
    (stage_dir / "research").mkdir()
    published.to_csv(stage_dir / "research" / "usage_by_category.csv", index=False)
    return {"k": k, "cells_published": len(published), "cells_suppressed": suppressed,
            "window_months": research.WINDOW_MONTHS, "totals_published": False}


def _consents_and_caseloads(con, stage_dir: Path, has_caseloads: bool) -> None:
    _copy(con, """
SELECT m.pseudonym, c.t_purpose AS purpose, c.t_status AS status, c.t_recorded_at AS recorded_at,
  c.t_method AS method
FROM checked_consents c JOIN person_map m ON m.cid = c.cid WHERE c.reason IS NULL
ORDER BY m.pseudonym, c.t_recorded_at, c.t_purpose""", stage_dir / "consents.parquet")
    if has_caseloads:
        query = """
SELECT c.t_caseworker_id AS caseworker_id, h.pseudonym AS household, c.t_start_date AS start_date,
  c.t_end_date AS end_date
FROM checked_caseloads c JOIN household_map h ON h.hid = c.hid WHERE c.reason IS NULL
ORDER BY caseworker_id, household, start_date"""
    else:
        query = ("SELECT NULL::VARCHAR AS caseworker_id, NULL::VARCHAR AS household, NULL::DATE AS start_date, "
                 "NULL::DATE AS end_date WHERE false")
    _copy(con, query, stage_dir / "caseloads.parquet")


# ------------------------------------------------------------------ plumbing ------------


def _copy(con, query: str, target: Path) -> None:
    con.execute(f"COPY ({query}) TO '{_sql_str(str(target))}' (FORMAT parquet, COMPRESSION zstd)")


def _scalar(con, query: str) -> int:
    return int(con.execute(query).fetchall()[0][0])


def _publish(stage_dir: Path, out: Path) -> None:
    """Move the finished outputs into ``out`` (file by file, replacing older versions)."""
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(stage_dir.rglob("*")):
        if path.is_file():
            target = out / path.relative_to(stage_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)


def _inside(path: Path, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except OSError:
        return False


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
