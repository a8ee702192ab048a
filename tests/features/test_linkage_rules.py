"""The outcome rules of linkage and the NHS number check, without running a build."""

from __future__ import annotations

import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.linkage import Thresholds, decide, uncrowd_birth_dates
from features.linkage_model import (
    EM_NAME_PAIRS,
    KEY_PRIME,
    names_sample_every,
    pair_key,
    same_names,
    u_sample,
    u_sample_share,
)
from features.validate import nhs_number_valid_sql

T = Thresholds(link=0.99, review=0.5)  # stricter than the default: the cases below sit near it


def test_each_record_gets_one_outcome_by_the_thresholds_and_ambiguity():
    records = pd.DataFrame({"record": [1, 2, 3, 4, 5], "source": ["nhs"] * 5})
    candidates = pd.DataFrame({"record": [1, 2, 3, 3, 4], "person": [10, 20, 30, 31, 40],
                               "match_probability": [0.999, 0.7, 0.995, 0.993, 0.1],
                               "match_weight": [20.0, 1.0, 18.0, 12.0, -3.0]})
    out = decide(candidates, records, T).set_index("record")
    assert out["outcome"].to_dict() == {1: "linked", 2: "review", 3: "review", 4: "unlinked", 5: "unlinked"}
    assert out.loc[5, "match_probability"] == 0.0


def test_steward_decisions_win():
    records = pd.DataFrame({"record": [1, 2], "source": ["police"] * 2})
    candidates = pd.DataFrame({"record": [1, 1, 2], "person": [10, 11, 20], "match_probability": [0.999, 0.6, 0.7],
                               "match_weight": [20.0, 1.0, 2.0]})
    decisions = pd.DataFrame({"record": [1, 2], "person": [10, 20], "decision": ["reject", "accept"]})
    out = decide(candidates, records, T, decisions).set_index("record")
    assert out.loc[1, "outcome"] == "review" and out.loc[1, "person"] == 11
    assert out.loc[2, "outcome"] == "linked" and out.loc[2, "decided_by"] == "steward"


def test_nhs_number_modulus_11():
    con = duckdb.connect()
    check = nhs_number_valid_sql("v")
    assert con.execute(f"SELECT {check} FROM (SELECT '943 476 5919' AS v)").fetchall()[0][0]
    assert not con.execute(f"SELECT {check} FROM (SELECT '9434765918' AS v)").fetchall()[0][0]
    assert not con.execute(f"SELECT {check} FROM (SELECT '12345' AS v)").fetchall()[0][0]


@st.composite
def linkage_cases(draw):
    n_records = draw(st.integers(1, 12))
    records = pd.DataFrame({"record": range(n_records),
                            "source": draw(st.lists(st.sampled_from(["nhs", "police"]), min_size=n_records,
                                                    max_size=n_records))})
    pairs = draw(st.lists(st.tuples(st.integers(0, n_records - 1), st.integers(0, 5),
                                    st.floats(0.0, 1.0), st.floats(-20, 40)), max_size=30,
                          unique_by=lambda t: (t[0], t[1])))
    candidates = pd.DataFrame(pairs, columns=["record", "person", "match_probability", "match_weight"])
    decisions = pd.DataFrame(draw(st.lists(st.tuples(st.integers(0, n_records - 1), st.integers(0, 5),
                                                     st.sampled_from(["accept", "reject"])), max_size=4,
                                           unique_by=lambda t: t[0])),
                             columns=["record", "person", "decision"]).astype({"record": "int64", "person": "int64"})
    return records, candidates.astype({"record": "int64", "person": "int64"}), decisions


