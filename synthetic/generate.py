"""Write a synthetic Hampshire county in the partner extract format, with its ground truth.

The county is generated in chunks of residents (whole households), each from its own
`SeedSequence` child, and appended to one file per table, so memory stays bounded and the
output for a seed is byte-identical however it is run. `truth/` holds what only evaluation
code may read: latent needs, the true probability of using each service in the final three
months, each child's true early-help probability in the last two six-month windows, and
the list of injected faults.
"""

from __future__ import annotations

import csv
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.table import Table

from features.contract import (
    CONSENT_METHODS,
    CONSENT_STATUS,
    DISABILITY,
    ETHNICITY,
    EVENT_TYPES,
    OUTCOMES,
    PURPOSES,
    SEX,
    TABLES,
    tables_in,
)
from features.geography import AUTHORITIES
from signpost.errors import UserError
from signpost.progress import make_progress
from synthetic import partners as partners_mod
from synthetic import text
from synthetic.areas import districts as load_districts
from synthetic.calendar import blocks as make_blocks
from synthetic.calendar import day_number, from_day_number, months_before
from synthetic.caseloads import generate_caseloads
from synthetic.catalogue import NEEDS, Service, catalogue
from synthetic.consents import generate_consents
from synthetic.extract_files import NpyAppender, TableWriter, TypedParquetWriter
from synthetic.faults import FAULT_COLUMNS, QUARANTINED, faults_by_table, inject
from synthetic.population import CHILD, HOUSEHOLD_TYPES, ROLES, generate_population
from synthetic.usage import service_arrays, simulate

#: Residents per chunk. Fixed, so that the county for a seed never depends on the machine.
CHUNK_CITIZENS = 50_000
#: The calibration population is the same for every seed.
REFERENCE_SEED = 20_260_930
REFERENCE_CITIZENS = 20_000
#: Share of event faults that are duplicated rows.
DUPLICATE_SHARE = 0.3

SOURCE_PREFIX = {
    "libraries": "LIB",
    "leisure": "LEI",
    "revenues": "REV",
    "voluntary": "VOL",
    "council": "HCC",
    "housing": "HSG",
    "fire": "FRS",
    "nhs": "NHS",
    "public_health": "PHE",
    "police": "POL",
    "childrens_social_care": "CSC",
    "schools": "SCH",
}
_ID_MODULUS = 10**9
_PERSON_SCRAMBLE = (387_420_489, 104_729_361)  # multiplier coprime with 10, offset
_HOUSEHOLD_SCRAMBLE = (282_475_249, 550_336_421)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward part of UK postcodes


def _scrambled(index: np.ndarray, scramble: tuple[int, int]) -> np.ndarray:
    """A bijection of 0..10^9−1 so ids look arbitrary but never collide."""
    a, b = scramble
    return (index.astype(np.int64) * a + b) % _ID_MODULUS


def person_ids(index: np.ndarray) -> pa.Array:
    return text.ids("P", _scrambled(index, _PERSON_SCRAMBLE), 9)


def household_ids(index: np.ndarray) -> pa.Array:
    return text.ids("H", _scrambled(index, _HOUSEHOLD_SCRAMBLE), 9)


@dataclass
class _Counters:
    people: int = 0
    households: int = 0
    caseworkers: int = 1
    events_by_source: dict[str, int] | None = None


def _inward_codes() -> np.ndarray:
    digits = np.repeat(np.arange(10), 400)
    first = np.tile(np.repeat(np.arange(20), 20), 10)
    second = np.tile(np.arange(20), 200)
    letters = np.frombuffer(INWARD_LETTERS.encode(), dtype=np.uint8)
    out = np.empty((4000, 3), dtype=np.uint8)
    out[:, 0] = 48 + digits
    out[:, 1] = letters[first]
    out[:, 2] = letters[second]
    return out


