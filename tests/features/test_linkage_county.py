"""Partner-local county → linkage → features: quality against the true links, nothing raw leaks.

A quality floor on a small county (not a timing): the real generator with partner-local
extracts (`--partners local`) and the real pipeline.
"""

from __future__ import annotations

import re
import stat
from datetime import date

import pandas as pd
import pytest

from features.build import build, link_extract
from features.pseudonym import load_key
from signpost.settings import Settings
from tests.features.test_end_to_end import raw_identifiers, read_table, readable_text
from training.linkage_evaluation import linkage_quality

pytestmark = pytest.mark.slow

END = date(2026, 9, 30)


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    from synthetic.generate import generate_county

    base = tmp_path_factory.mktemp("county_v2")
    raw, out = base / "raw", base / "processed"
    generate_county(raw, citizens=2_500, seed=5, months=24, end=END, error_rate=0.01, fmt="csv", partners="local")
    settings = Settings(pseudonym_key="linkage-county-key", data_dir=base / "data")
    manifest = build(raw, out, as_of=END, quarantine=None, engine="duckdb", settings=settings,
                     extract_date=date(2026, 10, 1))
    return raw, out, manifest, settings


def test_linkage_quality_floor(county):
    raw, out, manifest, settings = county
    quality = linkage_quality(pd.read_parquet(out / "link_outcomes.parquet"),
                              pd.read_parquet(raw / "truth" / "links.parquet"), load_key(settings))
    assert quality["precision"] >= 0.995, quality
    assert quality["recall"] >= 0.95, quality
    assert quality["review_share"] <= 0.05, quality
    assert manifest["linkage"]["partner_records"] == manifest["rows"]["partner_people"]["accepted"]


def test_events_of_linked_records_are_kept_and_the_rest_quarantined_with_the_outcome(county):
    raw, _, manifest, _ = county
    events = read_table(raw, "events")
    by_partner = events["partner_person_id"] != ""
    assert by_partner.mean() > 0.3  # local partners really use their own ids
    quarantine = pd.read_csv(raw / "quarantine" / "events.csv", dtype=str, keep_default_na=False)
    linkage_reasons = quarantine["reason"].str.contains("clerical review|matched no one")
    assert linkage_reasons.any()
    assert (quarantine.loc[linkage_reasons, "partner_person_id"] != "").all()
    counts = manifest["rows"]["events"]
    assert counts["read"] == counts["accepted"] + counts["quarantined"]


def partner_identifiers(raw) -> set[str]:
    people = read_table(raw, "partner_people")
    citizens = read_table(raw, "citizens")
    tokens = set(people["local_id"]) | set(citizens["nhs_number"]) | set(citizens["upn"]) | set(people["nhs_number"])
    tokens |= set(citizens["address"]) | set(people["address"])
    return {t for t in tokens if len(t.strip()) >= 5}


def test_no_identifier_of_either_side_in_any_output(county):
    raw, out, _, _ = county
    tokens = raw_identifiers(raw) | partner_identifiers(raw)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))
    names = set(read_table(raw, "citizens")["given_name"]) | set(read_table(raw, "partner_people")["family_name"])
    for path in (p for p in out.rglob("*") if p.is_file()):
        found = pattern.search(readable_text(path))
        assert found is None, f"{path.relative_to(out)} contains a raw identifier"
        if path.suffix == ".parquet":  # names are common words: compare whole values
            frame = pd.read_parquet(path)
            values = {str(v) for c in frame.columns if frame[c].dtype == object for v in frame[c].dropna()}
            assert not values & (names - {""}), path.name


def test_signpost_link_writes_pseudonymised_outcomes_and_a_private_review_queue(county, tmp_path):
    raw, out, _, settings = county
    summary = link_extract(raw, tmp_path / "link", settings=settings, extract_date=date(2026, 10, 1))
    outcomes = pd.read_parquet(tmp_path / "link" / "link_outcomes.parquet")
    assert len(outcomes) == summary["partner_records"]
    assert set(outcomes["outcome"]) <= {"linked", "review", "unlinked"}
    assert outcomes["partner_record"].str.fullmatch("[0-9a-f]{64}").all()
    assert not set(outcomes["partner_record"]) & set(read_table(raw, "partner_people")["local_id"])
    queue = tmp_path / "link" / "linkage_review.csv"
    assert stat.S_IMODE(queue.stat().st_mode) == 0o600
    reviewed = pd.read_csv(queue)
    assert len(reviewed) == summary["outcomes"]["review"]
    assert "local_id" not in reviewed.columns and "person_id" not in reviewed.columns
    # the same work as the build's stage: same records; the model is retrained (u on the same fixed
    # sample, but EM's sums run in whatever order DuckDB's threads take), so probabilities may differ a little
    built = pd.read_parquet(out / "link_outcomes.parquet")
    assert list(outcomes["partner_record"]) == list(built["partner_record"])
    assert (outcomes["match_probability"] - built["match_probability"]).abs().max() < 0.05
    assert (outcomes["outcome"] != built["outcome"]).mean() < 0.005


def test_encoded_linkage_quality_floor(county):
    from training.linkage_evaluation import encoded_quality

    raw, _, _, _ = county
    quality = encoded_quality(raw, raw / "truth", b"county-linkage-secret-0123456789", Settings(pseudonym_key="linkage-county-key"))
    assert quality["precision"] >= 0.99, quality
    assert quality["recall"] >= 0.9, quality


#: The partner that sends only encodings in the encoded county.
ENCODED_SOURCE = "voluntary"


