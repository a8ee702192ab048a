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

Candidate pairs come from locality-sensitive hashing on bits (``BANDS`` bands of
``BAND_BITS`` bit positions drawn from the secret): records whose filters agree on every
sampled bit of some band are compared, so nothing is compared all-against-all; a band key
held by more than ``MAX_BLOCK`` filters on either side is skipped (it is a common pattern,
not evidence, and would make millions of pairs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

import numpy as np
import pandas as pd

BITS = 1024
HASHES = 15
BANDS = 64
BAND_BITS = 20
#: Band keys held by more filters than this on either side are skipped (see candidate_pairs).
MAX_BLOCK = 200
DICE_CHUNK = 250_000
#: Fields a CLK encodes (the partner_people columns), in this order.
FIELDS = ("given_name", "family_name", "birth_date", "postcode")


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
    bits = np.zeros((len(records), BITS), dtype=bool)
    columns = [c for c in FIELDS if c in records.columns]
    for row, values in enumerate(records[columns].itertuples(index=False, name=None)):
        for token in tokens(dict(zip(columns, values, strict=True))):
            if token not in cache:
                cache[token] = _positions(token, secret)
            bits[row, cache[token]] = True
    return np.packbits(bits, axis=1)


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


def candidate_pairs(master: np.ndarray, partner: np.ndarray, secret: bytes) -> pd.DataFrame:
    """``person``, ``record`` (row positions) of pairs whose filters agree on all bits of some band."""
    rng = np.random.default_rng(int.from_bytes(hmac.new(secret, b"lsh-bands", hashlib.sha256).digest()[:8], "big"))
    master_bits, partner_bits = np.unpackbits(master, axis=1), np.unpackbits(partner, axis=1)
    weights = (1 << np.arange(BAND_BITS, dtype=np.int64))
    found = []
    for _ in range(BANDS):
        sample = rng.choice(BITS, BAND_BITS, replace=False)
        left = pd.DataFrame({"key": master_bits[:, sample] @ weights, "person": np.arange(len(master))})
        right = pd.DataFrame({"key": partner_bits[:, sample] @ weights, "record": np.arange(len(partner))})
        # Bit patterns shared by very many filters (common bigrams) say nothing and would make
        # a block of millions of pairs: such keys are left out of this band.
        size = left["key"].map(left["key"].value_counts()).to_numpy()
        left = left.loc[size <= MAX_BLOCK]
        size = right["key"].map(right["key"].value_counts()).to_numpy()
        right = right.loc[size <= MAX_BLOCK]
        found.append(left.merge(right, on="key")[["person", "record"]])
    if not found:
        return pd.DataFrame({"person": [], "record": []}, dtype=np.int64)
    return pd.concat(found, ignore_index=True).drop_duplicates()


def link_encoded(master: np.ndarray, partner: np.ndarray, secret: bytes, *, link: float = 0.8,
                 review: float = 0.7, margin: float = 0.03) -> pd.DataFrame:
    """Best master row per partner row by Dice, with an outcome.

    ``linked`` when the best Dice reaches ``link`` and beats the runner-up by ``margin``;
    ``review`` when it reaches ``review``; else ``unlinked``. Returns ``record``, ``person``
    (NaN when unlinked), ``dice``, ``runner_up``, ``outcome``.
    """
    pairs = candidate_pairs(master, partner, secret)
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
    return out.reset_index()


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
    """`signpost encode`: write ``partner_people_encoded.csv`` (source, local_id, clk) into ``out``; rows written.

    Runs where the partner keeps its data: names, dates of birth and postcodes never leave
    this function except as keyed filters.
    """
    from pathlib import Path

    frame = read_partner_people(raw)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"source": frame["source"], "local_id": frame["local_id"],
                  "clk": to_base64(encode(frame, secret))}).to_csv(out / "partner_people_encoded.csv", index=False)
    return len(frame)
