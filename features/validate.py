"""Validation rules of the extract contract, as SQL that DuckDB runs over whole tables.

Every rule is a SQL expression that yields the reason a row breaks it, or NULL. A row's
reason is the first rule it breaks, in this order:

1. **Row rules**, column by column in contract order: a required value is blank; a value
   does not parse (strict ISO 8601 dates ``YYYY-MM-DD`` and timestamps, integers, ``true``/
   ``false``); an enum value is not allowed; an integer is out of range; a date or timestamp
   is after the extract date (a future date is a fault); then table rules (postcode format
   and county, implausible birth dates, ``min_age`` > ``max_age``, malformed service
   districts, a service phone number that is not shaped like one or contact text on more
   than one line, a service ``need`` outside the contract's vocabulary, a start date after its end date, an event source missing from the
   data-sharing policy).
2. **References**: an id that is not in the table it refers to, or whose row there was
   quarantined (the reason then names that row and its reason, so a rejected citizen takes
   their events, consents and outcomes with them).
3. **Duplicates**: the second and later rows with the same key (``person_id``,
   ``service_id``, or ``source`` + ``event_id``) among rows that pass 1 and 2; the reason
   names the row that was kept.

Values are trimmed and a blank value is treated as missing. Nothing else is repaired,
except postcodes, which the contract allows in any case and spacing and which are
normalised to ``SO23 9AB`` form (only their district leaves this package).

Unknown event sources are quarantined rather than accepted: the data-sharing policy must
name every source, otherwise nobody has decided which purposes its events may serve.

Timestamps without an offset are UK local time (Europe/London); those with an offset are
converted to UK local time. Every timestamp this module produces is naive UK local time, so
that "on or before the snapshot date" compares local calendar days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from features.contract import MIN_PARTNER_IDENTIFIERS, NEEDS, PARTNER_IDENTIFIERS, Column, Table
from features.encoding import BITS
from features.generalise import (
    DISTRICT_PATTERN,
    POSTCODE_PATTERN,
    compact_postcode_sql,
    district_sql,
)

#: Strict ISO 8601 calendar date.
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
#: Strict ISO 8601 timestamp (date alone allowed = midnight), optional fraction and offset.
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?$"
OFFSET_PATTERN = r"([Zz]|[+-]\d{2}(:?\d{2})?)$"
INTEGER_PATTERN = r"^[+-]?\d{1,9}$"
#: A phone number's shape (services.phone): digits and the separators people write.
PHONE_PATTERN = r"^\+?[0-9][0-9 ()-]*[0-9]$"
PHONE_MIN_DIGITS, PHONE_MAX_DIGITS = 3, 15  # 101 / 111 up to the E.164 maximum
#: Unique pupil number: a check letter, 11 digits, then a digit or (temporary UPNs) a letter.
UPN_PATTERN = r"^[A-Z][0-9]{11}[0-9A-Z]$"
UK_TIME_ZONE = "Europe/London"
#: Oldest plausible age in years; older birth dates are typos (1825 for 1925).
MAX_AGE_YEARS = 120
#: Characters of an offending value quoted in a reason (quarantine files only).
SHOWN_CHARS = 40


@dataclass(frozen=True)
class Reference:
    """Where a column's values must exist.

    ``lookup`` is a relation ``(value, <id_column>, first_row, reason)`` with one row per
    known key: accepted keys carry the integer id the pipeline uses from here on (and NULL
    ``first_row``); keys whose rows were all quarantined carry NULL id, the first such row
    and its reason. One join per reference resolves both cases.
    """

    column: str
    table: str
    lookup: str
    id_column: str
    #: SQL of the looked-up value over the prepared row; default ``v_<column>``. A partner's
    #: person reference is only unique within its source, so it is looked up with the source.
    value_sql: str | None = None
    #: The lookup's ``reason`` is the whole message (it is not a quarantined row's reason).
    explained: bool = False

    @property
    def value(self) -> str:
        return self.value_sql or f"v_{self.column}"


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def date_literal(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def _show(expr: str) -> str:
    return f"""('"' || left({expr}, {SHOWN_CHARS}) || '"')"""


def _message(text: str) -> str:
    return quote_literal(text)


def typed_sql(column: Column, value: str) -> str:
    """SQL converting a trimmed VARCHAR to the column's type; NULL where it does not parse."""
    if column.type == "date":
        return f"(CASE WHEN regexp_full_match({value}, '{DATE_PATTERN}') THEN TRY_CAST({value} AS DATE) END)"
    if column.type == "timestamp":
        parsed_with_offset = f"timezone('{UK_TIME_ZONE}', TRY_CAST({value} AS TIMESTAMPTZ))"
        return (
            f"(CASE WHEN NOT regexp_full_match({value}, '{TIMESTAMP_PATTERN}') THEN NULL "
            f"WHEN regexp_matches({value}, '[T ]\\d{{2}}:\\d{{2}}(:\\d{{2}}(\\.\\d+)?)?{OFFSET_PATTERN}') "
            f"THEN {parsed_with_offset} ELSE TRY_CAST({value} AS TIMESTAMP) END)"
        )
    if column.type == "integer":
        return f"(CASE WHEN regexp_full_match({value}, '{INTEGER_PATTERN}') THEN TRY_CAST({value} AS INTEGER) END)"
    if column.type == "boolean":
        return f"(CASE {value} WHEN 'true' THEN true WHEN 'false' THEN false END)"
    return value


