"""Bloom-filter encodings: keyed, stable, similar records similar; and a quality floor on a county."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.encoding import (
    BITS,
    MAX_BLOCK,
    block_table,
    blocks,
    candidate_pairs,
    dice,
    encode,
    encode_folder,
    encoded_thresholds,
    from_base64,
    link_encoded,
    to_base64,
)

PEOPLE = pd.DataFrame({
    "given_name": ["Olivia", "Olivai", "George", ""],
    "family_name": ["Smith", "Smith", "Patel", ""],
    "birth_date": ["1990-04-03", "1990-04-03", "1971-12-30", ""],
    "postcode": ["SO23 9AB", "so239ab", "PO12 1AA", ""],
})


def test_encodings_are_keyed_and_stable():
    first, again, other_key = encode(PEOPLE, b"k" * 32), encode(PEOPLE, b"k" * 32), encode(PEOPLE, b"x" * 32)
    assert first.shape == (4, BITS // 8)
    assert (first == again).all()
    assert not (first[0] == other_key[0]).all()
    assert (from_base64(to_base64(first)) == first).all()


def test_dice_orders_records_by_similarity():
    filters = encode(PEOPLE, b"k" * 32)
    same, typo, other = (dice(filters[[0]], filters[[i]])[0] for i in (0, 1, 2))
    assert same == 1.0 and 0.8 < typo < 1.0 and other < 0.6
    assert dice(filters[[3]], filters[[3]])[0] == 0.0  # a record with nothing to encode matches nothing


def test_link_encoded_links_the_right_people():
    master_people, partner_people = PEOPLE.iloc[[0, 2]].reset_index(drop=True), PEOPLE.iloc[[2, 1]].reset_index(drop=True)
    master, partner = encode(master_people, b"k" * 32), encode(partner_people, b"k" * 32)
    out = link_encoded(master, partner, block_table(blocks(master_people, b"k" * 32)),
                       block_table(blocks(partner_people, b"k" * 32)), link=0.8, review=0.7, margin=0.03).set_index("record")
    assert out.loc[0, "outcome"] == "linked" and out.loc[0, "person"] == 1
    assert out.loc[1, "person"] == 0 or out.loc[1, "outcome"] != "linked"


def test_encode_folder_writes_only_ids_and_clks(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    PEOPLE.assign(source="police", local_id=[f"L{i}" for i in range(4)]).to_csv(raw / "partner_people.csv",
                                                                                 index=False)
    assert encode_folder(raw, tmp_path / "out", b"k" * 32) == 4
    written = pd.read_csv(tmp_path / "out" / "partner_people_encoded.csv", dtype=str)
    assert list(written.columns) == ["source", "local_id", "clk", "blocks"]
    text = (tmp_path / "out" / "partner_people_encoded.csv").read_text()
    assert "Olivia" not in text and "SO23" not in text and "1990" not in text
    assert np.array_equal(from_base64(written["clk"]), encode(PEOPLE, b"k" * 32))
    assert written["blocks"].fillna("").tolist() == blocks(PEOPLE, b"k" * 32)


def test_blocking_values_are_keyed_and_shared_by_the_same_person():
    mine, again, other = blocks(PEOPLE, b"k" * 32), blocks(PEOPLE, b"k" * 32), blocks(PEOPLE, b"x" * 32)
    assert mine == again and not set(mine[0].split()) & set(other[0].split())
    # Olivia Smith and her typo'd copy (same date of birth, same postcode in another spelling)
    # share the date and the postcode; Olivia and George share nothing; a blank record has none.
    assert len(set(mine[0].split()) & set(mine[1].split())) == 2
    assert not set(mine[0].split()) & set(mine[2].split())
    assert mine[3] == ""


def test_a_nickname_shares_the_name_block():
    people = pd.DataFrame({"given_name": ["William", "Bill"], "family_name": ["Hart", "Hart"],
                           "birth_date": ["1980-01-02", "1980-02-01"], "postcode": ["SO23 9AB", "PO1 1AA"]})
    master, partner = blocks(people, b"k" * 32)
    assert len(set(master.split()) & set(partner.split())) == 1  # names and birth year, nothing else


def test_candidate_pairs_grow_with_the_county_and_skip_crowded_values():
    # Each of n people shares one value with its own partner record; one value everyone holds
    # is skipped, so pairs stay n (not n squared).
    for n in (MAX_BLOCK + 1, 4 * MAX_BLOCK):
        own = pd.DataFrame({"row": np.arange(n), "key": np.arange(n)})
        crowded = pd.DataFrame({"row": np.arange(n), "key": np.full(n, -1)})
        pairs = candidate_pairs(pd.concat([own, crowded]), pd.concat([own, crowded]))
        assert len(pairs) == n and (pairs["person"] == pairs["record"]).all()


def test_block_table_refuses_another_schema():
    import pytest

    with pytest.raises(ValueError, match="16 hex digits"):
        block_table(["abc"])


def test_encoded_thresholds_are_configuration():
    import pytest
    from pydantic import ValidationError

    from signpost.settings import Settings

    settings = Settings(pseudonym_key="k", linkage_encoded_link_dice=0.95, linkage_encoded_review_dice=0.9,
                        linkage_encoded_margin=0.01)
    assert encoded_thresholds(settings) == {"link": 0.95, "review": 0.9, "margin": 0.01}
    with pytest.raises(ValidationError, match="ENCODED_REVIEW_DICE must be below"):
        Settings(pseudonym_key="k", linkage_encoded_link_dice=0.8, linkage_encoded_review_dice=0.85)
    # a stricter link threshold sends a near match to review instead of linking it
    master_people, partner_people = PEOPLE.iloc[[0]].reset_index(drop=True), PEOPLE.iloc[[1]].reset_index(drop=True)
    master, partner = encode(master_people, b"k" * 32), encode(partner_people, b"k" * 32)
    tables = block_table(blocks(master_people, b"k" * 32)), block_table(blocks(partner_people, b"k" * 32))
    similarity = dice(master, partner)[0]
    strict = link_encoded(master, partner, *tables, link=min(1.0, similarity + 0.01), review=0.5, margin=0.0)
    lenient = link_encoded(master, partner, *tables, link=similarity - 0.01, review=0.5, margin=0.0)
    assert 0.5 < similarity < 1.0
    assert strict["outcome"].tolist() == ["review"] and lenient["outcome"].tolist() == ["linked"]
