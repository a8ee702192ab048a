"""The linkage model as data: Splink settings that run unchanged on DuckDB or Spark.

Fellegi–Sunter over a partner record and a master index record. Comparisons, in order of
how much they usually tell: NHS number and UPN (exact agreement, where both hold one),
given name (exact, with term-frequency adjustment so that agreeing on `Olivia` counts less
than on `Agnieszka`; then nickname-canonical agreement; then Jaro–Winkler), family name
(exact with term frequencies, then Jaro–Winkler), date of birth (exact; day and month
swapped; one edit; same year), residence (postcode and first line of address together: same
home, same postcode, same address with another postcode, same district) and sex. m probabilities are trained by expectation maximisation on two blocking rules
(each trains the comparisons it does not block on), u probabilities on a fixed sample of random
pairs (:func:`u_sample`). Every sample is drawn by integer arithmetic on the record numbers, so
DuckDB and Spark train the same model from the same pairs.

Only Splink's public API is used (``splink``, ``splink.comparison_library``, ``splink.blocking_rule_library``,
``splink.comparison_level_library``), and only dialect-neutral SQL in custom levels, so the
scale-out issue can hand the same :func:`settings` to ``SparkAPI``.
"""

from __future__ import annotations

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule

#: Columns both sides provide to Splink (prepared by ``features.linkage.prepared_sql``).
COLUMNS = ("unique_id", "given_name", "given_canonical", "family_name", "birth_date", "birth_date_block",
           "birth_date_initial", "birth_year", "sex",
           "postcode", "address", "nhs_number", "upn")

#: Every level's label is plain words: Splink's charts and the data steward's page both show it
#: (``features.linkage.level_descriptions``), so a reader need not know Jaro–Winkler to follow.
SAME = "the same"
DIFFERENT = "different"
BLANK = "blank on one side, not compared"

_SWAPPED = ("substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) AND "
            "substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2) AND "
            "substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)")


def settings(probability_two_random_records_match: float = 1e-5) -> SettingsCreator:
    """The linkage model (untrained): comparisons and the blocking rules that make candidate pairs.

    Blocking rules, each a cheap equality join: NHS number; UPN; date of birth with the given
    name's initial (unless the date is crowded: ``MAX_BLOCK``); postcode;
    family name with given name and birth year (catches a day/month swap with a move).
    """
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=probability_two_random_records_match,
        blocking_rules_to_generate_predictions=prediction_blocking_rules(),
        comparisons=[
            exact("nhs_number"),
            exact("upn"),
            cl.CustomComparison(
                output_column_name="given_name",
                comparison_levels=[
                    cll.NullLevel("given_name").configure(label_for_charts=BLANK),
                    cll.ExactMatchLevel("given_name").configure(tf_adjustment_column="given_name",
                                                                label_for_charts=SAME),
                    cll.ExactMatchLevel("given_canonical").configure(label_for_charts="nickname of the same name"),
                    cll.JaroWinklerLevel("given_name", 0.9).configure(label_for_charts="similar (Jaro-Winkler ≥ 0.9)"),
                    cll.ElseLevel().configure(label_for_charts=DIFFERENT),
                ],
            ),
            cl.CustomComparison(
                output_column_name="family_name",
                comparison_levels=[
                    cll.NullLevel("family_name").configure(label_for_charts=BLANK),
                    cll.ExactMatchLevel("family_name").configure(tf_adjustment_column="family_name",
                                                                 label_for_charts=SAME),
                    cll.JaroWinklerLevel("family_name", 0.9).configure(label_for_charts="similar (Jaro-Winkler ≥ 0.9)"),
                    cll.ElseLevel().configure(label_for_charts=DIFFERENT),
                ],
            ),
            cl.CustomComparison(
                output_column_name="birth_date",
                comparison_levels=[
                    cll.NullLevel("birth_date").configure(label_for_charts=BLANK),
                    cll.ExactMatchLevel("birth_date").configure(label_for_charts=SAME),
                    cll.CustomLevel(_SWAPPED, label_for_charts="day and month swapped"),
                    cll.DamerauLevenshteinLevel("birth_date", 1).configure(
                        label_for_charts="one digit different or two swapped"),
                    cll.ExactMatchLevel("birth_year").configure(label_for_charts="same year only"),
                    cll.ElseLevel().configure(label_for_charts=DIFFERENT),
                ],
            ),
            residence(),
            exact("sex"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=True,
    )


def exact(column: str) -> cl.CustomComparison:
    """Agreement on one identifier, exact or not at all (``cl.ExactMatch`` with plain-word labels)."""
    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[
            cll.NullLevel(column).configure(label_for_charts=BLANK),
            cll.ExactMatchLevel(column).configure(label_for_charts=SAME),
            cll.ElseLevel().configure(label_for_charts=DIFFERENT),
        ],
    )


