"""Early-help feature tables: one row per child per snapshot, features a caseworker knows.

For a snapshot day S the features look at events in the 12 months up to and including S,
from sources whose sharing policy allows ``early_intervention``, for the child and for the
adults (18+) of the child's household (``f_hh_`` features). The label is whether the child
has any early-help outcome in the 6 months after S. Children are those aged 0–17 on S whose
own early-intervention state and whole household allow it (see ``features.consent``).

Asking for help is never a risk factor. Every feature belongs to a **group**
(:data:`FEATURE_GROUPS`); the model uses the default groups only, unless the council opts
in to more (``Settings.early_help_opt_in_features``):

- ``concern`` (default): per concern-indicator service (``early_help_indicator`` true, e.g.
  an Operation Encompass notification, a missing-child report, an exclusion) the number of
  records, and the days since the last one;
- ``composition`` (default): household composition (members, children, adults, older people,
  single adult) and age;
- ``supportive_services`` (opt-in): use of universal and supportive services, every
  intervention among them (family hubs, childcare, libraries, parenting courses, food banks);
- ``benefits`` (opt-in): use of money and housing services (benefits, council tax support,
  arrears letters, housing advice);
- ``health_services`` (opt-in): use of NHS and public-health services;
- ``deprivation`` (opt-in): the deprivation decile of the home area (missing when unknown).

The tables carry every group, so an analyst can measure what an opt-in would change
(``signpost evaluate early-help``); which groups a model used is in its run and model card.
The feature list is fixed once per build from the services catalogue and the policy, so the
train, validation and scoring tables share their columns. Each feature carries the needs
behind it (from the services' ``needs``), which is how a raising factor finds the
interventions that answer it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import get_args

import pandas as pd
from dateutil.relativedelta import relativedelta

from features.contract import NEED_WORDS
from features.generalise import age_band_sql, age_sql
from features.validate import quote_literal
from signpost.settings import EarlyHelpOptIn

WINDOW_MONTHS = 12
LABEL_MONTHS = 6
#: days_since value when there was no such event in the window.
NONE_IN_WINDOW_DAYS = 366
GROUP_COLUMNS = ("sex", "ethnicity", "disability", "imd_decile", "local_authority", "age_band")

#: Feature groups the model always uses: concern indicators, household composition and age.
DEFAULT_GROUPS: tuple[str, ...] = ("concern", "composition")
#: Feature groups a council may opt in to (``Settings.early_help_opt_in_features``).
OPT_IN_GROUPS: tuple[str, ...] = get_args(EarlyHelpOptIn)
FEATURE_GROUPS: tuple[str, ...] = DEFAULT_GROUPS + OPT_IN_GROUPS
#: Service categories whose use counts as ``benefits`` / ``health_services`` (else supportive).
GROUP_OF_CATEGORY = {"money": "benefits", "housing": "benefits", "health": "health_services"}
#: The need an opt-in group's features point to (concern features take their services' needs).
NEEDS_OF_GROUP = {"benefits": ("money_housing",), "health_services": ("health_wellbeing",)}


def indicator_sources(sharing_policy: dict[str, list[str]]) -> tuple[str, ...]:
    """Sources that serve early intervention only: their services are concern indicators.

    The serving side asks the same question (serving/domain/events.py): no citizen may report
    a use of an indicator service themselves.
    """
    return tuple(sorted(s for s, purposes in sharing_policy.items()
                        if "early_intervention" in purposes and "personalisation" not in purposes))


@dataclass(frozen=True)
class Feature:
    """One early-help feature; ``label`` reads after a count ("3 police notifications ...")."""

    name: str
    label: str
    kind: str  # "count" | "days_since" | "flag" | "numeric"
    sql: str = ""  # aggregate over (cid, col, source_code, n, occurred_at = latest) rows
    level: str = "child"  # "child" | "household" | "person"
    group: str = "concern"
    singular: str = ""  # the label after "1", when it differs
    absent: str = ""  # the words for 0 or "no", when "no <label>" does not read
    needs: tuple[str, ...] = ()
    #: For a concern feature, what its label says after "concerning" (the kind of concern,
    #: e.g. "domestic abuse"); a family shown factors by source only sees the label without it.
    concern: str = ""

    def describe(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if k != "sql"}


def slug(text: str) -> str:
    """A column-name-safe form of a source or service id."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "x"


