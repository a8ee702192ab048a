"""Early-help feature tables: one row per child per snapshot, features a caseworker knows.

For a snapshot day S the features look at events in the 12 months up to and including S,
from sources whose sharing policy allows ``early_intervention``, for the child and for the
adults (18+) of the child's household (``f_hh_`` features). The label is whether the child
has any early-help outcome in the 6 months after S. Children are those aged 0–17 on S whose
own early-intervention state and whole household allow it (see ``features.consent``).

Features (all float32 in the tables; described in ``early_help_features.json``):

- per source: event count; per indicator source (see below) also the days since the last
  event (366 = none in the 12 months);
- per indicator service — services mostly recorded by a source that serves early
  intervention only (police, children's social care, school attendance) — an event count;
- per intervention service: whether it was in use;
- household composition (members, children, adults, older people, single adult),
  deprivation decile (5.5 when unknown, with a flag) and age.

The feature list is fixed once per build from the services catalogue and the policy, so the
train, validation and scoring tables share their columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import pandas as pd
from dateutil.relativedelta import relativedelta

from features.generalise import age_band_sql, age_sql
from features.validate import quote_literal

WINDOW_MONTHS = 12
LABEL_MONTHS = 6
#: days_since value when there was no such event in the window.
NONE_IN_WINDOW_DAYS = 366
GROUP_COLUMNS = ("sex", "ethnicity", "disability", "imd_decile", "local_authority", "age_band")


def indicator_sources(sharing_policy: dict[str, list[str]]) -> tuple[str, ...]:
    """Sources that serve early intervention only: their services are concern indicators.

    The serving side asks the same question (serving/domain/events.py): no citizen may report
    a use of an indicator service themselves.
    """
    return tuple(sorted(s for s, purposes in sharing_policy.items()
                        if "early_intervention" in purposes and "personalisation" not in purposes))


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    kind: str  # "count" | "days_since" | "flag" | "numeric"
    sql: str = ""  # aggregate over (cid, col, source_code, n, occurred_at = latest) rows
    level: str = "child"  # "child" | "household" | "person"

    def describe(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k in ("name", "label", "kind")}


def slug(text: str) -> str:
    """A column-name-safe form of a source or service id."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "x"


#: How a caseworker names each partner source; unlisted sources read with spaces for "_".
SOURCE_LABELS = {
    "childrens_social_care": "children's social care",
    "nhs": "the NHS",
    "public_health": "public health",
    "revenues": "council tax and benefits",
}


def source_label(source: str) -> str:
    """The partner source as a caseworker would say it ("children's social care")."""
    return SOURCE_LABELS.get(source, source.replace("_", " "))


def feature_catalogue(
    services: pd.DataFrame, *, sources: Sequence[str], indicator_sources: Sequence[str]
) -> list[Feature]:
    """The early-help features of a build.

    Parameters
    ----------
    services : DataFrame
        Columns ``col``, ``name``, ``source`` (dominant source, may be missing),
        ``intervention`` (bool).
    sources : sequence of str
        Sources whose policy allows early intervention.
    indicator_sources : sequence of str
        Sources that serve early intervention only; their services become indicators.

    Returns
    -------
    list of Feature
    """
    features: list[Feature] = []
    taken: set[str] = set()

    def add(name: str, label: str, kind: str, sql: str = "", level: str = "child") -> None:
        base, n = name, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        features.append(Feature(name, label, kind, sql, level))

    whose = {"child": "for the child", "household": "for adults in the household"}
    prefix = {"child": "f_", "household": "f_hh_"}
    indicators = services[services["source"].isin(list(indicator_sources))].sort_values("col")
    interventions = services[services["intervention"].astype(bool)].sort_values("col")
    for level in ("child", "household"):
        p = prefix[level]
        for code, source in enumerate(sorted(sources)):
            s = code  # events carry source_code = index of the source in sorted(sources)
            add(f"{p}{slug(source)}_events", f"events recorded by {source_label(source)} {whose[level]} in the last "
                f"{WINDOW_MONTHS} months", "count", f"sum(n) FILTER (WHERE source_code = {s})", level)
            if source not in indicator_sources:
                continue
            add(f"{p}days_since_{slug(source)}", f"days since the last {source_label(source)} event {whose[level]} "
                f"({NONE_IN_WINDOW_DAYS} = none in the last {WINDOW_MONTHS} months)", "days_since",
                f"date_diff('day', CAST(max(occurred_at) FILTER (WHERE source_code = {s}) AS DATE), __DAY__)", level)
        for service in indicators.itertuples():
            add(f"{p}svc_{slug(service.name)}", f"{service.name} ({source_label(service.source)}) {whose[level]} in the "
                f"last {WINDOW_MONTHS} months", "count", f"sum(n) FILTER (WHERE col = {int(service.col)})", level)
        for service in interventions.itertuples():
            add(f"{p}uses_{slug(service.name)}", f"using {service.name} ({whose[level]}) in the last "
                f"{WINDOW_MONTHS} months", "flag",
                f"CAST(sum(n) FILTER (WHERE col = {int(service.col)}) > 0 AS INTEGER)", level)
    for name, label in (
        ("f_hh_members", "people in the household"),
        ("f_hh_children", "children (0-17) in the household"),
        ("f_hh_adults", "working-age adults (18-64) in the household"),
        ("f_hh_older", "older people (65+) in the household"),
    ):
        add(name, label, "count", level="person")
    add("f_hh_single_adult", "one adult (18+) in the household", "flag", level="person")
    add("f_imd_decile", "deprivation decile of the home area (1 = most deprived; 5.5 when unknown)",
        "numeric", level="person")
    add("f_imd_unknown", "deprivation decile of the home area is unknown", "flag", level="person")
    add("f_age", "age in years", "numeric", level="person")
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
        "f_imd_decile": "COALESCE(pp.imd_decile, 5.5)",
        "f_imd_unknown": "CAST(pp.imd_decile IS NULL AS INTEGER)",
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
