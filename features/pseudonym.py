"""Keyed pseudonyms for people and households: the one implementation.

A pseudonym is HMAC-SHA256(key, ``"<kind>:<id>"``) as 64 lowercase hex characters. The kind
prefix separates the namespaces, so a person and a household that share a raw id string get
unrelated pseudonyms. Without the key a pseudonym cannot be reversed or recomputed by
guessing ids (a plain hash of a short council reference could be brute-forced in seconds).

The feature pipeline and the serving API (which pseudonymises the council ids it receives)
both call :func:`pseudonymise`, so the two always agree under the same key.

The key comes from ``SIGNPOST_PSEUDONYM_KEY`` (``settings.pseudonym_key``) or, failing that,
from ``settings.pseudonym_key_file``, which is created with 0600 permissions on first use.
Only the key id (:func:`key_id`, a keyed fingerprint that reveals nothing about the key) is
ever written to outputs or logs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from signpost.errors import UserError

if TYPE_CHECKING:
    from signpost.settings import Settings

Kind = Literal["person", "household", "partner"]
KINDS: tuple[Kind, ...] = ("person", "household", "partner")  # partner: "<source>:<local_id>"

#: Bytes of randomness in a generated key file (256 bits, stored as 64 hex characters).
KEY_BYTES = 32


def pseudonymise(ids: Iterable[str], key: bytes, kind: Kind) -> list[str]:
    """Keyed pseudonyms for raw ids, in the same order.

    Parameters
    ----------
    ids : iterable of str, length n
        Raw council identifiers (person or household references). Must not contain None.
    key : bytes
        The secret key (see :func:`load_key`).
    kind : {"person", "household"}
        Namespace of the ids; the same raw string gives different pseudonyms per kind.

    Returns
    -------
    list of str, length n
        64-character lowercase hex HMAC-SHA256 digests.
    """
    one = pseudonymiser(key, kind)
    return [one(raw) for raw in ids]


def pseudonymiser(key: bytes, kind: Kind) -> Callable[[str], str]:
    """The pseudonym of one raw id at a time, with the key material prepared once.

    Parameters
    ----------
    key : bytes
        The secret key (see :func:`load_key`).
    kind : {"person", "household"}
        Namespace of the ids.

    Returns
    -------
    callable
        Maps one raw id to its 64-character hex pseudonym; the same as :func:`pseudonymise`.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if not key:
        raise ValueError("the pseudonym key is empty")
    # HMAC (RFC 2104) with the key pads hashed once and copied per id: the same digest as
    # hmac.new(key, msg, sha256), about twice as fast for millions of short ids.
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner_start = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer_start = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    inner_start.update(f"{kind}:".encode())

    def one(raw: str) -> str:
        inner = inner_start.copy()
        inner.update(raw.encode())
        outer = outer_start.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    return one


def key_id(key: bytes) -> str:
    """A short, non-reversible fingerprint that says which key made a set of pseudonyms."""
    return hmac.digest(key, b"signpost-key-id", "sha256").hex()[:16]


def load_key(settings: Settings, *, create: bool = True) -> bytes:
    """The pseudonym key: from the environment, else the key file (created 0600 if allowed)."""
    if settings.pseudonym_key is not None:
        value = settings.pseudonym_key.get_secret_value()
        if not value:
            raise UserError("SIGNPOST_PSEUDONYM_KEY is set but empty: set it to a long random string")
        return value.encode()
    path = Path(settings.pseudonym_key_file)
    if not path.exists():
        if not create:
            raise UserError(
                f"no pseudonym key: set SIGNPOST_PSEUDONYM_KEY or run `signpost features` "
                f"first, which creates {path}"
            )
        _create_key_file(path)
    if path.stat().st_mode & 0o077:
        raise UserError(f"{path} is readable by other users: run `chmod 600 {path}`")
    value = path.read_text().strip()
    if not value:
        raise UserError(f"{path} is empty: delete it to have a new key created")
    return value.encode()


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes racing to create the key must not each write their own.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")
