"""What a model card records about the training data for the scorer and the drift monitor.

 - reference values: per feature, the training median (NaN ignored). Occlusion explanations
   replace a feature by it to see how much the score moves.
 - reference distributions: quantile histograms of each feature and of the score, against which
   live traffic is compared (PSI).
"""

from __future__ import annotations

import numpy as np

REFERENCE_VALUES_ARE = "training medians (NaN ignored); occlusion explanations replace a feature by this value"


def histogram(values: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Quantile bins over the non-missing values, for drift monitoring (PSI) against live traffic."""
    present = values[~np.isnan(values)]
    if len(present) == 0:
        # A feature never present in training: an empty histogram would break PSI, a point mass at 0 does not.
        return {"edges": [0.0, 1.0], "proportions": [1.0]}
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0], edges[0] + 1.0])
    counts, _ = np.histogram(present, bins=edges)
    return {"edges": [float(e) for e in edges], "proportions": [float(c) / len(present) for c in counts]}


def reference_values(x: np.ndarray, features: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for i, name in enumerate(features):
        column = x[:, i].astype(float)
        present = column[~np.isnan(column)]
        # Never present: 0 is what the registry's probe run would use as well.
        out[name] = float(np.median(present)) if len(present) else 0.0
    return out


def reference_distributions(x: np.ndarray, features: list[str], scores: np.ndarray) -> dict[str, dict[str, list[float]]]:
    distributions = {name: histogram(x[:, i].astype(float)) for i, name in enumerate(features)}
    distributions["__score__"] = histogram(scores.astype(float), bins=20)
    return distributions