#: How a caseworker names a record of each partner source: (one, several). Unlisted sources
#: read "record from <source>".
SOURCE_LABELS: dict[str, tuple[str, str]] = {
    "police": ("police notification", "police notifications"),
    "childrens_social_care": ("contact with children's social care", "contacts with children's social care"),
    "schools": ("school record", "school records"),
    "nhs": ("NHS contact", "NHS contacts"),
    "public_health": ("public health contact", "public health contacts"),
    "revenues": ("council tax or benefits record", "council tax or benefits records"),
    "housing": ("housing record", "housing records"),
    "libraries": ("library record", "library records"),
    "leisure": ("leisure record", "leisure records"),
    "voluntary": ("voluntary sector record", "voluntary sector records"),
    "council": ("council service record", "council service records"),
    "fire": ("fire service record", "fire service records"),
}


def source_label(source: str, n: int = 2) -> str:
    """A record of the partner source as a caseworker says it, for ``n`` records."""
    one, several = SOURCE_LABELS.get(source, (f"record from {source.replace('_', ' ')}",
                                              f"records from {source.replace('_', ' ')}"))
    return one if n == 1 else several


def service_group(early_help_indicator: bool, category: str | None) -> str:
    """The feature group a service's use falls in (:data:`FEATURE_GROUPS`)."""
    if early_help_indicator:
        return "concern"
    return GROUP_OF_CATEGORY.get(str(category or "").lower(), "supportive_services")


def _needs(value) -> tuple[str, ...]:
    if value is None or isinstance(value, float):
        return ()
    return tuple(str(n) for n in value)


def kind_of_concern(needs: Sequence[str], category: str | None, name: str, sensitive: bool) -> str:
    """What a concern record is about, in a caseworker's words, never naming a sensitive service.

    The needs the service points to ("domestic abuse", "school attendance"); where it lists
    none, its category for a sensitive service and its name otherwise.
    """
    if needs:
        return " and ".join(NEED_WORDS.get(n, n.replace("_", " ")) for n in needs)
    if sensitive:
        return str(category or "a concern").replace("_", " ").lower()
    return str(name)