def column_rules(column: Column, value: str, typed: str, extract_date: date) -> list[str]:
    """Reason expressions for one column (NULL where the value passes)."""
    name = column.name
    rules: list[str] = []
    if column.required:
        rules.append(f"CASE WHEN {value} IS NULL THEN {_message(f'{name} is blank (required)')} END")
    if column.type in ("enum", "boolean"):
        allowed = ", ".join(quote_literal(v) for v in column.values)
        listed = ", ".join(column.values)
        rules.append(
            f"CASE WHEN {value} IS NOT NULL AND {value} NOT IN ({allowed}) THEN "
            f"{_message(name + ' ')} || {_show(value)} || {_message(f' is not one of {listed}')} END"
        )
    elif column.type in ("date", "timestamp", "integer"):
        what = {
            "date": "an ISO 8601 date (YYYY-MM-DD)",
            "timestamp": "an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SS, optional offset)",
            "integer": "a whole number",
        }[column.type]
        rules.append(
            f"CASE WHEN {value} IS NOT NULL AND {typed} IS NULL THEN "
            f"{_message(name + ' ')} || {_show(value)} || {_message(f' is not {what}')} END"
        )
    if column.max_length is not None:
        rules.append(
            f"CASE WHEN length({value}) > {column.max_length} THEN "
            f"{_message(f'{name} is longer than {column.max_length} characters (')} || length({value}) || ')' END"
        )
    if column.type == "integer" and (column.minimum is not None or column.maximum is not None):
        low = column.minimum if column.minimum is not None else -(2**31)
        high = column.maximum if column.maximum is not None else 2**31 - 1
        rules.append(
            f"CASE WHEN {typed} < {low} OR {typed} > {high} THEN "
            f"{_message(f'{name} ')} || {typed} || {_message(f' is outside {low}..{high}')} END"
        )
    if column.type == "date":
        rules.append(
            f"CASE WHEN {typed} > {date_literal(extract_date)} THEN {_message(name + ' ')} || "
            f"strftime({typed}, '%Y-%m-%d') || "
            f"{_message(f' is after the extract date {extract_date.isoformat()} (a future date)')} END"
        )
    if column.type == "timestamp":
        rules.append(
            f"CASE WHEN {typed} >= {date_literal(extract_date)} + INTERVAL 1 DAY THEN "
            f"{_message(name + ' ')} || strftime({typed}, '%Y-%m-%dT%H:%M:%S') || "
            f"{_message(f' is after the extract date {extract_date.isoformat()} (a future date)')} END"
        )
    return rules


@dataclass(frozen=True)
class CheckContext:
    """What the rules compare against besides the row itself."""

    extract_date: date
    sources: tuple[str, ...]  # the data-sharing policy's sources
    county_districts: str  # relation (district VARCHAR) of postcode districts in the county


