"""The model being replaced, scored on the same test rows as the new one, so that the card shows
old and new side by side.

The parent is scored the way the hot path scores it: with its own feature order (its metadata
`feature_names`), through onnxruntime, NaN for a feature the snapshot lacks. A parent that does not
declare `missing_values` = "nan" cannot take NaN; the scorer falls back for such rows instead of
scoring them, so they are left out of its metrics here as well and the card says how many.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from .examples import Examples, feature_matrix
from .onnx_export import onnx_scores, open_session, read_metadata, sha256


class ParentError(ValueError):
    """The parent model cannot be used as the scorer would use it."""


@dataclass(frozen=True)
class ParentModel:
    version: str
    path: Path
    sha256: str
    features: list[str]
    handles_missing: bool
    # Its model card (beside the .onnx as <stem>.card.json), when there is one.
    card: dict | None


def load_parent(path: Path) -> ParentModel:
    if not path.is_file():
        raise ParentError(f"parent model {path} does not exist")
    metadata = read_metadata(onnx.load(str(path), load_external_data=False))
    try:
        features = json.loads(metadata["feature_names"])
    except (KeyError, json.JSONDecodeError):
        raise ParentError(f"parent model {path} has no JSON feature_names metadata: its input order is unknown") from None
    card_path = path.with_name(path.name.removesuffix(".onnx") + ".card.json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else None
    version = (card or {}).get("version") or metadata.get("model_version") or path.stem
    return ParentModel(
        version=version,
        path=path,
        sha256=sha256(path),
        features=list(features),
        handles_missing=metadata.get("missing_values") == "nan",
        card=card,
    )


def score_parent(parent: ParentModel, examples: Examples, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scores, scored): the parent's fraud probabilities for the rows it can take, and which rows those are."""
    x = feature_matrix(examples, parent.features, rows)
    scored = np.ones(len(x), dtype=bool) if parent.handles_missing else ~np.isnan(x).any(axis=1)
    session = open_session(parent.path)
    scores = onnx_scores(session, x[scored]) if scored.any() else np.empty(0, dtype=np.float32)
    return scores, scored