@settings(max_examples=60, deadline=None)
@given(case=linkage_cases())
def test_outcome_invariants(case):
    records, candidates, decisions = case
    out = decide(candidates, records, T, decisions)
    # every record exactly one outcome
    assert sorted(out["record"]) == sorted(records["record"])
    assert set(out["outcome"]) <= {"linked", "review", "unlinked"}
    linked = out[out["outcome"] == "linked"]
    # a link is confident: a steward's acceptance, or above the threshold and clear of the runner-up
    assert linked["confident"].all()
    by_model = linked[linked["decided_by"] == "model"]
    assert (by_model["match_probability"] >= T.link).all() and (by_model["margin_bits"] >= T.margin_bits).all()
    # two records of one source share a master person only if both are confident
    assert linked.groupby(["source", "person"])["confident"].all().all()
    # a rejected pair never links
    rejected = decisions[decisions["decision"] == "reject"]
    merged = linked.merge(rejected, on=["record", "person"])
    assert merged.empty
    # unlinked records have no candidate at or above the review threshold
    unlinked = out[out["outcome"] == "unlinked"]
    assert (unlinked["match_probability"] < T.review).all()


@given(st.lists(st.sampled_from(["2008-10-04", "1990-01-02", "1971-12-30", None]), max_size=30),
       st.lists(st.sampled_from(["2008-10-04", "1990-01-02", None]), max_size=30), st.integers(1, 6))
@settings(max_examples=60, deadline=None)
def test_a_crowded_date_of_birth_is_no_blocking_key_on_either_side(master, partner, limit):
    con = duckdb.connect()
    for name, dates in (("m", master), ("p", partner)):
        con.execute(f"CREATE TABLE {name} (birth_date VARCHAR, birth_date_block VARCHAR)")
        for born in dates:
            con.execute(f"INSERT INTO {name} VALUES (?, ?)", [born, born])
    uncrowd_birth_dates(con, ("m", "p"), limit)
    crowded = {d for d in set(master) | set(partner)
               if d is not None and max(master.count(d), partner.count(d)) > limit}
    for name in ("m", "p"):
        for born, block in con.execute(f"SELECT birth_date, birth_date_block FROM {name}").fetchall():
            assert block == (None if born in crowded else born)


