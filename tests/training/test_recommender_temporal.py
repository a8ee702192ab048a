"""The split models are chosen by mirrors deployment: nothing at or after T is in what they fit on."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.matrices import csr_from_sorted, interactions_sql
from recommender.evaluation import new_services
from training.recommender import load_processed, search_rows, temporal_split

from .recommender_fixtures import write_processed

SPLIT = date(2026, 7, 1)
AS_OF = date(2026, 9, 30)

events_strategy = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(-200 * 24 * 60, 95 * 24 * 60)),  # cid, col, minutes from T
    min_size=1, max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(events=events_strategy)
def test_no_validation_event_at_or_after_t_reaches_training(events) -> None:
    """Build the matrices with the features SQL from timed events; check the split cell by cell."""
    t = datetime(SPLIT.year, SPLIT.month, SPLIT.day)
    frame = pd.DataFrame(
        [(cid, col, "libraries", "loan", t + timedelta(minutes=m)) for cid, col, m in events],
        columns=["cid", "col", "source", "event_type", "occurred_at"],
    )
    frame = frame[frame["occurred_at"] < datetime(AS_OF.year, AS_OF.month, AS_OF.day) + timedelta(days=1)]
    con = duckdb.connect()
    con.register("timed_events", frame)
    con.register("people", pd.DataFrame({"cid": range(6), "row": range(6)}))
    query = interactions_sql("timed_events", "people", weights={"loan": 1.0}, sources=["libraries"],
                             split_date=SPLIT, as_of=AS_OF, half_life_days=180.0)
    out = con.execute(query).df()
    shape = (6, 4)
    row, col = out["row"].to_numpy(np.int64), out["col"].to_numpy(np.int64)
    train = csr_from_sorted(row, col, out["train"].to_numpy(np.float64), shape)
    test = csr_from_sorted(row, col, out["test"].to_numpy(np.float64), shape)
    relevant = new_services(train, test)
    before = {(c, s) for c, s, when in frame[["cid", "col", "occurred_at"]].itertuples(index=False) if when < t}
    after = {(c, s) for c, s, when in frame[["cid", "col", "occurred_at"]].itertuples(index=False) if when >= t}
    assert set(zip(*train.nonzero(), strict=True)) == before  # training holds only events before T
    assert set(zip(*relevant.nonzero(), strict=True)) == after - before  # validation: new after T


def test_temporal_split_is_the_promotion_split_restricted_to_rows(tmp_path) -> None:
    data = load_processed(write_processed(tmp_path / "processed", n_citizens=300))
    everyone = temporal_split(data)
    assert (everyone.fit != data.train).nnz == 0
    assert (everyone.relevant != new_services(data.train, data.test)).nnz == 0
    assert everyone.relevant.multiply(everyone.fit).nnz == 0  # nothing to find is already in the history
    sample = search_rows(data, 120)
    part = temporal_split(data, sample)
    assert len(sample) == 120 and (part.fit != data.train[sample]).nnz == 0
    assert (part.relevant != everyone.relevant[sample]).nnz == 0
    assert (part.allowed == data.allowed[sample]).all() and (part.segments == data.segments[sample]).all()