def _services_table(services: list[Service]) -> pa.Table:
    def opt(v: int | None) -> str | None:
        return None if v is None else str(v)

    def flag(v: bool) -> str:
        return "true" if v else "false"

    return pa.table(
        {
            "service_id": [s.service_id for s in services],
            "name": [s.name for s in services],
            "description": [s.description for s in services],
            "category": [s.category for s in services],
            "provider": [s.provider for s in services],
            "min_age": [opt(s.min_age) for s in services],
            "max_age": [opt(s.max_age) for s in services],
            "districts": [";".join(s.districts) for s in services],
            "means_tested": [flag(s.means_tested) for s in services],
            "intervention": [flag(s.intervention) for s in services],
            "url": [s.url for s in services],
            "active": [flag(s.active) for s in services],
            "sensitive": [flag(s.sensitive) for s in services],
            "phone": [s.phone for s in services],
            "contact": [s.contact for s in services],
            "opening_hours": [s.opening_hours for s in services],
            "early_help_indicator": [flag(s.early_help_indicator) for s in services],
            "needs": [";".join(s.addresses) or None for s in services],
            "source": [s.source for s in services],
        },
        schema=pa.schema([(c, pa.string()) for c in (*TABLES["services"].column_names_in(1), "source")]),
    )


#: Extra, faulty rows appended to services (a legacy system's leftovers): column → value.
_BAD_SERVICE_ROWS = (
    ("name", None, "blank_required"),
    ("means_tested", "Yes", "bad_boolean"),
    ("min_age", "five", "bad_integer"),
    ("active", "Y", "bad_boolean"),
    ("districts", None, "blank_required"),
    ("max_age", "-3", "bad_integer"),
)


def _faulty_services(rng: np.random.Generator, error_rate: float, n_services: int) -> tuple[pa.Table, list[tuple]]:
    if error_rate <= 0:
        return _services_table([]), []
    n_bad = max(1, int(round(error_rate * n_services)))
    rows, listed = [], []
    for i in range(n_bad):
        column, value, kind = _BAD_SERVICE_ROWS[int(rng.integers(0, len(_BAD_SERVICE_ROWS)))]
        service = Service(
            f"LEGACY-{i + 1:03d}", f"Legacy service {i + 1}", "A record left over from a retired system.",
            "council", "Hampshire County Council", "council", url=None,
        )
        rows.append((service, column, value))
        listed.append(("services", n_services + i + 1, service.service_id, column, kind, QUARANTINED))
    table = _services_table([s for s, _, _ in rows])
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    for i, (_, column, value) in enumerate(rows):
        columns[column][i] = value
    return pa.table(columns, schema=table.schema), listed


