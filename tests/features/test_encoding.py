"""Bloom-filter encodings: keyed, stable, similar records similar; and a quality floor on a county."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.encoding import (
    BITS,
    dice,
    encode,
    encode_folder,
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
    master = encode(PEOPLE.iloc[[0, 2]].reset_index(drop=True), b"k" * 32)
    partner = encode(PEOPLE.iloc[[2, 1]].reset_index(drop=True), b"k" * 32)
    out = link_encoded(master, partner, b"k" * 32).set_index("record")
    assert out.loc[0, "outcome"] == "linked" and out.loc[0, "person"] == 1
    assert out.loc[1, "person"] == 0 or out.loc[1, "outcome"] != "linked"


def test_encode_folder_writes_only_ids_and_clks(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    PEOPLE.assign(source="police", local_id=[f"L{i}" for i in range(4)]).to_csv(raw / "partner_people.csv",
                                                                                 index=False)
    assert encode_folder(raw, tmp_path / "out", b"k" * 32) == 4
    written = pd.read_csv(tmp_path / "out" / "partner_people_encoded.csv", dtype=str)
    assert list(written.columns) == ["source", "local_id", "clk"]
    text = (tmp_path / "out" / "partner_people_encoded.csv").read_text()
    assert "Olivia" not in text and "SO23" not in text and "1990" not in text
    assert np.array_equal(from_base64(written["clk"]), encode(PEOPLE, b"k" * 32))