def table_rules(table: Table, ctx: CheckContext) -> list[str]:
    """Rules that need more than one column or outside knowledge, for one table."""
    rules: list[str] = []
    if table.name == "citizens":
        oldest = date(ctx.extract_date.year - MAX_AGE_YEARS, ctx.extract_date.month, 1)
        rules.append(
            f"CASE WHEN t_birth_date < {date_literal(oldest)} THEN 'birth_date ' || "
            f"strftime(t_birth_date, '%Y-%m-%d') || {_message(f' is implausible (older than {MAX_AGE_YEARS})')} END"
        )
        rules.append(
            f"CASE WHEN v_postcode IS NOT NULL AND NOT regexp_full_match(postcode_compact, '{POSTCODE_PATTERN}') "
            f"THEN 'postcode ' || {_show('v_postcode')} || ' is not a UK postcode' "
            f"WHEN v_postcode IS NOT NULL AND postcode_district NOT IN (SELECT district FROM {ctx.county_districts}) "
            f"THEN 'postcode outside the county (district ' || postcode_district || ')' END"
        )
    elif table.name == "services":
        rules.append(
            "CASE WHEN t_min_age > t_max_age THEN 'min_age ' || t_min_age || ' is above max_age ' || t_max_age END"
        )
        rules.append(
            "CASE WHEN v_districts IS NOT NULL AND v_districts <> '*' AND NOT list_bool_and("
            f"list_transform(string_split(v_districts, ';'), lambda d: regexp_full_match(trim(d), '{DISTRICT_PATTERN}'))) "
            "THEN 'districts ' || " + _show("v_districts")
            + " || ' is not * or a ;-separated list of postcode districts (e.g. SO23;SO22)' END"
        )
        rules += contact_rules()
        known_needs = "[" + ", ".join(quote_literal(n) for n in NEEDS) + "]"
        rules.append(
            "CASE WHEN v_needs IS NOT NULL AND NOT list_bool_and(list_transform(string_split(v_needs, ';'), "
            f"lambda n: list_contains({known_needs}, trim(n)))) THEN 'needs ' || " + _show("v_needs")
            + f" || {_message(' has a need outside the vocabulary (' + ', '.join(NEEDS) + '; separated by ;)')} END"
        )
    elif table.name == "events":
        rules.append(
            "CASE WHEN v_person_id IS NULL AND v_partner_person_id IS NULL THEN "
            "'person_id is blank (required) and so is partner_person_id: name the person by one of them' "
            "WHEN v_person_id IS NOT NULL AND v_partner_person_id IS NOT NULL THEN "
            "'both person_id and partner_person_id are filled: name the person by exactly one' END"
        )
        rules.append(_unknown_source_rule(ctx))
    elif table.name == "partner_people":
        rules.append(_unknown_source_rule(ctx))
        rules.append(_identifier_count_rule())
        rules.append(
            f"CASE WHEN v_postcode IS NOT NULL AND NOT regexp_full_match(postcode_compact, '{POSTCODE_PATTERN}') "
            f"THEN 'postcode ' || {_show('v_postcode')} || ' is not a UK postcode' END"
        )
    elif table.name == "partner_people_encoded":
        rules.append(_unknown_source_rule(ctx))
        rules += encoded_rules()
    if table.name in ("citizens", "partner_people"):
        rules.append(
            f"CASE WHEN v_nhs_number IS NOT NULL AND NOT {nhs_number_valid_sql('v_nhs_number')} THEN "
            f"'nhs_number ' || {_show('v_nhs_number')} || "
            "' is not a valid NHS number (10 digits passing the modulus 11 check)' END"
        )
        rules.append(
            f"CASE WHEN v_upn IS NOT NULL AND NOT regexp_full_match(upper(v_upn), '{UPN_PATTERN}') THEN "
            f"'upn ' || {_show('v_upn')} || ' is not a unique pupil number (a letter and 12 characters)' END"
        )
    elif table.name == "caseloads":
        rules.append(
            "CASE WHEN t_end_date < t_start_date THEN 'end_date ' || strftime(t_end_date, '%Y-%m-%d') || "
            "' is before start_date ' || strftime(t_start_date, '%Y-%m-%d') END"
        )
    return rules


def contact_rules() -> list[str]:
    """Shape rules of the optional services contact columns (version 2): free text, so only
    what a page can show safely is checked — one line each, and a phone number that looks
    like one (digits with spaces, hyphens, brackets, a leading +; 3 to 15 digits, so 101
    and 111 pass and an email address does not)."""
    rules = [
        f"CASE WHEN v_phone IS NOT NULL AND NOT regexp_full_match(v_phone, '{PHONE_PATTERN}') THEN "
        "'phone ' || " + _show("v_phone") + " || ' is not a phone number (digits, spaces, hyphens, brackets, "
        "a leading +)' END",
        "CASE WHEN v_phone IS NOT NULL AND length(regexp_replace(v_phone, '[^0-9]', '', 'g')) NOT BETWEEN "
        f"{PHONE_MIN_DIGITS} AND {PHONE_MAX_DIGITS} THEN 'phone ' || " + _show("v_phone")
        + f" || ' has ' || length(regexp_replace(v_phone, '[^0-9]', '', 'g')) || ' digits "
        f"(a phone number has {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS})' END",
    ]
    for column in ("phone", "contact", "opening_hours"):
        rules.append(
            f"CASE WHEN regexp_matches(v_{column}, '[[:cntrl:]]') THEN "
            f"'{column} contains a line break or control character (one line of text expected)' END"
        )
    return rules