def feature_catalogue(services: pd.DataFrame, *, sources: Sequence[str]) -> list[Feature]:
    """The early-help features of a build, every group included.

    Parameters
    ----------
    services : DataFrame
        Columns ``col``, ``name``, ``category``, ``source`` (dominant source, may be missing),
        ``intervention`` (bool), ``early_help_indicator`` (bool), ``needs`` (list of str),
        optionally ``sensitive`` (bool; absent means every concern service is treated as
        sensitive). Concern features are labelled by source and kind of concern ("1 police
        notification about adults in the household concerning domestic abuse"), never by the
        name of a sensitive service a family member used.
    sources : sequence of str
        Sources whose policy allows early intervention; other sources' events never reach
        these features.

    Returns
    -------
    list of Feature
    """
    features: list[Feature] = []
    taken: set[str] = set()

    def add(name: str, label: str, kind: str, sql: str = "", level: str = "child", **more) -> None:
        base, n = name, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        features.append(Feature(name, label, kind, sql, level, **more))

    window = f"last {WINDOW_MONTHS} months"
    about = {"child": "about the child", "household": "about adults in the household"}
    prefix = {"child": "f_", "household": "f_hh_"}
    used = services[services["source"].isin(list(sources))].sort_values("col")
    group = [service_group(bool(i), c) for i, c in zip(used["early_help_indicator"], used["category"], strict=True)]
    used = used.assign(group=group)
    concern = used[used["group"] == "concern"]
    interventions = services[services["intervention"].astype(bool)].sort_values("col")
    concern_cols = ", ".join(str(int(c)) for c in concern["col"]) or "NULL"
    for level in ("child", "household"):
        p, whom = prefix[level], about[level]
        for service in concern.itertuples():
            needs = _needs(service.needs)
            kind = kind_of_concern(needs, service.category, service.name, bool(getattr(service, "sensitive", True)))
            add(f"{p}svc_{slug(service.name)}", f"{source_label(service.source)} {whom} concerning {kind} ({window})",
                "count", f"sum(n) FILTER (WHERE col = {int(service.col)})", level, group="concern",
                singular=f"{source_label(service.source, 1)} {whom} concerning {kind} ({window})",
                needs=needs, concern=kind)
        if len(concern):
            add(f"{p}days_since_concern", f"last concern record {whom} ({NONE_IN_WINDOW_DAYS} = none in the "
                f"{window})", "days_since",
                f"date_diff('day', CAST(max(occurred_at) FILTER (WHERE col IN ({concern_cols})) AS DATE), __DAY__)",
                level, group="concern",
                needs=tuple(sorted({n for v in concern["needs"] for n in _needs(v)})))
        for group_name in ("supportive_services", "benefits", "health_services"):
            chosen = used[used["group"] == group_name]
            what = {"supportive_services": "universal or supportive services", "benefits": "money and housing "
                    "services", "health_services": "health services"}[group_name]
            whose = "for the child" if level == "child" else "for adults in the household"
            for code, source in enumerate(sorted(sources)):
                cols = chosen.loc[chosen["source"] == source, "col"]
                if cols.empty:
                    continue
                listed = ", ".join(str(int(c)) for c in cols)
                add(f"{p}{group_name}_{slug(source)}", f"{source_label(source)} {whose} ({what}, {window})", "count",
                    f"sum(n) FILTER (WHERE source_code = {code} AND col IN ({listed}))", level, group=group_name,
                    singular=f"{source_label(source, 1)} {whose} ({what}, {window})",
                    needs=NEEDS_OF_GROUP.get(group_name, ()))
        for service in interventions.itertuples():
            who = "the child" if level == "child" else "an adult in the household"
            add(f"{p}uses_{slug(service.name)}", f"{who} used {service.name} in the {window}", "flag",
                f"CAST(sum(n) FILTER (WHERE col = {int(service.col)}) > 0 AS INTEGER)", level,
                group="supportive_services", absent=f"{who} did not use {service.name} in the {window}")
    for name, label, singular in (
        ("f_hh_members", "people in the household", "person in the household"),
        ("f_hh_children", "children (0-17) in the household", "child (0-17) in the household"),
        ("f_hh_adults", "working-age adults (18-64) in the household", "working-age adult (18-64) in the household"),
        ("f_hh_older", "older people (65+) in the household", "older person (65+) in the household"),
    ):
        add(name, label, "count", level="person", group="composition", singular=singular)
    add("f_hh_single_adult", "one adult (18+) in the household", "flag", level="person", group="composition",
        absent="more than one adult (18+) in the household")
    add("f_imd_decile", "deprivation decile of the home area (1 = most deprived)", "numeric", level="person",
        group="deprivation")
    add("f_age", "aged {value}", "numeric", level="person", group="composition")
    return features


def source_codes_sql(sources: Sequence[str]) -> str:
    """SQL CASE giving each early-intervention source its small integer code.

    Feature filters compare these integers instead of strings: tens of aggregates over
    millions of events per snapshot add up.
    """
    cases = " ".join(f"WHEN {quote_literal(s)} THEN {i}" for i, s in enumerate(sorted(sources)))
    return f"CAST(CASE source {cases} END AS UTINYINT)"


