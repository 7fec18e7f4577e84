"""What a model card records about the training data for the scorer and the drift monitor.

 - reference values: per feature, the training median (NaN ignored). Occlusion explanations
   replace a feature by it to see how much the score moves.
 - reference distributions: quantile histograms of each feature and of the score, against which
   live traffic is compared (PSI).
"""

from __future__ import annotations

import numpy as np

REFERENCE_VALUES_ARE = "training medians (NaN ignored); occlusion explanations replace a feature by this value"


# The hot path scores with onnxruntime-node, the trainer with onnxruntime in Python: they agree to
# a few float32 steps, not to the bit (measured: at most 1.2e-7 on plain boosters, 6e-7 on a hybrid,
# in either direction, the same way for the same score). The scoringParity gate allows 1e-5, but
# that is coarser than the spacing of a tree model's common scores (1e-5 to 2e-5 apart around 0.001):
# it would merge most of a model's low bins. 1e-6 is above every difference measured.
SCORE_TOLERANCE = 1e-6
# A bin edge with at least this share of the sample within the tolerance of it is dropped (its two
# bins merged): a hot path one step off would move that whole share across it.
EDGE_MASS_SHARE = 0.01


def histogram(values: np.ndarray, bins: int = 10, tolerance: float = 0.0) -> dict[str, list[float]]:
    """Quantile bins over the non-missing values, for drift monitoring (PSI) against live traffic.

    Bins are [edges[i], edges[i+1]) (the last one closed), as numpy's and ops/psi.ts binIndex's. The
    inner edges are not the quantiles themselves but the midpoints of the gaps the quantiles fall
    in (between the largest value below a quantile and the smallest at or above it): the same values
    land in the same bins, but no edge sits on a value. A quantile edge of a tree model's scores is
    almost always one: few leaf sums, so one score can be 60 % of the sample and a quantile lands on
    it. A live score a float32 step below that value (another onnxruntime build; a float32 feature
    rounded up where live traffic has the float64) then falls in the bin below, and the score PSI
    of a model against its own test rows was 0.3-4 instead of 0. `tolerance` (the score's: the
    hot path's agreement with the trainer) also drops an edge that has EDGE_MASS_SHARE of the sample
    within it.
    """
    present = values[~np.isnan(values)]
    if len(present) == 0:
        # A feature never present in training: an empty histogram would break PSI, a point mass at 0 does not.
        return {"edges": [0.0, 1.0], "proportions": [1.0]}
    quantiles = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)))
    if len(quantiles) < 2:
        edges = np.array([quantiles[0], quantiles[0] + 1.0])
    else:
        distinct, counts = np.unique(present, return_counts=True)
        inner: list[float] = []
        for q in quantiles[1:-1]:
            above = int(np.searchsorted(distinct, q, side="left"))  # first value >= q: numpy's bin starts there
            low, high = float(distinct[above - 1]), float(distinct[above])
            edge = (low + high) / 2
            if not low < edge < high:
                # Adjacent doubles: no number between them; the value itself keeps numpy's membership.
                edge = high
            near = counts[(distinct >= edge - tolerance) & (distinct <= edge + tolerance)].sum()
            if near >= EDGE_MASS_SHARE * len(present):
                continue
            if not inner or edge > inner[-1]:
                inner.append(edge)
        edges = np.array([float(quantiles[0]), *inner, float(quantiles[-1])])
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
    distributions["__score__"] = histogram(scores.astype(float), bins=20, tolerance=SCORE_TOLERANCE)
    return distributions