def residence() -> cl.CustomComparison:
    """Postcode and first line of address as one comparison: they change together when people move.

    As two comparisons a move would be punished twice and a shared home (every member of a
    household) rewarded twice, which is what made whole families look like one person.
    """
    district = "substr({side}, 1, length({side}) - 4)"  # postcodes are normalised to 'OUT INW'
    return cl.CustomComparison(
        output_column_name="residence",
        comparison_levels=[
            cll.CustomLevel("(postcode_l IS NULL OR postcode_r IS NULL) AND (address_l IS NULL OR address_r IS NULL)")
            .configure(is_null_level=True, label_for_charts=BLANK),
            cll.And(cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("address", 0.9))
            .configure(label_for_charts="same home (same postcode, similar address)"),
            cll.ExactMatchLevel("postcode").configure(label_for_charts="same postcode, address differs or blank"),
            cll.JaroWinklerLevel("address", 0.95).configure(label_for_charts="similar address (Jaro-Winkler ≥ 0.95), postcode differs"),
            cll.CustomLevel(f"{district.format(side='postcode_l')} = {district.format(side='postcode_r')}",
                            label_for_charts="same postcode district"),
            cll.ElseLevel().configure(label_for_charts="different homes, other districts"),
        ],
    )


#: A date of birth held by more master (or partner) records than this is not a blocking key
#: (``birth_date_block`` is blank for it): a placeholder or clamped date says nothing, and the
#: 1.4M synthetic county has one date held by 19,230 residents and 20,127 partner records —
#: 387M pairs from one key. Such records are still paired by postcode and by name.
MAX_BLOCK = 1_000


def same_birth_date() -> CustomRule:
    """Pairs born on the same day whose canonical given names share an initial, unless the day is
    crowded (``birth_date_block`` blank).

    The date alone pairs everyone born that day: about n²/30,000 pairs, 68M of the 1.4M county's
    94M; the initial (a nickname counts as its formal name) cuts that about fifteenfold, and a
    record with a moved home and a misspelt family name still meets its person here.
    """
    return CustomRule("l.birth_date = r.birth_date AND l.birth_date_initial = r.birth_date_initial")


def same_birth_date_and_postcode() -> CustomRule:
    """EM's first session: same day (not crowded) and same postcode; it trains the names.

    It names ``birth_date`` and ``postcode`` themselves, not only the block columns: Splink leaves
    untrained in an EM session the comparisons whose columns the session's blocking rule uses,
    and a rule on block columns alone would train the date on pairs that all agree on it.
    """
    return CustomRule("l.birth_date = r.birth_date AND l.birth_date_block = r.birth_date_block "
                      "AND l.postcode = r.postcode")


def prediction_blocking_rules() -> list:
    return [
        block_on("nhs_number"),
        block_on("upn"),
        same_birth_date(),
        block_on("postcode"),
        block_on("family_name", "given_canonical", "birth_year"),
    ]


#: Pairs EM's names session is given at most. EM estimates the share of each comparison level
#: among matches, which a fair sample of pairs estimates as well as all of them; the names alone
#: pair 739M records of the 1.4M county (9,220 residents named Olivia Smith), which EM cannot
#: iterate over in minutes. Counties up to about 100k stay under it and use every pair.
EM_NAME_PAIRS = 5_000_000