def snapshot_sql(
    features: Sequence[Feature],
    *,
    snapshot: date,
    people: str,
    allowed: str,
    events: str,
    outcomes: str | None,
    labelled: bool,
) -> str:
    """SELECT one early-help row per child for snapshot day ``snapshot``, ordered by pseudonym.

    (``cid`` is numbered in pseudonym order, so ordering by it is ordering by pseudonym.)

    ``people``: ``cid, pseudonym, hid, household, birth_date, sex, ethnicity, disability,
    imd_decile, local_authority`` (accepted citizens); ``allowed``: ``cid, allowed`` (the
    early-help consent state on this day, household folded in); ``events``: ``cid, col,
    source_code, occurred_at`` from early-intervention sources (see
    :func:`source_codes_sql`); ``outcomes``: ``cid,
    occurred_at`` (DATE) or None when the extract had no outcomes table.
    """
    start = snapshot - relativedelta(months=WINDOW_MONTHS) + timedelta(days=1)
    end = snapshot + timedelta(days=1)
    label_end = snapshot + relativedelta(months=LABEL_MONTHS)
    end_ts = f"TIMESTAMP '{end.isoformat()} 00:00:00'"
    day = f"DATE '{snapshot.isoformat()}'"
    age = age_sql("birth_date", day)

    def aggregates(level: str) -> str:
        chosen = [f for f in features if f.level == level]
        return ", ".join(f"{f.sql.replace('__DAY__', day)} AS {f.name}" for f in chosen) or "1 AS _none"

    child_cols = [f for f in features if f.level == "child"]
    hh_cols = [f for f in features if f.level == "household"]

    def filled(f: Feature, alias: str) -> str:
        if f.kind == "days_since":
            return f"CAST(least(COALESCE({alias}.{f.name}, {NONE_IN_WINDOW_DAYS}), {NONE_IN_WINDOW_DAYS}) AS FLOAT)"
        return f"CAST(COALESCE({alias}.{f.name}, 0) AS FLOAT)"

    person_sql = {
        "f_hh_members": "COALESCE(hc.members, 1)",
        "f_hh_children": "COALESCE(hc.children, 1)",
        "f_hh_adults": "COALESCE(hc.adults, 0)",
        "f_hh_older": "COALESCE(hc.older, 0)",
        "f_hh_single_adult": "CAST(COALESCE(hc.adults + hc.older, 0) = 1 AS INTEGER)",
        "f_imd_decile": "pp.imd_decile",  # missing when unknown: the models handle it
        "f_age": "k.age",
    }
    selected = (
        [filled(f, "cf") + f" AS {f.name}" for f in child_cols]
        + [filled(f, "hf") + f" AS {f.name}" for f in hh_cols]
        + [f"CAST({person_sql[f.name]} AS FLOAT) AS {f.name}" for f in features if f.level == "person"]
    )
    if labelled:
        if outcomes is None:
            label = "CAST(0 AS TINYINT) AS label"
        else:
            label = (
                f"CAST(EXISTS (SELECT 1 FROM {outcomes} o WHERE o.cid = k.cid AND o.occurred_at > {day} "
                f"AND o.occurred_at <= DATE '{label_end.isoformat()}') AS TINYINT) AS label"
            )
        selected.append(label)
    return f"""
WITH present AS (
  SELECT cid, hid, {age} AS age FROM {people} WHERE birth_date <= {day}
), kids AS (
  SELECT p.cid, p.hid, p.age FROM present p JOIN {allowed} a ON a.cid = p.cid AND a.allowed
  WHERE p.age BETWEEN 0 AND 17
), kid_households AS (
  SELECT DISTINCT hid FROM kids WHERE hid IS NOT NULL
), adults AS (
  SELECT cid, hid FROM present WHERE age >= 18 AND hid IN (SELECT hid FROM kid_households)
), win AS MATERIALIZED (
  -- one row per person, service and source: tens of aggregates then run over far fewer rows
  SELECT cid, col, source_code, count(*) AS n, max(occurred_at) AS occurred_at FROM {events}
  WHERE occurred_at >= TIMESTAMP '{start.isoformat()} 00:00:00' AND occurred_at < {end_ts}
  GROUP BY cid, col, source_code
), cf AS (
  SELECT w.cid, {aggregates('child')} FROM win w JOIN kids USING (cid) GROUP BY w.cid
), hf AS (
  SELECT a.hid, {aggregates('household')} FROM win w JOIN adults a USING (cid) GROUP BY a.hid
), hc AS (
  SELECT hid, count(*) AS members, count(*) FILTER (WHERE age < 18) AS children,
    count(*) FILTER (WHERE age BETWEEN 18 AND 64) AS adults, count(*) FILTER (WHERE age >= 65) AS older
  FROM present WHERE hid IN (SELECT hid FROM kid_households) GROUP BY hid
)
SELECT pp.pseudonym, pp.household, {day} AS snapshot_date,
  pp.sex, pp.ethnicity, pp.disability, pp.imd_decile, pp.local_authority, {age_band_sql('k.age')} AS age_band,
  {', '.join(selected)}
FROM kids k JOIN {people} pp ON pp.cid = k.cid
LEFT JOIN cf ON cf.cid = k.cid LEFT JOIN hf ON hf.hid = k.hid LEFT JOIN hc ON hc.hid = k.hid
ORDER BY k.cid"""
