"""The `signpost` command: wires the layers together and holds no logic of its own.

Each command parses its options, calls one function of a domain package and prints what
happened. Errors the user can fix (`UserError`) are printed without a traceback, with
exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import date
from enum import Enum
from functools import partial, wraps
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError

from signpost.errors import UserError
from signpost.private_files import make_private, written_paths
from signpost.progress import console
from signpost.roles import Role
from signpost.settings import get_settings

#: The synthetic county's default end date; fixed so that a seed always gives the same county.
DEFAULT_END = date(2026, 9, 30)

app = typer.Typer(
    help="Signpost: the right service at the right time, with the citizen in control of their data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train models and log them to MLflow.", no_args_is_help=True)
promote_app = typer.Typer(help="Promote a challenger to champion through the gates.", no_args_is_help=True)
evaluate_app = typer.Typer(help="Compare models with the synthetic county's ground truth.", no_args_is_help=True)
audit_app = typer.Typer(help="Inspect the service's append-only audit trail.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(promote_app, name="promote")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(audit_app, name="audit")

#: Files and folders Signpost writes hold keys, personal data and models: owner only. Set by
#: the installed `signpost` command (and inherited by the server's worker processes), not on
#: import, so that a test invoking `app` in-process keeps its own umask.
PRIVATE_UMASK = 0o077


def main() -> None:
    """The installed `signpost` command: every file and folder it writes is 0600/0700."""
    os.umask(PRIVATE_UMASK)
    app()

F = TypeVar("F", bound=Callable[..., object])


def friendly_errors(command: F) -> F:
    """Print a `UserError` or unusable settings as one line and exit 2 instead of a traceback."""

    @wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return command(*args, **kwargs)
        except UserError as error:
            console.print(f"[bold red]error:[/] {error}")
            raise typer.Exit(code=2) from None
        except ValidationError as error:
            if error.title != "Settings":
                raise
            reasons = "; ".join(_settings_problem(problem) for problem in error.errors())
            console.print(f"[bold red]error:[/] settings: {reasons}", soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def _settings_problem(problem: Mapping[str, object]) -> str:
    """One problem of the settings, named by its environment variable when it has one."""
    message = str(problem["msg"]).removeprefix("Value error, ")
    location = problem.get("loc") or ()
    if not location:
        return message
    return f"SIGNPOST_{'__'.join(str(part) for part in location).upper()}: {message}"


class ExtractFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


class Engine(str, Enum):
    duckdb = "duckdb"
    spark = "spark"


class PartnerKind(str, Enum):
    council = "council"
    local = "local"


# --------------------------------------------------------------------------- data ----------


@app.command()
@friendly_errors
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the partner extracts into.")],
    citizens: Annotated[int, typer.Option(min=10, help="Number of residents.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 1,
    months: Annotated[int, typer.Option(min=12, max=120, help="Length of the event window.")] = 24,
    end: Annotated[
        str, typer.Option(help="Last day of the window (ISO date); the natural --as-of for `features`.")
    ] = DEFAULT_END.isoformat(),
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of rows with an injected fault.")
    ] = 0.01,
    format: Annotated[ExtractFormat, typer.Option("--format", help="File format of the extracts.")] = ExtractFormat.csv,
    partners: Annotated[
        PartnerKind,
        typer.Option(help="council: every partner knows the council's person_id (contract v1); local: partners "
                     "send their own person records and ids (contract v2), with truth/links."),
    ] = PartnerKind.council,
) -> None:
    """Write a synthetic Hampshire county in the partner extract format, with its ground truth."""
    last_day = _parse_date(end, "--end")
    from synthetic.generate import generate_county

    summary = generate_county(
        out,
        citizens=citizens,
        seed=seed,
        months=months,
        end=last_day,
        error_rate=error_rate,
        fmt=format.value,
        partners=partners.value,
    )
    console.print(summary)


@app.command()
@friendly_errors
def features(
    raw: Annotated[Path, typer.Option(help="Folder of partner extracts (one file per table).")],
    out: Annotated[Path, typer.Option(help="Folder for the processed, pseudonymised outputs.")],
    as_of: Annotated[str, typer.Option(help="Snapshot date (ISO) for consent and the temporal split.")],
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Folder for rejected rows (raw data). Default: <raw>/quarantine."),
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(help="Where the SQL runs: duckdb on this machine, or Apache Spark (the 'spark' extra; "
                     "same outputs)."),
    ] = Engine.duckdb,
    spark_master: Annotated[
        str | None,
        typer.Option(help="With --engine spark: the master URL (spark://host:7077, yarn, local[4]). "
                     "Default: local[2], or the session spark-submit started."),
    ] = None,
    extract_date: Annotated[
        str | None,
        typer.Option(help="Day the extract was taken (ISO); later dates are faults. Default: today."),
    ] = None,
    accept_quarantine: Annotated[
        bool,
        typer.Option(help="Build even if events come from sources the sharing policy does not name, or a "
                     "table lost more than SIGNPOST_QUARANTINE_MAX_SHARE of its rows to the quarantine."),
    ] = False,
) -> None:
    """Validate, consent-filter and pseudonymise the extracts into matrices and feature tables.

    People erased through the service (SIGNPOST_DATABASE_URL) are left out of every output, and
    consent decisions made through the service count alongside the extract's.
    """
    snapshot = _parse_date(as_of, "--as-of")
    taken = _parse_date(extract_date, "--extract-date") if extract_date else None
    from features.build import build
    from serving.infra.service_readers import api_consents, erased_pseudonyms, steward_decisions

    settings = get_settings()
    manifest = build(
        raw,
        out,
        as_of=snapshot,
        quarantine=quarantine,
        engine=engine.value,
        spark_master=spark_master,
        settings=settings,
        extract_date=taken,
        erased=erased_pseudonyms(settings.database_url),
        ledger=api_consents(settings.database_url),
        accept_quarantine=accept_quarantine,
        steward=steward_decisions(settings.database_url),
    )
    _print_row_accounting(manifest)
    for finding in manifest["quarantine_gate"]["findings"]:
        console.print(f"[yellow]accepted (--accept-quarantine):[/] {finding}")
    erasure, ledger = manifest["erasure"], manifest["consent_ledger"]
    if erasure["service_database"] == "absent":
        console.print("no service database yet (SIGNPOST_DATABASE_URL), so nobody was left out for erasure "
                      "and only the extract's consent records were used")
    else:
        console.print(
            f"erasure: {erasure['people_removed']:,} erased people left out "
            f"({erasure['erased_in_service']:,} erased in the service, {erasure['not_in_this_extract']:,} "
            f"not in this extract; {erasure['households_removed']:,} households with no one left removed)"
        )
        console.print(
            f"consent: {ledger['records_used']:,} decisions made through the service merged with the extract's "
            f"({ledger['records_read']:,} read for {ledger['people_named']:,} people, "
            f"{ledger['records_ignored']:,} ignored as not in this extract)"
        )
    console.print(
        f"quarantine: {manifest['quarantine']}  ·  consent snapshot {manifest['consent_snapshot_id'][:12]}"
        f"  ·  {manifest['timings']['total']:.1f}s"
    )


@app.command()
@friendly_errors
def link(
    raw: Annotated[Path, typer.Option(help="Folder of extracts with citizens and partner_people (contract v2).")],
    out: Annotated[Path, typer.Option(help="Folder for link_outcomes.parquet, linkage_review.csv and linkage.json.")],
    decisions: Annotated[
        Path | None,
        typer.Option(help="A data steward's decisions (CSV). Default: <raw>/linkage_decisions.csv if present."),
    ] = None,
    extract_date: Annotated[
        str | None, typer.Option(help="Day the extract was taken (ISO); later dates are faults. Default: today.")
    ] = None,
    engine: Annotated[
        Engine, typer.Option(help="Where the linkage runs: duckdb on this machine, or Apache Spark (same outcomes).")
    ] = Engine.duckdb,
    spark_master: Annotated[
        str | None, typer.Option(help="With --engine spark: the master URL. Default: local[2], or spark-submit's.")
    ] = None,
) -> None:
    """Link partner records to the master person index (Splink) and nothing else.

    The outcomes carry pseudonyms only; the review queue holds the identifiers a steward needs
    to decide each uncertain pair, so it is written readable by its owner only.
    """
    from features.build import link_extract
    from serving.infra.service_readers import steward_decisions

    taken = _parse_date(extract_date, "--extract-date") if extract_date else None
    settings = get_settings()
    summary = link_extract(raw, out, settings=settings, extract_date=taken, decisions=decisions,
                           steward=steward_decisions(settings.database_url), engine=engine.value,
                           spark_master=spark_master)
    outcomes = summary["outcomes"]
    console.print(
        f"{summary['partner_records']:,} partner records: {outcomes['linked']:,} linked, {outcomes['review']:,} "
        f"in review, {outcomes['unlinked']:,} unlinked ({summary['pairs_compared']:,} pairs compared); "
        f"written to {out}"
    )


@app.command()
@friendly_errors
def encode(
    raw: Annotated[Path, typer.Option(help="The partner's folder holding its partner_people file.")],
    out: Annotated[Path, typer.Option(help="Folder for partner_people_encoded.csv (source, local_id, clk, blocks).")],
    secret_file: Annotated[Path, typer.Option(help="The linkage secret agreed with the council (a file).")],
) -> None:
    """Encode partner records as keyed Bloom filters (CLKs) where the partner keeps its data; no names leave."""
    from features.encoding import encode_folder, read_secret

    rows = encode_folder(raw, out, read_secret(secret_file))
    console.print(f"encoded {rows:,} partner records into {Path(out) / 'partner_people_encoded.csv'}")


def _print_row_accounting(manifest: dict) -> None:
    from rich.table import Table

    table = Table(title="Row accounting")
    for column in ("table", "read", "accepted", "quarantined", "erased"):
        table.add_column(column, justify="right" if column != "table" else "left")
    for name, counts in manifest["rows"].items():
        table.add_row(name, *(f"{counts[c]:,}" for c in ("read", "accepted", "quarantined", "erased")))
    console.print(table)


# -------------------------------------------------------------------------- demo -----------


@app.command()
@friendly_errors
def demo(
    citizens: Annotated[int, typer.Option(help="Size of the synthetic county.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    host: Annotated[str, typer.Option(help="Address the API and pages listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port the API and pages listen on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after training and promotion.")] = False,
    partners: Annotated[
        PartnerKind, typer.Option(help="local: partners send their own person records, linked by the features stage.")
    ] = PartnerKind.council,
) -> None:
    """Run the whole product on a synthetic county: generate → features → train → promote → serve."""
    from training.early_help import promote as promote_early_help_version
    from training.recommender_promotion import promote as promote_recommender_version

    settings = get_settings()
    make_private(written_paths(settings))  # what an earlier run or the checkout left readable
    console.rule("1/6 Synthetic county")
    generate(out=settings.raw_dir, citizens=citizens, seed=seed, partners=partners)
    console.rule("2/6 Features")
    features(raw=settings.raw_dir, out=settings.processed_dir, as_of=DEFAULT_END.isoformat())
    console.rule("3/6 Recommenders")
    train_recommender(processed=settings.processed_dir)
    console.print(promote_recommender_version(settings.processed_dir, settings=settings).reason)
    console.rule("4/6 Early help")
    train_early_help(processed=settings.processed_dir)
    decision = promote_early_help_version(settings)
    for reason in decision.reasons:
        console.print(f"[red]gate refused:[/] {reason}")
    console.print(
        f"early-help version {decision.version} "
        + ("is champion" if decision.promoted else "stays challenger (see the reasons above)")
    )
    console.rule("5/6 Service database")
    db_upgrade()
    if no_serve:
        return
    console.rule("6/6 API and pages")
    _print_demo_sign_ins(f"http://{host}:{port}")
    serve(host=host, port=port, workers=1)


def _print_demo_sign_ins(base: str) -> None:
    from serving.http.server import demo_sign_ins

    say = partial(console.print, soft_wrap=True)
    say(f"Signpost is running at {base} (Ctrl-C to stop)\n")
    say(f"  Citizen portal        {base}/portal")
    say(f"  Caseworker workspace  {base}/workspace")
    say(f"  Analyst view          {base}/analyst\n")
    say(f"  Sign in at {base}/sign-in and pick a demo person: a citizen who shares their data,")
    say("  a citizen who does not, a caseworker, an analyst or an administrator")
    say("  (development sign-in; local environment only).")
    say(f"  API documentation: {base}/docs")
    say("  MLflow UI: .venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db --port 5000\n")
    say("  Demo bearer tokens for the API (Authorization: Bearer …):")
    sign_ins = demo_sign_ins(get_settings())
    for label, role, token in sign_ins:
        say(f"  [bold]{role:<10}[/] {label}:\n    {token}")
    citizen = next((token for _, role, token in sign_ins if role == "citizen"), None)
    if citizen:
        say("\n  Try the first citizen's suggestions (a citizen may name themselves `me`):")
        say(f'    curl -H "Authorization: Bearer {citizen}" "{base}/v1/citizens/me/recommendations?k=5"')


# ------------------------------------------------------------------- recommender -----------


@train_app.command("recommender")
@friendly_errors
def train_recommender(
    processed: Annotated[
        Path | None, typer.Option(help="Processed folder from `signpost features`. Default: settings.processed_dir.")
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated candidates from popularity,demographic,itemknn,als,bpr,ease,"
                     "ease_recent,ease_household,blend. Default: the default set (see README).")
    ] = None,
    budget: Annotated[int, typer.Option(min=1, help="Hyper-parameter configurations tried per model.")] = 6,
) -> None:
    """Search, evaluate and compare the recommenders; register the best as challenger."""
    from training.recommender import train

    settings = get_settings()
    result = train(processed or settings.processed_dir, models=models, budget=budget, settings=settings)
    _print_frame(result.table(), f"recommenders on the temporal hold-out (95% CIs over citizens), MLflow run {result.parent_run_id}")
    console.print(
        f"registered {settings.recommender_model_name} version {result.version} ({result.best}) as "
        "[bold]challenger[/]; promote it with `signpost promote recommender`"
    )


@promote_app.command("recommender")
@friendly_errors
def promote_recommender(
    processed: Annotated[
        Path | None, typer.Option(help="Processed folder whose hold-out decides. Default: settings.processed_dir.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Promote even if the challenger is worse (recorded on the version).")] = False,
) -> None:
    """Refit champion and challenger on the same training split; promote unless NDCG@10 drops beyond the margin."""
    from training.recommender_promotion import promote

    settings = get_settings()
    decision = promote(processed or settings.processed_dir, force=force, settings=settings)
    if not decision.table.empty:
        _print_frame(decision.table, "champion vs challenger on the newest hold-out")
    console.print(decision.reason)
    _print_verdict(decision.challenger, promoted=decision.promoted, forced=decision.forced)


@evaluate_app.command("recommender")
@friendly_errors
def evaluate_recommender(
    truth: Annotated[Path, typer.Option(help="The generator's truth/ folder (synthetic data only).")],
    processed: Annotated[
        Path | None, typer.Option(help="Processed folder the model was trained on. Default: settings.processed_dir.")
    ] = None,
) -> None:
    """Print the best model's recall@10 and NDCG@10 next to the oracle's (true probabilities)."""
    from training.recommender_evaluation import compare_with_oracle

    settings = get_settings()
    frame = compare_with_oracle(truth, processed or settings.processed_dir, settings)
    _print_frame(frame, "hold-out: model vs oracle (ranking by the true final-quarter probabilities)")


# -------------------------------------------------------------------- early help -----------


@train_app.command("early-help")
@friendly_errors
def train_early_help(
    processed: Annotated[
        Path | None, typer.Option(help="Processed folder from `signpost features`. Default: settings.processed_dir.")
    ] = None,
    resamples: Annotated[int, typer.Option(min=50, help="Bootstrap resamples for the intervals.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed for folds and trees.")] = 0,
) -> None:
    """Fit the early-help models on the earlier snapshot, evaluate on the later one, register the best."""
    from training.early_help import train

    settings = get_settings()
    result = train(processed or settings.processed_dir, settings, n_resamples=resamples, seed=seed)
    _print_frame(result.table(), f"early help: candidates (evaluation snapshot), MLflow run {result.run_id}")
    console.print(
        f"registered {settings.early_help_model_name} version {result.version} ({result.chosen}) "
        "as [bold]challenger[/]; promote it with `signpost promote early-help`"
    )


@promote_app.command("early-help")
@friendly_errors
def promote_early_help(
    force: Annotated[bool, typer.Option(help="Promote even if a gate fails (the reasons are recorded).")] = False,
    version: Annotated[str | None, typer.Option(help="Registered version (default: the challenger).")] = None,
) -> None:
    """Make the challenger champion if AUC, calibration and per-group TPR/FPR gaps pass the gates."""
    from training.early_help import promote

    decision = promote(get_settings(), force=force, version=version)
    for check in decision.checks:
        console.print(f"[green]pass[/] {check}")
    for reason in decision.reasons:
        console.print(f"[red]fail[/] {reason}")
    _print_verdict(decision.version, promoted=decision.promoted, forced=decision.forced)


@evaluate_app.command("early-help")
@friendly_errors
def evaluate_early_help(
    truth: Annotated[Path, typer.Option(help="The generator's truth/ folder (synthetic data only).")],
    processed: Annotated[
        Path | None, typer.Option(help="Processed folder the model was trained on. Default: settings.processed_dir.")
    ] = None,
    alias: Annotated[str | None, typer.Option(help="Model alias (default: champion, else challenger).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed for the feature-set comparison's folds and trees.")] = 0,
) -> None:
    """Default vs opt-in features side by side (AUC, ECE, group gaps), and the registered model vs Bayes-optimal."""
    from training.early_help import (
        compare_feature_sets,
        compare_with_truth,
        print_comparison,
        print_feature_sets,
    )

    settings = get_settings()
    processed = processed or settings.processed_dir
    print_feature_sets(compare_feature_sets(processed, settings, truth=truth, seed=seed))
    try:
        table = compare_with_truth(truth, processed, settings, alias=alias)
    except UserError as error:  # no registered model yet: the side-by-side table stands alone
        console.print(f"registered model: {error}")
        return
    print_comparison(table)


@evaluate_app.command("linkage")
@friendly_errors
def evaluate_linkage(
    truth: Annotated[Path, typer.Option(help="The generator's truth/ folder (synthetic data, --partners local).")],
    raw: Annotated[Path | None, typer.Option(help="Folder of extracts. Default: the truth folder's parent.")] = None,
    extract_date: Annotated[
        str | None, typer.Option(help="Day the extract was taken (ISO). Default: today.")
    ] = None,
    encoded: Annotated[bool, typer.Option(help="Also link on Bloom-filter encodings (no names) and print both; "
                                          "--no-encoded for Splink alone.")] = True,
) -> None:
    """Precision, recall and F1 of partner linkage against the true links; Splink's charts to MLflow."""
    from training.linkage_evaluation import EXPERIMENT, evaluate

    taken = _parse_date(extract_date, "--extract-date") if extract_date else None
    metrics = evaluate(raw or Path(truth).parent, truth, get_settings(), extract_date=taken, encoded=encoded)
    console.print(
        f"linkage of {int(metrics['records']):,} partner records: precision {metrics['precision']:.4f}, "
        f"recall {metrics['recall']:.4f}, F1 {metrics['f1']:.4f} (over records whose person the master index "
        f"accepted: recall {metrics['recall_linkable']:.4f}, F1 {metrics['f1_linkable']:.4f}); "
        f"review queue {metrics['review_share']:.2%} "
        f"of records, unlinked {metrics['unlinked_share']:.2%}, false links {int(metrics['false_links']):,} "
        f"(MLflow experiment {EXPERIMENT}: metrics and charts/)"
    )
    if encoded:
        console.print(
            f"encoded (Bloom filters, Dice; {int(metrics['encoded_pairs_compared']):,} pairs compared, "
            f"{metrics['encoded_seconds']:.0f}s to encode and link): precision {metrics['encoded_precision']:.4f}, recall "
            f"{metrics['encoded_recall']:.4f}, F1 {metrics['encoded_f1']:.4f}; review queue "
            f"{metrics['encoded_review_share']:.2%}, false links {int(metrics['encoded_false_links']):,}"
        )