def generate_county(
    out: Path,
    *,
    citizens: int,
    seed: int,
    months: int = 24,
    end: date = date(2026, 9, 30),
    error_rate: float = 0.01,
    fmt: str = "csv",
    partners: str = "council",
) -> Table:
    """Write every table of the partner extract plus `truth/` into `out`; return a summary.

    ``partners="local"`` writes a version 2 extract (``synthetic.partners``): partner-local
    person records and events by ``partner_person_id``, the master index's identifiers on
    ``citizens`` and ``truth/links.parquet``. The default writes version 1, as before.
    """
    if partners not in ("council", "local"):
        raise UserError(f"--partners {partners!r} must be council or local")
    if seed < 0:
        raise UserError(f"--seed {seed} must be zero or positive")
    if citizens < 10:
        raise UserError(f"--citizens {citizens} is too small; use at least 10")
    if not 12 <= months <= 120:
        raise UserError(f"--months {months} must be between 12 and 120")
    if not 0 <= error_rate <= 0.5:
        raise UserError(f"--error-rate {error_rate} must be between 0 and 0.5")
    if fmt not in ("csv", "parquet"):
        raise UserError(f"--format {fmt!r} must be csv or parquet")
    started = time.perf_counter()
    out = Path(out)
    truth_dir = out / "truth"
    try:
        truth_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {truth_dir}: {error.strerror}; choose another --out") from None
    for name in TABLES:  # a stale table in the other format would confuse the pipeline
        for ext in ("csv", "parquet"):
            (out / f"{name}.{ext}").unlink(missing_ok=True)
    (truth_dir / "links.parquet").unlink(missing_ok=True)

    districts = load_districts()
    services = catalogue()
    end_day = day_number(end)
    blocks = make_blocks(end, months)
    reference = generate_population(np.random.default_rng(REFERENCE_SEED), REFERENCE_CITIZENS, districts, end_day)
    arrays = service_arrays(services, districts, reference, end_day)
    sources = [s.source for s in services]
    source_names = tuple(SOURCE_PREFIX)
    service_source = np.array([source_names.index(s) for s in sources])
    service_ids = pa.array([s.service_id for s in services])
    authority_of_district = np.array(AUTHORITIES)[districts.authority_idx]
    inward = _inward_codes()
    faults = faults_by_table(end)

    n_chunks = -(-citizens // CHUNK_CITIZENS)
    seeds = np.random.SeedSequence(seed).spawn(n_chunks + 1)
    version = 2 if partners == "local" else 1
    columns = {name: table.column_names_in(version) for name, table in tables_in(version).items()}
    writers = {name: _writer(out, name, cols, fmt) for name, cols in columns.items()
               if name not in ("services", "partner_people", "partner_people_encoded")}
    local = _LocalPartners(out, truth_dir, fmt) if partners == "local" else None
    fault_rows: list[tuple] = []

    # services: the catalogue, then a few faulty leftovers
    services_writer = _writer(out, "services", (*columns["services"], "source"), fmt)
    services_writer.write(_services_table(services))
    bad_services, listed = _faulty_services(np.random.default_rng(seeds[0]), error_rate, len(services))
    services_writer.write(bad_services)
    services_writer.close()
    fault_rows += listed

    window_1, window_2 = blocks.n - 4, blocks.n - 2
    truth = _TruthWriters(truth_dir, citizens, services)
    counters = _Counters(events_by_source={s: 0 for s in source_names})

    def draw(k: int):
        """The random part of chunk k (runs a chunk ahead of the writing, in a thread)."""
        rng = np.random.default_rng(seeds[k + 1])
        n = min(CHUNK_CITIZENS, citizens - k * CHUNK_CITIZENS)
        pop = generate_population(rng, n, districts, end_day)
        usage = simulate(rng, pop, arrays, blocks)
        consents = generate_consents(rng, n, blocks.first_day, end_day)
        caseloads = generate_caseloads(rng, pop, usage.outcome_person, 0, blocks.first_day, end_day)
        return rng, n, pop, usage, consents, caseloads

    with ThreadPoolExecutor(max_workers=1) as pool, make_progress() as progress:
        task = progress.add_task(f"Generating {citizens:,} residents", total=n_chunks)
        pending = pool.submit(draw, 0)
        for k in range(n_chunks):
            rng, n, pop, usage, consents, caseloads = pending.result()
            if k + 1 < n_chunks:
                pending = pool.submit(draw, k + 1)
            caseloads.caseworker_number += counters.caseworkers
            events = usage.events

            pid = person_ids(counters.people + np.arange(n))
            hid_of_household = household_ids(counters.households + np.arange(len(pop.household_type)))
            hid = hid_of_household.take(pa.array(pop.household_idx))
            postcode = text.postcodes(districts.names, pop.district_idx, inward[pop.inward_code]).take(
                pa.array(pop.household_idx)
            )

            if local:
                pop.birth_day = partners_mod.make_twins(
                    local.rng(seed, k), pop.household_idx, pop.role == CHILD, pop.birth_day)
            tables: dict[str, pa.Table] = {}
            imd = np.where(pop.imd_visible, pop.imd_decile, 0)[pop.household_idx]
            imd_text = text.choose(tuple(str(i) for i in range(11)), imd)
            imd_text = pc.if_else(pa.array(imd > 0), imd_text, pa.scalar(None, pa.string()))
            tables["citizens"] = pa.table(
                {
                    "person_id": pid,
                    "household_id": hid,
                    "birth_date": text.dates(pop.birth_day),
                    "sex": text.choose(SEX, pop.sex),
                    "ethnicity": text.choose(ETHNICITY, pop.ethnicity),
                    "disability": text.choose(DISABILITY, pop.disability),
                    "postcode": postcode,
                    "imd_decile": imd_text,
                }
            )
            if local:
                local.add_identities(tables, seed, k, pop, counters.people, end_day)
            ev_source = service_source[events.service_idx]
            event_number = np.zeros(len(ev_source), dtype=np.int64)
            for s, name in enumerate(source_names):
                at = np.flatnonzero(ev_source == s)
                event_number[at] = counters.events_by_source[name] + 1 + np.arange(len(at))
                counters.events_by_source[name] += len(at)
            tables["events"] = pa.table(
                {
                    "event_id": text.prefixed_ids(tuple(SOURCE_PREFIX.values()), ev_source, event_number, 10),
                    "source": text.choose(source_names, ev_source),
                    "person_id": pid.take(pa.array(events.person_idx)),
                    "service_id": service_ids.take(pa.array(events.service_idx)),
                    "occurred_at": text.timestamps(events.second),
                    "event_type": text.choose(EVENT_TYPES, events.event_type),
                }
            )
            if local:
                tables["events"] = local.partner_events(
                    tables, seed, k, events.person_idx, ev_source, source_names, counters.people, pid, postcode)
            tables["consents"] = pa.table(
                {
                    "person_id": pid.take(pa.array(consents.person_idx)),
                    "purpose": text.choose(PURPOSES, consents.purpose),
                    "status": text.choose(CONSENT_STATUS, consents.status),
                    "recorded_at": text.timestamps(consents.second),
                    "method": text.choose(CONSENT_METHODS, consents.method),
                }
            )
            o_order = np.lexsort((usage.outcome_day, usage.outcome_person))
            tables["outcomes"] = pa.table(
                {
                    "person_id": pid.take(pa.array(usage.outcome_person[o_order])),
                    "outcome": text.choose(OUTCOMES, usage.outcome_kind[o_order]),
                    "occurred_at": text.dates(usage.outcome_day[o_order]),
                }
            )
            end_text = text.dates(np.maximum(caseloads.end_day, 0))
            tables["caseloads"] = pa.table(
                {
                    "caseworker_id": text.ids("CW", caseloads.caseworker_number, 4),
                    "household_id": hid_of_household.take(pa.array(caseloads.household_idx)),
                    "start_date": text.dates(caseloads.start_day),
                    "end_date": pc.if_else(pa.array(caseloads.end_day >= 0), end_text, pa.scalar(None, pa.string())),
                }
            )
            for name, table in tables.items():
                table, listed = inject(
                    rng, name, table, error_rate, faults[name], writers[name].rows,
                    duplicate_share=DUPLICATE_SHARE if name == "events" else 0.0,
                )
                writers[name].write(table)
                fault_rows += listed

            # ---- truth ------------------------------------------------------------------
            probability = -np.expm1(-usage.final_rate)
            final_start = int(blocks.start[-1]) * 86400
            carried = (events.second >= final_start) & (usage.episode_block[events.episode] < blocks.n - 1)
            probability[events.person_idx[carried], events.service_idx[carried]] = 1.0
            truth.write_chunk(
                pid=pid,
                hid=hid,
                pop=pop,
                district=districts.names[pop.district_idx[pop.household_idx]],
                authority=authority_of_district[pop.district_idx[pop.household_idx]],
                end_day=end_day,
                probability=probability,
                p_window_1=usage.window_probability.get(window_1),
                p_window_2=usage.window_probability.get(window_2),
            )
            counters.people += n
            counters.households += len(pop.household_type)
            counters.caseworkers = int(caseloads.caseworker_number.max(initial=counters.caseworkers - 1)) + 1
            progress.advance(task)

    for writer in writers.values():
        writer.close()
    truth.close()
    if local:
        local.close()
    order = {name: i for i, name in enumerate(TABLES)}
    fault_rows.sort(key=lambda f: (order[f[0]], f[1]))
    with open(truth_dir / "faults.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(FAULT_COLUMNS)
        w.writerows(fault_rows)

    w1_start = months_before(end, 12) if blocks.n >= 4 else None
    w2_start = months_before(end, 6)
    about = {
        "seed": seed,
        "citizens": citizens,
        "months": months,
        "end": end.isoformat(),
        "first_day": from_day_number(blocks.first_day).isoformat(),
        "error_rate": error_rate,
        "format": fmt,
        "final_window": [months_before(end, 3).isoformat(), end.isoformat()],
        "early_help_windows": {
            "window_1": [w1_start.isoformat() if w1_start else None, w2_start.isoformat()],
            "window_2": [w2_start.isoformat(), end.isoformat()],
            "meaning": "p_window_k = P(an outcome in (start, end]) for a child aged 0-17 on start, "
            "a function of events in (start - 12 months, start], household make-up, age and "
            "the visible imd_decile, plus a small latent term (truth/early_help.parquet)",
        },
        "usage_probability": {
            "file": "usage_probability.npy",
            "shape": [citizens, len(services)],
            "rows": "truth/persons.parquet person_id order",
            "columns": "truth/services.parquet service_id order",
            "meaning": "P(at least one event for the service in the final three months) given "
            "latent needs and history before them; 1 where an episode begun earlier continues",
        },
        "rows": {name: w.rows for name, w in writers.items()} | {"services": services_writer.rows}
        | ({"partner_people": local.people.rows} if local else {}),
        "partners": partners,
        "faults": len(fault_rows),
    }
    (truth_dir / "about.json").write_text(json.dumps(about, indent=2) + "\n", encoding="utf-8")
    return _summary(out, about, time.perf_counter() - started)


class _LocalPartners:
    """The version 2 additions of `--partners local`, chunk by chunk (see ``synthetic.partners``)."""

    def __init__(self, out: Path, truth_dir: Path, fmt: str) -> None:
        self.people = _writer(out, "partner_people", TABLES["partner_people"].column_names, fmt)
        self.links = TypedParquetWriter(truth_dir / "links.parquet", pa.schema(
            [("source", pa.string()), ("local_id", pa.string()), ("person_id", pa.string())]))
        self.identities: partners_mod.Identities | None = None
        self.visitors = 0

    @staticmethod
    def rng(seed: int, chunk: int) -> np.random.Generator:
        # Its own stream, so the version 1 tables of a seed are the same with or without partners.
        return np.random.default_rng((seed, chunk, 1717))

    def add_identities(self, tables: dict, seed: int, chunk: int, pop, first_person: int, end_day: int) -> None:
        rng = np.random.default_rng((seed, chunk, 1718))
        age = (end_day - pop.birth_day) / 365.25
        sharers = pop.household_type[pop.household_idx] == HOUSEHOLD_TYPES.index("multi_adult")
        ids = partners_mod.master_identities(
            rng, person_number=first_person + np.arange(pop.n), household_idx=pop.household_idx,
            sex=pop.sex, age_years=age, sharers=sharers)
        self.identities = ids
        citizens = tables["citizens"]
        for name, values in (("given_name", ids.given), ("family_name", ids.family), ("address", ids.address),
                             ("nhs_number", ids.nhs_number), ("upn", ids.upn)):
            citizens = citizens.append_column(name, pa.array(values.tolist(), pa.string()))
        tables["citizens"] = citizens

    def partner_events(self, tables: dict, seed: int, chunk: int, person_idx: np.ndarray, ev_source: np.ndarray,
                       source_names: tuple[str, ...], first_person: int, pid: pa.Array, postcode: pa.Array) -> pa.Table:
        """Partner records of this chunk's people; events of local sources by `partner_person_id`."""
        rng = np.random.default_rng((seed, chunk, 1719))
        ids = self.identities
        citizens = tables["citizens"]
        birth = citizens.column("birth_date").to_pylist()
        sex = citizens.column("sex").to_pylist()
        postcodes = postcode.to_pylist()
        person_ids = pid.to_pylist()
        events = tables["events"]
        partner_id = np.full(len(person_idx), None, dtype=object)
        for s, source in enumerate(source_names):
            if source not in partners_mod.LOCAL_SOURCES:
                continue
            at = np.flatnonzero(ev_source == s)
            people = np.unique(person_idx[at])
            if not len(people):
                continue
            local = partners_mod.local_ids(SOURCE_PREFIX[source], (first_person + people) * 16 + s)
            moved_to = rng.integers(0, len(person_ids), len(people))
            nhs_rate = partners_mod.NHS_NUMBER_RECORDED.get(source, 0.0)
            records = partners_mod.partner_copy(
                rng, given=ids.given[people], family=ids.family[people], birth_date=[birth[i] for i in people],
                sex=[sex[i] for i in people], postcode=[postcodes[i] for i in people], address=ids.address[people],
                nhs_number=[v if rng.random() < nhs_rate else None for v in ids.nhs_number[people]],
                upn=ids.upn[people] if source == "schools" else [None] * len(people),
                other_postcode=[postcodes[i] for i in moved_to], other_address=ids.address[moved_to])
            n_visitors = int(rng.binomial(len(people), partners_mod.VISITOR_SHARE))
            extra = partners_mod.visitors(rng, n_visitors)
            visitor_ids = partners_mod.local_ids(
                SOURCE_PREFIX[source] + "V", (self.visitors + np.arange(n_visitors)) * 16 + s)
            self.visitors += n_visitors
            rows = {k: list(records[k]) + extra[k] for k in records}
            self.people.write(pa.table({"source": [source] * (len(people) + n_visitors),
                                        "local_id": local + visitor_ids, **rows}, schema=partners_mod.PARTNER_SCHEMA))
            self.links.write(pa.table({
                "source": [source] * (len(people) + n_visitors), "local_id": local + visitor_ids,
                "person_id": [person_ids[i] for i in people] + [None] * n_visitors}))
            position = np.searchsorted(people, person_idx[at])
            partner_id[at] = np.array(local, dtype=object)[position]
        is_local = pa.array(partner_id != None)
        events = events.set_column(events.schema.get_field_index("person_id"), "person_id",
                                   pc.if_else(is_local, pa.scalar(None, pa.string()), events.column("person_id")))
        return events.append_column("partner_person_id", pa.array(partner_id.tolist(), pa.string()))

    def close(self) -> None:
        self.people.close()
        self.links.close()


def _writer(out: Path, name: str, columns: tuple[str, ...], fmt: str) -> TableWriter:
    return TableWriter(out, name, columns, fmt)


class _TruthWriters:
    """The truth folder, appended chunk by chunk."""

    def __init__(self, folder: Path, citizens: int, services: list[Service]) -> None:
        pq.write_table(
            pa.table(
                {
                    "service_id": [s.service_id for s in services],
                    "name": [s.name for s in services],
                    "source": [s.source for s in services],
                    "journey": [s.journey for s in services],
                    "rate": [s.rate for s in services],
                    "season": [s.season for s in services],
                    "habit": [s.habit for s in services],
                    "indicator": [s.indicator for s in services],
                    "intervention": [s.intervention for s in services],
                    "active": [s.active for s in services],
                    **{f"need_{k}": [s.needs.get(k, 0.0) for s in services] for k in NEEDS},
                }
            ),
            folder / "services.parquet",
            compression="zstd",
        )
        self.persons = TypedParquetWriter(
            folder / "persons.parquet",
            pa.schema(
                [
                    ("person_id", pa.string()),
                    ("household_id", pa.string()),
                    ("postcode_district", pa.string()),
                    ("local_authority", pa.string()),
                    ("age", pa.int16()),
                    ("role", pa.string()),
                    ("household_type", pa.string()),
                    ("imd_decile", pa.int8()),
                ]
            ),
        )
        self.needs = TypedParquetWriter(
            folder / "needs.parquet",
            pa.schema([("person_id", pa.string())] + [(k, pa.float32()) for k in NEEDS]),
        )
        self.early_help = TypedParquetWriter(
            folder / "early_help.parquet",
            pa.schema([("person_id", pa.string()), ("p_window_1", pa.float32()), ("p_window_2", pa.float32())]),
        )
        self.usage = NpyAppender(folder / "usage_probability.npy", citizens, len(services))

    def write_chunk(self, *, pid, hid, pop, district, authority, end_day, probability, p_window_1, p_window_2) -> None:
        n = pop.n
        self.persons.write(
            pa.table(
                {
                    "person_id": pid,
                    "household_id": hid,
                    "postcode_district": pa.array(district),
                    "local_authority": pa.array(authority),
                    "age": pa.array(np.floor((end_day - pop.birth_day) / 365.25).astype(np.int16)),
                    "role": text.choose(ROLES, pop.role),
                    "household_type": text.choose(HOUSEHOLD_TYPES, pop.household_type[pop.household_idx]),
                    "imd_decile": pa.array(pop.imd_decile[pop.household_idx]),
                }
            )
        )
        needs = 1 / (1 + np.exp(-pop.needs))  # scores → 0..1 for reading
        self.needs.write(pa.table({"person_id": pid, **{k: pa.array(needs[:, i]) for i, k in enumerate(NEEDS)}}))
        w1 = p_window_1 if p_window_1 is not None else np.full(n, np.nan)
        w2 = p_window_2 if p_window_2 is not None else np.full(n, np.nan)
        child = ~np.isnan(w1) | ~np.isnan(w2)
        self.early_help.write(
            pa.table(
                {
                    "person_id": pid.filter(pa.array(child)),
                    "p_window_1": pa.array(w1[child].astype(np.float32), from_pandas=True),
                    "p_window_2": pa.array(w2[child].astype(np.float32), from_pandas=True),
                }
            )
        )
        self.usage.write(probability)

    def close(self) -> None:
        for w in (self.persons, self.needs, self.early_help, self.usage):
            w.close()


def _summary(out: Path, about: dict, seconds: float) -> Table:
    table = Table(title=f"Synthetic county written to {out}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name in about["rows"]:
        table.add_row(name, f"{about['rows'][name]:,}")
    table.add_row("faults injected", f"{about['faults']:,}")
    table.caption = (
        f"{about['citizens']:,} residents, {about['months']} months to {about['end']}, "
        f"seed {about['seed']}, {about['format']}; truth in {out / 'truth'}; {seconds:.1f}s"
    )
    return table
