"""Writing and reading fitted objects (models, the Signposter) as pickles with a format header.

One layout for every artifact, so a file says what it holds before anything trusts it:
``{"format_version": FORMAT_VERSION, "class": <qualified name>, "model": <object>}``.
Unpickling runs code: only load files you wrote yourself (training writes them; serving reads
them from the MLflow registry).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TypeVar

#: Bumped when the layout above changes incompatibly.
FORMAT_VERSION = 1

T = TypeVar("T")


def save(obj: object, path: str | Path) -> Path:
    """Pickle ``obj`` to ``path`` under the format header, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": FORMAT_VERSION, "class": type(obj).__qualname__, "model": obj}
    with path.open("wb") as handle:
        pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load(path: str | Path, expected: type[T]) -> T:
    """Read a file written by :func:`save`; refuses another format or another class.

    Raises
    ------
    ValueError
        The file is not a Signpost artifact of this format (retrain to rewrite it).
    TypeError
        It holds an object of another class than ``expected``.
    """
    with Path(path).open("rb") as handle:
        payload = pickle.load(handle)  # our own artifact
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a Signpost artifact of format {FORMAT_VERSION}; retrain to rewrite it")
    obj = payload["model"]
    if not isinstance(obj, expected):
        raise TypeError(f"{path} holds a {payload.get('class')}, not a {expected.__name__}")
    return obj