def _print_verdict(version: object, *, promoted: bool, forced: bool) -> None:
    """The last line of every promotion; a refusal exits 1 so scripts and the admin page see it."""
    if promoted:
        note = " [bold red](forced)[/]" if forced else ""
        console.print(f"version {version} is now [bold]champion[/]{note}")
    else:
        console.print(f"version {version} was [bold]not promoted[/]")
        raise typer.Exit(code=1)


def _print_frame(frame, title: str) -> None:  # a pandas DataFrame
    from rich.table import Table

    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="left" if frame[column].dtype == object else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)


# ----------------------------------------------------------------------- serving -----------

db_app = typer.Typer(help="The service database (consent ledger, audit trail, events).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the API (migrates the database and seeds the consent ledger first)."""
    from serving.http.server import serve as run

    run(get_settings(), host=host, port=port, workers=workers)


@app.command()
@friendly_errors
def token(
    role: Annotated[Role, typer.Option(help="citizen, caseworker, analyst, admin, data_steward or partner.")],
    subject: Annotated[str, typer.Option(help="Citizen: their council person id. Staff: their staff id. Partner: its source (police).")],
    minutes: Annotated[int | None, typer.Option(min=1, max=60 * 24 * 30, help="Lifetime (default: settings).")] = None,
) -> None:
    """Print a development bearer token signed with the local key (settings.jwt_signing_key[_file])."""
    from serving.domain.auth import issue_for

    settings = get_settings()
    if settings.environment == "production" and role is not Role.citizen:
        raise UserError(
            f"production refuses to mint {role.value} tokens from the command line: staff, "
            "administrators and partner systems sign in through the council's identity provider "
            "(SIGNPOST_OIDC_ISSUER; partners by client credentials)"
        )
    typer.echo(issue_for(settings, role=role.value, subject=subject, minutes=minutes))


@audit_app.command("verify")
@friendly_errors
def audit_verify() -> None:
    """Recompute the audit trail's hash chain; name the first entry that does not fit."""
    from serving.domain.audit import verify
    from serving.infra.db import Database

    database = Database(get_settings().database_url)
    try:
        with database.reading() as session:
            verdict = verify(session)
    finally:
        database.dispose()
    if verdict.ok:
        console.print(f"[green]{verdict}[/]")
    else:
        console.print(f"[bold red]{verdict}[/]")
        raise typer.Exit(code=1)


@db_app.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Apply database migrations, create the signing key, seed consents and caseloads."""
    from serving.http.server import prepare

    added = prepare(get_settings())
    console.print(f"database at the latest schema; seeded {added or 'nothing new'}")


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option} {value!r} is not an ISO date; write it like 2026-09-30") from None


if __name__ == "__main__":  # run as a script, as spark-submit does (README: Two engines)
    main()
