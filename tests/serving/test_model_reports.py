"""The recommender's fairness report as the analyst reads it: one table per characteristic,
small groups left out and counted."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.domain.model_reports import CHARACTERISTICS, fairness_tables

group_rows = st.fixed_dictionaries({
    "characteristic": st.sampled_from(sorted(CHARACTERISTICS)),
    "group": st.text(alphabet="ABCDEFGH0123456789-", min_size=1, max_size=6),
    "citizens": st.integers(1, 5_000),
    "ndcg@10": st.floats(0, 1),
    "recall@10": st.floats(0, 1),
    "coverage@10": st.floats(0, 1),
    "personalised share": st.floats(0, 1),
})


@settings(max_examples=60, deadline=None)  # pandas under a loaded machine, not a timing test
@given(rows=st.lists(group_rows, max_size=40), smallest=st.integers(1, 50))
def test_small_groups_are_left_out_and_counted(rows, smallest) -> None:
    report = pd.DataFrame(rows, columns=["characteristic", "group", "citizens", "ndcg@10", "recall@10",
                                         "coverage@10", "personalised share"])
    tables = {t.characteristic: t for t in fairness_tables(report, min_citizens=smallest)}
    present = set(report["characteristic"])
    assert set(tables) == {CHARACTERISTICS[c] for c in present}
    for column in present:
        part = report[report["characteristic"] == column]
        table = tables[CHARACTERISTICS[column]]
        assert len(table.rows) == int((part["citizens"] >= smallest).sum())
        assert table.suppressed == int((part["citizens"] < smallest).sum())
        assert all(int(r.citizens.replace(",", "")) >= smallest for r in table.rows)


def test_groups_read_in_plain_words_with_rounded_figures() -> None:
    report = pd.DataFrame([
        {"characteristic": "sex", "group": "F", "citizens": 1234, "ndcg@10": 0.3456, "recall@10": 0.5,
         "coverage@10": 0.5049, "personalised share": 0.7351},
        {"characteristic": "sex", "group": "X", "citizens": 9, "ndcg@10": 0.9, "recall@10": 0.9,
         "coverage@10": 0.1, "personalised share": 1.0},
        {"characteristic": "imd_decile", "group": "1", "citizens": 40, "ndcg@10": 0.2, "recall@10": 0.3,
         "coverage@10": 0.25, "personalised share": 0.5},
    ])
    decile, sex = fairness_tables(report, min_citizens=10)  # in CHARACTERISTICS order
    assert decile.characteristic == "Deprivation decile (1 = most deprived)" and sex.characteristic == "Sex"
    assert [(r.group, r.citizens, r.ndcg, r.coverage, r.personalised) for r in sex.rows] == [
        ("Female", "1,234", "0.35", "50%", "74%")]
    assert sex.suppressed == 1 and decile.suppressed == 0