def same_names(sample_every: int = 1) -> CustomRule:
    """EM's second session: same family name and canonical given name; it trains the date and the
    residence. With ``sample_every`` > 1, only pairs whose mixed pair of record numbers
    (:func:`pair_key`) is a multiple of it: a fixed, reproducible sample that does not depend on
    whether the pair is a match, even where a partner numbers its records in the master index's
    order (a sum or a difference of the numbers would then keep all or none of the matches), and
    the same sample on DuckDB and on Spark."""
    rule = "l.family_name = r.family_name AND l.given_canonical = r.given_canonical"
    if sample_every > 1:
        rule += f" AND {pair_key('l.unique_id', 'r.unique_id')} % {sample_every} = 0"
    return CustomRule(rule)


#: The prime every sampling key is reduced by (2^31 - 1). Keys are integer arithmetic on the
#: record numbers, not an engine's ``hash()``: DuckDB's and Spark's hash functions differ, so a
#: sample drawn with one would train another model on the other engine.
KEY_PRIME = 2_147_483_647
#: Multipliers of the keys (odd, below 2^30, so no product of a number below 2^31 overflows a BIGINT).
_PAIR_MULTIPLIERS = (1_013_904_223, 664_525)
_ROW_MULTIPLIERS = (48_271, 69_621)


def _squared(key: str) -> str:
    """``key`` (in [0, KEY_PRIME)) squared modulo the prime: the step that makes a linear key look random."""
    return f"(({key}) * ({key}) % {KEY_PRIME})"


def pair_key(left: str, right: str) -> str:
    """SQL for a number in [0, KEY_PRIME) that looks random in a pair of record numbers.

    ``left`` and ``right`` are SQL expressions for non-negative integers below 2^31 (the build's
    ids). ``a·l + b·r`` modulo the prime, then squared modulo the prime: linear alone, a pair
    pattern such as ``r = l + k`` (a partner numbering its records in the council's order)
    would step through the keys regularly; squared, it does not. Integer arithmetic only, so
    DuckDB and Spark compute the same key (a property test checks the spread).
    """
    a, b = _PAIR_MULTIPLIERS
    return _squared(f"(CAST({left} AS BIGINT) * {a} + CAST({right} AS BIGINT) * {b}) % {KEY_PRIME}")


def row_key(column: str, side: int, seed: int = 1) -> str:
    """SQL for a number in [0, KEY_PRIME) that looks random in one record number, per side and seed.

    Each side has its own multiplier, so a master record and its partner record (often numbered
    alike) are kept or left out independently.
    """
    return _squared(f"(CAST({column} AS BIGINT) * {_ROW_MULTIPLIERS[side]} + {int(seed)}) % {KEY_PRIME}")


#: Random pairs u is estimated on, about: Splink's ``estimate_u_using_random_sampling(max_pairs=2e6)``
#: drew records on each side so that about this many master × partner pairs were compared.
U_PAIRS = 1_000_000


def u_sample_share(n_master: int, n_partner: int) -> float:
    """The share of records kept on each side so that about ``U_PAIRS`` pairs remain (1: all of them)."""
    return min(1.0, (U_PAIRS / max(1, n_master * n_partner)) ** 0.5)


def u_sample(column: str, side: int, share: float, seed: int = 1) -> str:
    """SQL condition keeping a fixed ``share`` of one side's records for estimating u (:func:`row_key`)."""
    if share >= 1.0:
        return "TRUE"
    return f"{row_key(column, side, seed)} < {int(share * KEY_PRIME)}"


def names_sample_every(name_pairs: int) -> int:
    """The sampling step that brings the names session's ``name_pairs`` within ``EM_NAME_PAIRS``."""
    return max(1, -(-name_pairs // EM_NAME_PAIRS))


def training_blocking_rules(name_pairs: int = 0) -> list:
    """EM sessions: blocking on date of birth and postcode trains the names, NHS number, UPN and sex;
    blocking on names (sampled when they make more than ``EM_NAME_PAIRS`` pairs) trains the date and
    the residence (and those three again)."""
    return [same_birth_date_and_postcode(), same_names(names_sample_every(name_pairs))]


def deterministic_rules() -> list:
    """Pairs that are almost surely the same person, to estimate the prior match probability."""
    return [block_on("nhs_number"), block_on("given_name", "family_name", "birth_date")]