@given(st.integers(0, 10**10))
def test_the_names_session_is_sampled_within_its_budget(name_pairs):
    every = names_sample_every(name_pairs)
    assert -(-name_pairs // every) <= EM_NAME_PAIRS  # the pairs it keeps, rounded up, fit the budget
    assert every == 1 or -(-name_pairs // (every - 1)) > EM_NAME_PAIRS  # and it samples no harder than it must


def test_the_sampled_names_rule_keeps_every_nth_pair_whoever_matches():
    # 400 master and 400 partner records all named alike: 160,000 pairs, 400 of them matches,
    # numbered in the same order on both sides (the partner's record i is the master's i + 7)
    con = duckdb.connect()
    con.execute("CREATE TABLE l AS SELECT i::BIGINT AS unique_id, 'smith' AS family_name, "
                "'olivia' AS given_canonical FROM range(400) t(i)")
    con.execute("CREATE TABLE r AS SELECT (i + 7)::BIGINT AS unique_id, 'smith' AS family_name, "
                "'olivia' AS given_canonical FROM range(400) t(i)")
    for every in (1, 2, 4, 8):
        condition = same_names(every).get_blocking_rule("duckdb").blocking_rule_sql
        kept = con.execute(f"SELECT r.unique_id = l.unique_id + 7 FROM l, r WHERE {condition}").fetchall()
        assert abs(len(kept) - 160_000 / every) < 0.05 * 160_000 / every
        matches = sum(1 for (same,) in kept if same)
        assert abs(matches - 400 / every) < 0.3 * 400 / every  # matches are sampled like everyone else


@given(st.integers(0, 2**31 - 10_000), st.integers(-2_000, 2_000), st.integers(2, 20))
@settings(max_examples=60, deadline=None)
def test_the_pair_key_samples_matched_pairs_like_the_rest_whatever_the_numbering(start, offset, every):
    # 5,000 matched pairs numbered alike on both sides (r = l + offset, anywhere in the id range),
    # and every pair of 300 x 300 records: each keeps about one in `every`
    con = duckdb.connect()
    first = max(start, -offset)
    matched = con.execute(f"""SELECT count(*) FROM (SELECT i AS l, i + {offset} AS r FROM range({first}, {first} + 5000) t(i))
                              WHERE {pair_key('l', 'r')} % {every} = 0""").fetchall()[0][0]
    assert abs(matched - 5_000 / every) < 0.3 * 5_000 / every
    crossed = con.execute(f"""SELECT count(*) FROM range({start}, {start} + 300) a(l), range({first}, {first} + 300) b(r)
                              WHERE {pair_key('l', 'r')} % {every} = 0""").fetchall()[0][0]
    assert abs(crossed - 90_000 / every) < 0.1 * 90_000 / every


def test_the_pair_key_is_integer_arithmetic_within_a_bigint():
    # the largest ids the build makes (below 2^31) stay inside BIGINT, and the key inside [0, prime)
    con = duckdb.connect()
    top = 2**31 - 1
    keys = con.execute(f"SELECT {pair_key(str(top), str(top))}, {pair_key('0', str(top))}, {pair_key('0', '0')}").fetchall()[0]
    assert all(0 <= k < KEY_PRIME for k in keys)


@given(st.integers(0, 2**31 - 30_000), st.integers(-1_000, 1_000), st.floats(0.1, 0.9), st.integers(1, 1_000))
@settings(max_examples=60, deadline=None)
def test_the_u_sample_keeps_its_share_of_each_side_independently(start, offset, share, seed):
    # 20,000 master records i and partner records i + offset (a partner numbering like the council)
    con = duckdb.connect()
    first = max(start, -offset)
    master, partner, both = con.execute(f"""
SELECT count(*) FILTER (WHERE {u_sample('l', 0, share, seed)}), count(*) FILTER (WHERE {u_sample('r', 1, share, seed)}),
       count(*) FILTER (WHERE {u_sample('l', 0, share, seed)} AND {u_sample('r', 1, share, seed)})
FROM (SELECT i AS l, i + {offset} AS r FROM range({first}, {first} + 20000) t(i))""").fetchall()[0]
    for kept in (master, partner):
        assert abs(kept - 20_000 * share) < 0.1 * 20_000 * share
    assert abs(both - 20_000 * share**2) < 0.3 * 20_000 * share**2  # a record and its match are kept independently


@given(st.integers(1, 10**7), st.integers(1, 10**7))
def test_the_u_sample_is_about_a_million_pairs_or_everything(n_master, n_partner):
    share = u_sample_share(n_master, n_partner)
    assert 0 < share <= 1
    if share < 1:
        assert abs(n_master * share * n_partner * share - 1_000_000) < 1
    else:
        assert n_master * n_partner <= 1_000_000
        assert u_sample("unique_id", 0, share) == "TRUE"


_TEXT = st.text(alphabet=st.sampled_from("aabbcdeéno -'ł"), max_size=90)


@given(st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=200))
@settings(max_examples=80, deadline=None)
def test_the_spark_jaro_winkler_is_duckdbs(pairs):
    # Spark's linkage uses features.engine.jaro_winkler for Splink's jaro_winkler: it must give
    # DuckDB's value to the last bit, or the two engines' comparison levels could differ
    from features.engine import jaro_winkler

    con = duckdb.connect()
    con.register("pairs", pd.DataFrame(pairs, columns=["a", "b"]))
    expected = [row[0] for row in con.execute("SELECT jaro_winkler_similarity(a, b) FROM pairs").fetchall()]
    assert [jaro_winkler(a, b) for a, b in pairs] == expected


def test_the_spark_jaro_winkler_on_names_that_split_the_implementations():
    from features.engine import jaro_winkler

    con = duckdb.connect()
    for left, right in (("noah", "thomas"), ("nathan", "natalie"), ("martha", "marhta"), ("dwayne", "duane"),
                        ("a", "a"), ("a", "b"), ("", "abc"), ("161 hawthorn drive", "188 north drive")):
        assert jaro_winkler(left, right) == con.execute(
            "SELECT jaro_winkler_similarity(?, ?)", [left, right]).fetchall()[0][0], (left, right)
