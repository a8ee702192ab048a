"""The registered recommender: an MLflow pyfunc whose only state is a pickled Signposter.

Input: a DataFrame with a ``pseudonym`` column (64-hex person pseudonyms); param ``k``.
Output: one row per suggestion — pseudonym, rank, service_id, name, score, reason,
means_tested, personalised — ordered by input row then rank. Unknown pseudonyms get
popularity restricted to services open to everyone (personalised = False), never an error.
Serving may skip the DataFrame round trip: ``model.unwrap_python_model().signposter``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

import mlflow
from recommender.signposting import Signposter
from training.portable_pyfunc import log_portable_pyfunc

OUTPUT_COLUMNS = ("pseudonym", "rank", "service_id", "name", "score", "reason", "means_tested", "personalised")
#: A made-up pseudonym for the logged input example: no real person's data leaves the store.
EXAMPLE_PSEUDONYM = hashlib.sha256(b"signpost input example").hexdigest()
ARTIFACT = "signposter"


class SignpostModel(mlflow.pyfunc.PythonModel):
    """Ranked, eligible, explained services per pseudonym."""

    def __init__(self) -> None:
        self.signposter: Signposter | None = None

    def load_context(self, context) -> None:  # mlflow's context type
        self.signposter = Signposter.load(context.artifacts[ARTIFACT])

    def predict(self, context, model_input, params=None):  # see module doc
        if self.signposter is None:
            self.load_context(context)
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if "pseudonym" not in frame:
            raise ValueError("input needs a 'pseudonym' column of 64-hex person pseudonyms")
        k = int((params or {}).get("k", 10))
        pseudonyms = [str(p) for p in frame["pseudonym"]]
        suggestions = self.signposter.suggest(pseudonyms, k=k, unknown="popular")
        return suggestions_frame(pseudonyms, suggestions)


def suggestions_frame(pseudonyms: list[str], suggestions: list[list[Any]]) -> pd.DataFrame:
    """Long format, one row per suggestion, fixed column types."""
    records = [
        {"pseudonym": p, **s.as_dict()} for p, row in zip(pseudonyms, suggestions, strict=True) for s in row
    ]
    frame = pd.DataFrame.from_records(records, columns=list(OUTPUT_COLUMNS))
    return frame.astype(
        {"pseudonym": str, "rank": "int64", "service_id": str, "name": str, "score": "float64",
         "reason": str, "means_tested": bool, "personalised": bool}
    )


def log_signposter(signposter: Signposter, workdir: Path, *, name: str = "model") -> str:
    """Log ``signposter`` as a pyfunc in the active run; returns the model URI."""
    from mlflow.models import infer_signature

    path = signposter.save(Path(workdir) / "signposter.pkl")
    example = pd.DataFrame({"pseudonym": [EXAMPLE_PSEUDONYM]})
    output = suggestions_frame([EXAMPLE_PSEUDONYM], signposter.suggest([EXAMPLE_PSEUDONYM], k=10, unknown="popular"))
    signature = infer_signature(example, output, params={"k": 10})
    info = log_portable_pyfunc(
        SignpostModel(),
        name=name,
        artifacts={ARTIFACT: str(path)},
        signature=signature,
        input_example=example,
    )
    return info.model_uri