def encoded_rules() -> list[str]:
    """Shape of an encoded partner record (``features/encoding.py``): a filter of the agreed
    length in base64, and blocking values of 16 hex digits; anything else was made with another
    linkage schema and cannot be compared."""
    size = BITS // 8
    chars, padding = 4 * -(-size // 3), (3 - size % 3) % 3  # base64 of the filter's bytes
    clk = (f"CASE WHEN NOT regexp_full_match(v_clk, '[A-Za-z0-9+/]{{{chars - padding}}}={{{padding}}}') THEN "
           f"'clk is not a {BITS}-bit filter in base64 ({chars} characters): encode with `signpost encode` "
           "and the agreed linkage schema' END")
    blocks = ("CASE WHEN v_blocks IS NOT NULL AND NOT regexp_full_match(v_blocks, '[0-9a-f]{16}( [0-9a-f]{16})*') "
              "THEN 'blocks is not a space-separated list of 16 hex digits: encode with `signpost encode`' END")
    return [clk, blocks]


def _unknown_source_rule(ctx: CheckContext) -> str:
    known = ", ".join(quote_literal(s) for s in ctx.sources) or "NULL"
    return (
        f"CASE WHEN v_source IS NOT NULL AND v_source NOT IN ({known}) THEN 'unknown source ' || "
        f"{_show('v_source')} || ': the data-sharing policy does not name it, so no purpose may use it "
        "(add it to SIGNPOST_SHARING_POLICY if an agreement covers it)' END"
    )


def _identifier_count_rule() -> str:
    """A partner record needs two identifiers to be linked to anyone with any confidence."""
    present = {
        "name": "(v_given_name IS NOT NULL OR v_family_name IS NOT NULL)",
        "birth_date": "v_birth_date IS NOT NULL",
        "postcode": "v_postcode IS NOT NULL",
        "nhs_number": "v_nhs_number IS NOT NULL",
        "upn": "v_upn IS NOT NULL",
    }
    assert tuple(present) == PARTNER_IDENTIFIERS
    count = " + ".join(f"CAST({expr} AS INTEGER)" for expr in present.values())
    return (
        f"CASE WHEN {count} < {MIN_PARTNER_IDENTIFIERS} THEN 'fewer than {MIN_PARTNER_IDENTIFIERS} of "
        f"{', '.join(PARTNER_IDENTIFIERS)}: too little to link the record to anyone' END"
    )


def nhs_number_valid_sql(value: str) -> str:
    """SQL: ``value`` (spaces allowed) is 10 digits whose check digit passes the modulus 11 rule.

    Weights 10..2 on the first nine digits; check = 11 − (sum mod 11), 11 → 0, 10 is never valid.
    """
    digits = f"replace({value}, ' ', '')"
    weighted = " + ".join(f"TRY_CAST(substr({digits}, {i}, 1) AS INTEGER) * {11 - i}" for i in range(1, 10))
    check = f"(11 - (({weighted}) % 11))"
    return (
        f"(regexp_full_match({digits}, '[0-9]{{10}}') AND "
        f"CASE WHEN regexp_full_match({digits}, '[0-9]{{10}}') THEN "
        f"(CASE {check} WHEN 11 THEN 0 ELSE {check} END) = TRY_CAST(substr({digits}, 10, 1) AS INTEGER) END)"
    )


def prepared_sql(table: Table, raw: str) -> str:
    """Trimmed values (``v_<col>``) and typed values (``t_<col>``) of a raw VARCHAR table."""
    values = ", ".join(f"NULLIF(trim({_ident(c.name)}), '') AS v_{c.name}" for c in table.columns)
    typed = ", ".join(f"{typed_sql(c, 'v_' + c.name)} AS t_{c.name}" for c in table.columns)
    extra = ""
    if table.name == "partner_people":
        extra = f", {compact_postcode_sql('v_postcode')} AS postcode_compact"
    if table.name == "citizens":
        compact = compact_postcode_sql("v_postcode")
        extra = (
            f", {compact} AS postcode_compact, "
            f"{district_sql(compact_postcode_sql('v_postcode'))} AS postcode_district"
        )
    return (
        f"SELECT *, {typed}{extra} FROM (SELECT row_number, {values} FROM {raw})"
    )


def row_reason_sql(table: Table, ctx: CheckContext) -> str:
    """COALESCE of every row rule: the first rule the row breaks, or NULL."""
    rules: list[str] = []
    for column in table.columns:
        rules += column_rules(column, f"v_{column.name}", f"t_{column.name}", ctx.extract_date)
    rules += table_rules(table, ctx)
    return "COALESCE(" + ",\n  ".join(rules) + ")"


def reference_reason_sql(ref: Reference, alias: str) -> str:
    """Reason for a reference that resolves to nothing accepted."""
    value = f"v_{ref.column}"
    if ref.explained:
        return (
            f"CASE WHEN {value} IS NOT NULL AND {alias}.{ref.id_column} IS NULL THEN "
            f"'{ref.column} ' || {_show(value)} || CASE WHEN {alias}.reason IS NOT NULL THEN ' ' || {alias}.reason "
            f"ELSE ' is not in {ref.table}' END END"
        )
    return (
        f"CASE WHEN {value} IS NOT NULL AND {alias}.{ref.id_column} IS NULL THEN "
        f"CASE WHEN {alias}.first_row IS NOT NULL THEN "
        f"'{ref.column} ' || {_show(value)} || ' was quarantined in {ref.table} (row ' || "
        f"{alias}.first_row || ': ' || {alias}.reason || ')' "
        f"ELSE '{ref.column} ' || {_show(value)} || ' is not in {ref.table}' END END"
    )


def checked_sql(
    table: Table,
    raw: str,
    ctx: CheckContext,
    references: Sequence[Reference] = (),
) -> str:
    """SELECT of ``row_number``, ``reason`` (row rules, then references) and typed columns.

    Output columns: ``row_number``, ``reason``, one ``t_<col>`` per contract column except
    reference columns, which are replaced by the integer id they resolve to
    (``Reference.id_column``). Duplicates are marked afterwards by
    :func:`duplicates_update_sql`.
    """
    joins = []
    reasons = [row_reason_sql(table, ctx)]
    ids = []
    for i, ref in enumerate(references):
        alias = f"ref{i}"
        joins.append(f"LEFT JOIN {ref.lookup} {alias} ON {alias}.value = {ref.value.replace('v_', 'p.v_')}")
        reasons.append(reference_reason_sql(ref, alias))
        ids.append(f"{alias}.{ref.id_column}" + (f" AS {ref.column}_{ref.id_column}" if ref.explained else ""))
    referring = {ref.column for ref in references}
    typed = [f"t_{c.name}" for c in table.columns if c.name not in referring]
    extra = {"citizens": ["postcode_compact", "postcode_district"], "partner_people": ["postcode_compact"]}.get(
        table.name, [])
    columns = ", ".join(["row_number", f"COALESCE({', '.join(reasons)}) AS reason"] + typed + extra + ids)
    return f"SELECT {columns}\nFROM ({prepared_sql(table, raw)}) p\n" + "\n".join(joins)


def duplicates_update_sql(checked: str, key: Sequence[str]) -> str:
    """UPDATE marking the 2nd+ accepted row per key as a duplicate of the first.

    Candidate keys are found by hashing (one cheap aggregate over the whole table); only the
    rows behind a repeated hash are compared exactly, so a hash collision never marks a row.
    """
    cols = ", ".join(f"t_{k}" for k in key)
    shown = " || ' + ' || ".join(f"'{k} ' || {_show('t_' + k)}" for k in key)
    return f"""
UPDATE {checked} SET reason = d.reason FROM (
  WITH repeated AS (
    SELECT hash({cols}) AS h FROM {checked} WHERE reason IS NULL GROUP BY h HAVING count(*) > 1
  ), ranked AS (
    SELECT row_number, {cols}, min(row_number) OVER (PARTITION BY {cols}) AS first_row
    FROM {checked} WHERE reason IS NULL AND hash({cols}) IN (SELECT h FROM repeated)
  )
  SELECT row_number, 'duplicate ' || {shown} || ' (first seen at row ' || first_row || ')' AS reason
  FROM ranked WHERE row_number > first_row
) d WHERE {checked}.row_number = d.row_number"""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
