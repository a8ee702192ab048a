"""Row accounting adds up for random mixes of good and bad rows; every bad row is quarantined."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

#: Values that break each column's rule (one is enough to quarantine the row).
BAD = {
    "citizens": {"birth_date": "31/12/1990", "sex": "woman", "postcode": "ZZ1 1ZZ", "imd_decile": "eleven"},
    "services": {"active": "yes", "min_age": "-3", "districts": "everywhere"},
    "events": {"occurred_at": "2026/01/01", "event_type": "visit", "source": "bank", "person_id": "NOBODY"},
    "consents": {"purpose": "everything", "recorded_at": "2035-01-01T00:00:00", "method": "telepathy"},
    "outcomes": {"outcome": "jail"},
    "caseloads": {"household_id": "NOWHERE", "start_date": "1st May"},
}

faults = st.lists(
    st.sampled_from(sorted(BAD)).flatmap(
        lambda table: st.tuples(st.just(table), st.integers(0, 100), st.sampled_from(sorted(BAD[table])))
    ),
    max_size=12,
)
extra_good_events = st.integers(0, 30)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults=faults, extra=extra_good_events)
def test_rows_read_equal_accepted_plus_quarantined(run_build, tiny_tables, faults, extra):
    tables = copy.deepcopy(tiny_tables)
    for i in range(extra):
        template = tables["events"][i % len(tables["events"])]
        tables["events"].append(dict(template, event_id=f"X{i}"))
    broken: dict[str, set[int]] = {}
    for table, index, column in faults:
        rows = tables[table]
        index %= len(rows)
        rows[index][column] = BAD[table][column]
        broken.setdefault(table, set()).add(index + 1)
    built = run_build(tables)
    for name in tables:  # the tables this extract holds (partner_people is optional)
        counts = built.manifest["rows"][name]
        assert counts["read"] == len(tables[name])
        assert counts["read"] == counts["accepted"] + counts["quarantined"]
        reasons = built.reasons(name)
        assert len(reasons) == counts["quarantined"]
        assert broken.get(name, set()) <= set(reasons)
        assert all(reasons.values())