@pytest.fixture(scope="module")
def encoded_county(county, tmp_path_factory):
    """The same county, but one partner (the voluntary sector) sends only encodings (`signpost encode`)."""
    import shutil

    raw, _, _, _ = county
    base = tmp_path_factory.mktemp("county_encoded")
    copy = base / "raw"
    shutil.copytree(raw, copy, ignore=shutil.ignore_patterns("quarantine"))
    secret, n_encoded = encode_one_partner(copy, base)
    settings = Settings(pseudonym_key="linkage-county-key", data_dir=base / "data", linkage_secret_file=secret)
    manifest = build(copy, base / "processed", as_of=END, quarantine=None, engine="duckdb", settings=settings,
                     extract_date=date(2026, 10, 1))
    return copy, base / "processed", manifest, settings, n_encoded


def encode_one_partner(raw, base, source: str = ENCODED_SOURCE) -> tuple:
    """``source`` sends only encodings: its plaintext records leave ``raw`` for its own building
    under ``base``, where `signpost encode` writes ``partner_people_encoded.csv`` into ``raw``.
    Returns the linkage secret's file and the number of records encoded."""
    from features.encoding import encode_folder

    people = read_table(raw, "partner_people")
    theirs = people["source"] == source
    (base / source).mkdir()  # the partner's own building
    people.loc[theirs].to_csv(base / source / "partner_people.csv", index=False)
    people.loc[~theirs].to_csv(raw / "partner_people.csv", index=False)
    secret = base / "linkage.secret"
    secret.write_text("county-linkage-secret-0123456789")
    encode_folder(base / source, raw, secret.read_bytes())
    return secret, int(theirs.sum())


def test_the_build_links_encoded_records_and_keeps_their_events(encoded_county):
    raw, out, manifest, settings, n_encoded = encoded_county
    encoded = manifest["linkage"]["encoded"]
    accepted = manifest["rows"]["partner_people_encoded"]["accepted"]
    assert accepted == encoded["records"] and n_encoded - accepted <= 0.01 * n_encoded
    outcomes = pd.read_parquet(out / "link_outcomes.parquet")
    assert set(outcomes.loc[outcomes["method"] == "encoded", "source"]) == {ENCODED_SOURCE}
    assert (outcomes["method"] == "encoded").sum() == accepted
    assert outcomes.loc[outcomes["method"] == "encoded", "dice"].between(0, 1).all()
    quality = linkage_quality(outcomes.loc[outcomes["method"] == "encoded"],
                              pd.read_parquet(raw / "truth" / "links.parquet").query("source == @ENCODED_SOURCE"),
                              load_key(settings))
    assert quality["precision"] >= 0.99, quality
    assert quality["recall"] >= 0.9, quality
    # Events by the partner's own id reach the matrices when their record was linked;
    # the others are quarantined with the encoded outcome.
    events = read_table(raw, "events")
    by_local_id = int(((events["source"] == ENCODED_SOURCE) & (events["partner_person_id"] != "")).sum())
    quarantine = pd.read_csv(raw / "quarantine" / "events.csv", dtype=str, keep_default_na=False)
    for_linkage = quarantine.loc[(quarantine["source"] == ENCODED_SOURCE)
                                 & quarantine["reason"].str.startswith("partner_person_id")]
    assert 0 < len(for_linkage) < 0.2 * by_local_id
    assert for_linkage["reason"].str.contains(
        "encoded record with no clear match|matched no one in the master index on its encoding|quarantined").all()


def test_encoded_records_need_the_linkage_secret(encoded_county, tmp_path):
    from signpost.errors import UserError

    raw, _, _, settings, _ = encoded_county
    unset = settings.model_copy(update={"linkage_secret_file": None})
    with pytest.raises(UserError, match="SIGNPOST_LINKAGE_SECRET_FILE"):
        build(raw, tmp_path / "processed", as_of=END, quarantine=tmp_path / "q", engine="duckdb", settings=unset,
              extract_date=date(2026, 10, 1))


def test_an_encoded_record_sent_both_ways_or_with_a_broken_clk_is_quarantined(encoded_county, tmp_path):
    import shutil

    raw, _, _, settings, _ = encoded_county
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy, ignore=shutil.ignore_patterns("quarantine"))
    encoded = pd.read_csv(copy / "partner_people_encoded.csv", dtype=str, keep_default_na=False)
    people = read_table(copy, "partner_people")
    twice = encoded.iloc[[0]].assign(source=ENCODED_SOURCE)
    plain = people.iloc[[0]].assign(source=ENCODED_SOURCE, local_id=twice["local_id"].iloc[0])
    pd.concat([people, plain]).to_csv(copy / "partner_people.csv", index=False)
    encoded.loc[1, "clk"] = encoded.loc[1, "clk"][:-8]
    encoded.loc[2, "blocks"] = "not-hex"
    encoded.to_csv(copy / "partner_people_encoded.csv", index=False)
    build(copy, tmp_path / "processed", as_of=END, quarantine=tmp_path / "q", engine="duckdb", settings=settings,
          extract_date=date(2026, 10, 1), accept_quarantine=True)
    reasons = pd.read_csv(tmp_path / "q" / "partner_people_encoded.csv", dtype=str).set_index("local_id")["reason"]
    assert "is also in partner_people" in reasons[encoded.loc[0, "local_id"]]
    assert "clk is not a 1024-bit filter" in reasons[encoded.loc[1, "local_id"]]
    assert "blocks is not" in reasons[encoded.loc[2, "local_id"]]
