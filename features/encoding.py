"""Linkage without sharing names: keyed Bloom-filter encodings (CLKs) compared by Dice similarity.

For a partner whose agreement forbids sending names, it encodes each record in its own
building (``signpost encode``) and sends only ``source``, ``local_id`` and ``clk``; the council
encodes its master index the same way, with the same secret, and links on the encodings.

Why our own encoder: ``clkhash`` (the well-known one) pins ``cryptography<41``, far behind the
version this project pins for its own security, so it cannot be installed beside it. The
scheme here is the standard one (Schnell et al. 2009), kept small:

- each identifier becomes tokens: names as padded character bigrams (``_s``, ``sm``, ...,
  ``h_``), the date of birth as year, month and day tokens, the postcode as bigrams of its
  compact form; every token is prefixed with its field so that ``jo`` in a given name and in a
  family name set different bits;
- each token sets ``HASHES`` bits of a ``BITS``-bit filter at positions from double hashing
  of HMAC-SHA256(secret, token) — keyed, so nobody without the secret can rebuild the
  filter of a guessed name (a dictionary attack on an unkeyed filter is easy);
- two records are compared by the Dice coefficient of their filters, 2|A∧B| / (|A| + |B|).

Candidate pairs come from keyed blocking values the partner computes beside the filter, with
the same secret (``blocks``: space-separated 64-bit HMACs of the date of birth with the
nickname-canonical given name's initial, the compact postcode, and family name + canonical given
name + birth year — the plaintext linkage's blocking rules, so each catches what the others miss:
a move, a typo, a swapped day and month). Only records that share a value are compared, so the
work grows with the county, not with its square; a value held by more than ``MAX_BLOCK`` records
on either side (a care home's postcode, a common name) is skipped as evidence of nothing. The
date alone made the biggest blocks (a fifth more pairs at 100k residents for the same recall,
and the one kind whose blocks grow with the county); its initial keeps them small.

We measured the alternative first: locality-sensitive hashing on the filters' bits (64 bands of
20 bits) compared ~140 pairs per record at 20k and passed 5 GiB at 100k (the county's shared
postcode prefixes set the same bits in everyone), so its pairs grow with the square.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.names import canonical_names

if TYPE_CHECKING:
    from signpost.settings import Settings

BITS = 1024
HASHES = 15
#: Blocking values held by more records than this on either side are skipped (see candidate_pairs).
MAX_BLOCK = 200
#: Rows encoded at a time (bounds the unpacked bit matrix: ENCODE_CHUNK x BITS bytes).
ENCODE_CHUNK = 50_000
DICE_CHUNK = 250_000
#: Fields a CLK encodes (the partner_people columns), in this order.
FIELDS = ("given_name", "family_name", "birth_date", "postcode")
#: Columns of ``partner_people_encoded`` as ``signpost encode`` writes it.
ENCODED_COLUMNS = ("source", "local_id", "clk", "blocks")


def tokens(record: dict[str, str | None]) -> list[str]:
    """The field-prefixed tokens of one record (blank fields give none)."""
    out: list[str] = []
    for field in ("given_name", "family_name"):
        value = (record.get(field) or "").strip().lower()
        if value:
            padded = f"_{value}_"
            out += [f"{field}:{padded[i:i + 2]}" for i in range(len(padded) - 1)]
    born = (record.get("birth_date") or "").strip()
    if len(born) == 10:
        out += [f"birth_year:{born[:4]}", f"birth_month:{born[5:7]}", f"birth_day:{born[8:10]}"]
    postcode = "".join((record.get("postcode") or "").split()).upper()
    if postcode:
        padded = f"_{postcode}_"
        out += [f"postcode:{padded[i:i + 2]}" for i in range(len(padded) - 1)]
    return out


def _positions(token: str, secret: bytes) -> np.ndarray:
    digest = hmac.new(secret, token.encode(), hashlib.sha256).digest()
    h1, h2 = int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big") | 1
    return np.array([(h1 + i * h2) % BITS for i in range(HASHES)], dtype=np.int64)


def encode(records: pd.DataFrame, secret: bytes) -> np.ndarray:
    """(n, BITS/8) uint8 Bloom filters of the records' ``FIELDS`` (missing columns count as blank)."""
    cache: dict[str, np.ndarray] = {}
    columns = [c for c in FIELDS if c in records.columns]
    out = np.zeros((len(records), BITS // 8), dtype=np.uint8)
    for start in range(0, len(records), ENCODE_CHUNK):  # bounded memory: the bit matrix of one chunk
        chunk = records[columns].iloc[start:start + ENCODE_CHUNK]
        bits = np.zeros((len(chunk), BITS), dtype=bool)
        for row, values in enumerate(chunk.itertuples(index=False, name=None)):
            for token in tokens(dict(zip(columns, values, strict=True))):
                if token not in cache:
                    cache[token] = _positions(token, secret)
                bits[row, cache[token]] = True
        out[start:start + len(chunk)] = np.packbits(bits, axis=1)
    return out


def blocking_values(record: dict[str, str | None], names: dict[str, str]) -> list[str]:
    """The plaintext blocking values of one record (blank parts give none); keyed by :func:`blocks`.

    ``names``: :func:`features.names.canonical_names` (a nickname counts as its formal name).
    """
    given = (record.get("given_name") or "").strip().lower()
    family = (record.get("family_name") or "").strip().lower()
    born = (record.get("birth_date") or "").strip()
    postcode = "".join((record.get("postcode") or "").split()).upper()
    out = []
    if len(born) == 10 and given:
        out.append(f"birth_date:{born}|{names.get(given, given)[:1]}")
    if postcode:
        out.append(f"postcode:{postcode}")
    if given and family and len(born) == 10:
        out.append(f"names:{family}|{names.get(given, given)}|{born[:4]}")
    return out


def blocks(records: pd.DataFrame, secret: bytes) -> list[str]:
    """Per record, its keyed blocking values: space-separated hex of HMAC-SHA256(secret, value)[:8]."""
    columns = [c for c in FIELDS if c in records.columns]
    key = hmac.new(secret, b"blocking", hashlib.sha256).digest()  # not the filters' key: separate uses
    names = canonical_names()
    return [" ".join(hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]
                     for value in blocking_values(dict(zip(columns, values, strict=True)), names))
            for values in records[columns].itertuples(index=False, name=None)]


def block_table(values: Iterable[str]) -> pd.DataFrame:
    """``row``, ``key`` (int64) from per-record ``blocks`` text; a malformed value is refused."""
    rows, keys = [], []
    for row, text in enumerate(values):
        for part in (text or "").split():
            if len(part) != 16:
                raise ValueError("a blocking value is not 16 hex digits: it was made with another linkage schema")
            rows.append(row)
            keys.append(int(part, 16) - (1 << 63))  # into int64's range, order kept
    return pd.DataFrame({"row": np.array(rows, dtype=np.int64), "key": np.array(keys, dtype=np.int64)})


def to_base64(filters: np.ndarray) -> list[str]:
    return [base64.b64encode(row.tobytes()).decode() for row in filters]


def from_base64(values: Iterable[str]) -> np.ndarray:
    """Filters back from their base64 text; a value of the wrong length is refused."""
    rows = [np.frombuffer(base64.b64decode(v, validate=True), dtype=np.uint8) for v in values]
    if any(len(r) != BITS // 8 for r in rows):
        raise ValueError(f"a clk is not {BITS // 8} bytes of base64: it was made with another linkage schema")
    return np.vstack(rows) if rows else np.zeros((0, BITS // 8), dtype=np.uint8)


def dice(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise Dice coefficient of two equally long stacks of packed filters."""
    both = np.bitwise_count(left & right).sum(axis=1)
    total = np.bitwise_count(left).sum(axis=1) + np.bitwise_count(right).sum(axis=1)
    return np.where(total > 0, 2.0 * both / np.maximum(total, 1), 0.0)


def candidate_pairs(master_blocks: pd.DataFrame, partner_blocks: pd.DataFrame) -> pd.DataFrame:
    """``person``, ``record`` (row positions) of pairs sharing a blocking value (:func:`block_table` frames).

    A value held by more than ``MAX_BLOCK`` records on either side is left out: it is a common
    pattern, not evidence, and would make a block of millions of pairs.
    """
    def usable(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.drop_duplicates()
        size = frame["key"].map(frame["key"].value_counts()).to_numpy()
        return frame.loc[size <= MAX_BLOCK]

    left = usable(master_blocks).rename(columns={"row": "person"})
    right = usable(partner_blocks).rename(columns={"row": "record"})
    pairs = left.merge(right, on="key")[["person", "record"]].drop_duplicates()
    return pairs.astype(np.int64).reset_index(drop=True)


def encoded_thresholds(settings: Settings) -> dict[str, float]:
    """The configured Dice thresholds, as :func:`link_encoded`'s keyword arguments."""
    return {"link": settings.linkage_encoded_link_dice, "review": settings.linkage_encoded_review_dice,
            "margin": settings.linkage_encoded_margin}


def link_encoded(master: np.ndarray, partner: np.ndarray, master_blocks: pd.DataFrame,
                 partner_blocks: pd.DataFrame, *, link: float, review: float, margin: float) -> pd.DataFrame:
    """Best master row per partner row by Dice over pairs sharing a blocking value, with an outcome.

    ``linked`` when the best Dice reaches ``link`` and beats the runner-up by ``margin``;
    ``review`` when it reaches ``review``; else ``unlinked``. Returns ``record``, ``person``
    (NaN when unlinked), ``dice``, ``runner_up``, ``outcome``; ``attrs["pairs_compared"]`` is
    the number of candidate pairs scored.
    """
    pairs = candidate_pairs(master_blocks, partner_blocks)
    person, record = pairs["person"].to_numpy(), pairs["record"].to_numpy()
    scores = np.empty(len(pairs))
    for start in range(0, len(pairs), DICE_CHUNK):  # bounded memory: a chunk of filter pairs at a time
        chunk = slice(start, start + DICE_CHUNK)
        scores[chunk] = dice(master[person[chunk]], partner[record[chunk]])
    pairs["dice"] = scores
    pairs = pairs.sort_values(["record", "dice", "person"], ascending=[True, False, True])
    rank = pairs.groupby("record").cumcount()
    best = pairs.loc[rank == 0].set_index("record")
    second = pairs.loc[rank == 1].set_index("record")["dice"]
    out = pd.DataFrame(index=pd.RangeIndex(len(partner), name="record"))
    out["person"] = best["person"]
    out["dice"] = best["dice"].reindex(out.index).fillna(0.0)
    out["runner_up"] = second.reindex(out.index).fillna(0.0)
    clear = out["dice"] - out["runner_up"] >= margin
    out["outcome"] = np.where((out["dice"] >= link) & clear, "linked",
                              np.where(out["dice"] >= review, "review", "unlinked"))
    out.loc[out["outcome"] != "linked", "person"] = np.nan
    out = out.reset_index()
    out.attrs["pairs_compared"] = len(pairs)
    return out


def read_secret(path) -> bytes:
    """The linkage secret agreed between the council and its partners, from a file (at least 16 bytes)."""
    from pathlib import Path

    from signpost.errors import UserError

    try:
        secret = Path(path).read_bytes().strip()
    except OSError as error:
        raise UserError(f"cannot read the linkage secret {path}: {error.strerror}") from None
    if len(secret) < 16:
        raise UserError(f"{path} holds fewer than 16 bytes: agree a long random linkage secret")
    return secret


def read_partner_people(raw) -> pd.DataFrame:
    """The partner's own ``partner_people`` file (CSV or Parquet) as text, blanks as ''."""
    from pathlib import Path

    from signpost.errors import UserError

    raw = Path(raw)
    csv, parquet = raw / "partner_people.csv", raw / "partner_people.parquet"
    if csv.exists():
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    elif parquet.exists():
        frame = pd.read_parquet(parquet).astype("string").fillna("").astype(object)
    else:
        raise UserError(f"{raw} holds no partner_people.csv or .parquet: there is nothing to encode")
    missing = [c for c in ("source", "local_id") if c not in frame.columns]
    if missing:
        raise UserError(f"{raw}/partner_people lacks {', '.join(missing)}: the encoded file must carry them")
    return frame


def encode_folder(raw, out, secret: bytes) -> int:
    """`signpost encode`: write ``partner_people_encoded.csv`` (source, local_id, clk, blocks) into ``out``; rows written.

    Runs where the partner keeps its data: names, dates of birth and postcodes never leave
    this function except as keyed filters.
    """
    from pathlib import Path

    frame = read_partner_people(raw)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"source": frame["source"], "local_id": frame["local_id"], "clk": to_base64(encode(frame, secret)),
                  "blocks": blocks(frame, secret)}).to_csv(out / "partner_people_encoded.csv", index=False)
    return len(frame)
